import { create } from "@bufbuild/protobuf";
import {
  type Response_GetAgents,
  type Response_GetAgents_Agent,
  Response_GetAgentsSchema,
  type Response_GetFrameworks_Framework,
  type Response_GetState,
  ResponseSchema,
} from "../../../gen/mesos/v1/master/master_pb.js";
import { type Resource, TaskState, type TimeInfo } from "../../../gen/mesos/v1/mesos_pb.js";
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

function offeredOn(ctx: Ctx, ids: Iterable<string>): Resource[] {
  return sumResources([...ids].map((id) => ctx.state.offers.get(id)?.resources ?? []));
}

export function frameworkView(ctx: Ctx, framework: FrameworkRecord): Response_GetFrameworks_Framework {
  const offers = [...framework.offers].flatMap((id) => {
    const record = ctx.state.offers.get(id);
    return record === undefined ? [] : [record.offer];
  });
  const used = sumResources([...framework.tasks.values()].map((t) => t.resources));
  const offered = offeredOn(ctx, framework.offers);
  return (
    create(ResponseSchema, {
      getFrameworks: {
        frameworks: [
          {
            frameworkInfo: framework.info,
            active: framework.session !== undefined,
            connected: framework.session !== undefined,
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
          },
        ],
      },
    }).getFrameworks?.frameworks[0] ?? missingPart("framework view")
  );
}

export function agentView(ctx: Ctx, agent: AgentRecord): Response_GetAgents_Agent {
  const used = sumResources(
    [...agent.tasks].map((key) => {
      const [frameworkId, taskId] = splitTaskKey(key);
      return ctx.state.frameworks.get(frameworkId)?.tasks.get(taskId)?.resources ?? [];
    }),
  );
  const offered = offeredOn(ctx, agent.offers);
  return (
    create(ResponseSchema, {
      getAgents: {
        agents: [
          {
            agentInfo: agent.info,
            active: agent.session !== undefined,
            deactivated: false,
            version: agent.version,
            pid: `slave(1)@${agent.ip || agent.info.hostname}:${agent.info.port}`,
            registeredTime: timeInfo(agent.registeredAt),
            reregisteredTime: timeInfo(agent.reregisteredAt),
            totalResources: agent.total,
            // As Mesos: what tasks use on the agent; offers are in offered_resources.
            allocatedResources: used,
            offeredResources: offered,
          },
        ],
      },
    }).getAgents?.agents[0] ?? missingPart("agent view")
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
  const live = frameworks.flatMap((f) => [...f.tasks.values()]);
  const unreachable = frameworks.flatMap((f) => [...f.unreachable.byId.values()]);
  const completed = frameworks.flatMap((f) => f.completed);
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
