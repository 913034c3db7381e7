import { create } from "@bufbuild/protobuf";
import {
  type Response_GetAgents,
  type Response_GetAgents_Agent,
  Response_GetAgents_AgentSchema,
  Response_GetAgentsSchema,
  type Response_GetFrameworks_Framework,
  Response_GetFrameworks_FrameworkSchema,
  type Response_GetState,
  ResponseSchema,
} from "../../../gen/mesos/v1/master/master_pb.js";
import { type Resource, type Task, TaskState, type TimeInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { type Millis, toTimeInfo } from "../clock.js";
import { addResources } from "../resources/index.js";
import type { Ctx, MasterState } from "./context.js";
import { type AgentRecord, type FrameworkRecord, splitTaskKey } from "./state.js";

function timeInfo(at: Millis | undefined): TimeInfo | undefined {
  return at === undefined ? undefined : toTimeInfo(at);
}

/** One pass over every resource: adding list by list copied the running sum once per list. */
function sumResources(lists: Resource[][]): Resource[] {
  return addResources([], lists.flat());
}

/** Something derived, with the references it was derived from. */
interface Kept<T> {
  from: readonly unknown[];
  value: T;
}

const same = (a: readonly unknown[], b: readonly unknown[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * `make()` as kept under `key` while `from` holds the same references, in
 * order. The master replaces what changes (a task's statuses, an agent's
 * total, a framework's info) rather than edit it in place, so equal
 * references mean equal inputs.
 *
 * Why: GET_STATE at 20,000 agents summed every agent's and framework's task
 * resources and built every view message anew on each read, most of the
 * read's CPU before anything was encoded; and a view that comes back the
 * same object lets the encoders keep its bytes and JSON (keyed on it).
 */
function kept<K extends object, T>(cache: WeakMap<K, Kept<T>>, key: K, from: readonly unknown[], make: () => T): T {
  const hit = cache.get(key);
  if (hit !== undefined && same(hit.from, from)) return hit.value;
  const value = make();
  cache.set(key, { from, value });
  return value;
}

const usedSums = new WeakMap<object, Kept<Resource[]>>();
const offeredSums = new WeakMap<object, Kept<Resource[]>>();
const agentViews = new WeakMap<AgentRecord, Kept<Response_GetAgents_Agent>>();
const frameworkViews = new WeakMap<FrameworkRecord, Kept<Response_GetFrameworks_Framework>>();

/** The sum of `lists`, kept per owner (an agent's or framework's tasks, its offers). */
function keptSum(cache: WeakMap<object, Kept<Resource[]>>, owner: object, lists: Resource[][]): Resource[] {
  return kept(cache, owner, lists, () => sumResources(lists));
}

function offeredOn(ctx: Ctx, owner: object, ids: Iterable<string>): Resource[] {
  return keptSum(
    offeredSums,
    owner,
    [...ids].map((id) => ctx.state.offers.get(id)?.resources ?? []),
  );
}

/**
 * A framework as GET_FRAMEWORKS shows it; the same object while nothing in
 * it changed. Callers must not modify it.
 */
export function frameworkView(ctx: Ctx, framework: FrameworkRecord): Response_GetFrameworks_Framework {
  const offers = [...framework.offers].flatMap((id) => {
    const record = ctx.state.offers.get(id);
    return record === undefined ? [] : [record.offer];
  });
  const used = keptSum(
    usedSums,
    framework,
    [...framework.tasks.values()].map((t) => t.resources),
  );
  const offered = offeredOn(ctx, framework, framework.offers);
  const active = framework.session !== undefined;
  const from = [
    framework.info,
    active,
    framework.recovered,
    framework.registeredAt,
    framework.reregisteredAt,
    framework.removedAt,
    offered,
    used,
    framework.offerConstraints,
    ...offers,
  ];
  return kept(frameworkViews, framework, from, () =>
    create(Response_GetFrameworks_FrameworkSchema, {
      frameworkInfo: framework.info,
      active,
      connected: active,
      recovered: framework.recovered,
      registeredTime: timeInfo(framework.registeredAt),
      reregisteredTime: timeInfo(framework.reregisteredAt),
      // As in Mesos, only removal unregisters a framework; a disconnected one may come back.
      unregisteredTime: timeInfo(framework.removedAt),
      offers,
      offeredResources: offered,
      // As Mesos: what the framework's tasks use; offers are in offered_resources.
      allocatedResources: used,
      offerConstraints: framework.offerConstraints,
    }),
  );
}

/** An agent as GET_AGENTS shows it; the same object while nothing in it changed. Callers must not modify it. */
export function agentView(ctx: Ctx, agent: AgentRecord): Response_GetAgents_Agent {
  const lists: Resource[][] = [];
  for (const key of agent.tasks) {
    const [frameworkId, taskId] = splitTaskKey(key);
    lists.push(ctx.state.frameworks.get(frameworkId)?.tasks.get(taskId)?.resources ?? []);
  }
  const used = keptSum(usedSums, agent, lists);
  const offered = offeredOn(ctx, agent, agent.offers);
  const active = agent.session !== undefined;
  const from = [
    agent.info,
    active,
    agent.version,
    agent.ip,
    agent.registeredAt,
    agent.reregisteredAt,
    agent.total,
    used,
    offered,
  ];
  return kept(agentViews, agent, from, () =>
    create(Response_GetAgents_AgentSchema, {
      agentInfo: agent.info,
      active,
      deactivated: false,
      version: agent.version,
      pid: `slave(1)@${agent.ip || agent.info.hostname}:${agent.info.port}`,
      registeredTime: timeInfo(agent.registeredAt),
      reregisteredTime: timeInfo(agent.reregisteredAt),
      totalResources: agent.total,
      // As Mesos: what tasks use on the agent; offers are in offered_resources.
      allocatedResources: used,
      offeredResources: offered,
    }),
  );
}

/**
 * GET_AGENTS as Mesos answers it: agents read from the registry that have
 * not re-registered since this master started are `recovered_agents`, known
 * only by their AgentInfo, not agents.
 */
export function agentsView(ctx: Ctx): Response_GetAgents {
  const agents = [...ctx.state.agents.values()];
  return create(Response_GetAgentsSchema, {
    agents: agents.filter((a) => a.restored !== true).map((a) => agentView(ctx, a)),
    recoveredAgents: agents.filter((a) => a.restored === true).map((a) => a.info),
  });
}

export function getState(ctx: Ctx): Response_GetState {
  // Completed frameworks keep their completed tasks, which the views list too (as Mesos' do).
  const frameworks = [...ctx.state.frameworks.values(), ...ctx.state.completedFrameworks];
  // Pushed one by one: a spread and a flatMap per framework copied 400,000 tasks twice.
  const live: Task[] = [];
  const unreachable: Task[] = [];
  const completed: Task[] = [];
  for (const f of frameworks) {
    for (const t of f.tasks.values()) live.push(t);
    for (const t of f.unreachable.byId.values()) unreachable.push(t);
    for (const t of f.completed) completed.push(t);
  }
  const executors = [...ctx.state.agents.values()].flatMap((a) =>
    [...a.executors.values()].map((e) => ({ executorInfo: e.info, agentId: { value: a.id } })),
  );
  return (
    create(ResponseSchema, {
      getState: {
        getTasks: { tasks: live, unreachableTasks: unreachable, completedTasks: completed },
        getExecutors: { executors },
        getFrameworks: {
          frameworks: [...ctx.state.frameworks.values()].map((f) => frameworkView(ctx, f)),
          completedFrameworks: ctx.state.completedFrameworks.map((f) => frameworkView(ctx, f)),
        },
        getAgents: agentsView(ctx),
      },
    }).getState ?? missingPart("state view")
  );
}

/**
 * What the master's metrics need beyond the operator calls: no v1 call
 * lists unreachable agents or counts ended tasks (Mesos' own endpoints read
 * the master's memory for these too).
 */
export interface MasterCounters {
  unreachableAgents: number;
  /** Tasks that reached each terminal state since this master started leading, by state name. */
  endedTasks: Record<string, number>;
}

export function countersView(state: MasterState): MasterCounters {
  const endedTasks: Record<string, number> = {};
  for (const [taskState, n] of state.endedTasks) endedTasks[TaskState[taskState]] = n;
  return { unreachableAgents: state.unreachableAgents.size, endedTasks };
}

/** The views build their messages from a literal: a missing part is a bug in this file. */
function missingPart(what: string): never {
  throw new Error(`the ${what} was not built`);
}
