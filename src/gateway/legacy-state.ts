/**
 * /master/state as Mesos writes it (its head, `slaves`, `frameworks` with
 * their tasks, ...), as a streamed document (json-stream.ts): the lists are
 * made while written, from one GET_STATE snapshot.
 *
 * Everything here costs what the state is, once: tasks are sorted out by
 * agent and by framework in one pass each (a filter per agent cost agents ×
 * tasks: 20,000 × 400,000 at Mesos' benchmark size).
 */
import type { Response_GetAgents_Agent as Agent, Response } from "../../gen/mesos/v1/master/master_pb.js";
import type { Resource, Task } from "../../gen/mesos/v1/mesos_pb.js";
import type { MasterCounters } from "../core/master/views.js";
import { addResources } from "../core/resources/index.js";
import type { JsonObject } from "./json.js";
import { type LazyList, lazyList, RawJson, StreamedObject } from "./json-stream.js";
import {
  agentFullModel,
  agentModel,
  type FrameworkTasks,
  frameworkModel,
  recoveredAgentModel,
} from "./legacy-model.js";

/** One consistent look at the master, from the operator calls. */
export interface Snapshot {
  state: NonNullable<Response["getState"]>;
  master: NonNullable<Response["getMaster"]>;
  flags: JsonObject;
  roles: NonNullable<Response["getRoles"]>;
  /** Mesos' version fields (version, build_date, build_time, build_user). */
  version: JsonObject;
  counters: MasterCounters;
}

export function liveTasks(s: Snapshot): Task[] {
  return s.state.getTasks?.tasks ?? [];
}

/** Live, unreachable and completed tasks. */
export function knownTasks(s: Snapshot): Task[] {
  return [...liveTasks(s), ...(s.state.getTasks?.unreachableTasks ?? []), ...(s.state.getTasks?.completedTasks ?? [])];
}

/** Groups `items` by `key` in one pass. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}

/** What the live tasks on each agent use, by agent id. */
function usedByAgent(s: Snapshot): (agentId: string) => Resource[] {
  const byAgent = groupBy(liveTasks(s), (t) => t.agentId?.value ?? "");
  return (agentId) =>
    addResources(
      [],
      (byAgent.get(agentId) ?? []).flatMap((t) => t.resources),
    );
}

/**
 * An agent's /master/state text, kept by its view: the core hands out the
 * same view while nothing in it changed (core/master/views.ts), and what
 * its tasks use is in the view (`allocated_resources`).
 */
const agentTexts = new WeakMap<Agent, RawJson>();

function agentJson(agent: Agent): RawJson {
  let text = agentTexts.get(agent);
  if (text === undefined) {
    text = new RawJson(JSON.stringify(agentModel(agent, agent.allocatedResources)));
    agentTexts.set(agent, text);
  }
  return text;
}

/** The agents as /master/state shows them, or with `full` resources as /master/slaves does, one at a time. */
export function agentModels(s: Snapshot, full = false): LazyList {
  const agents = s.state.getAgents?.agents ?? [];
  if (!full) return lazyList(agents, agentJson);
  const used = usedByAgent(s);
  return lazyList(agents, (agent) => agentFullModel(agent, used(agent.agentInfo?.id?.value ?? "")));
}

export function recoveredAgentModels(s: Snapshot): JsonObject[] {
  return (s.state.getAgents?.recoveredAgents ?? []).map(recoveredAgentModel);
}

/**
 * Each framework's tasks and executors, sorted out in one pass: completed
 * frameworks bring up to thousands of tasks each, and a filter per framework
 * would cost frameworks × tasks.
 */
export function tasksByFramework(s: Snapshot): (frameworkId: string) => FrameworkTasks {
  const byFramework = new Map<string, FrameworkTasks>();
  const of = (frameworkId: string): FrameworkTasks => {
    let entry = byFramework.get(frameworkId);
    if (entry === undefined) {
      entry = { tasks: [], unreachable: [], completed: [], executors: [] };
      byFramework.set(frameworkId, entry);
    }
    return entry;
  };
  const tasks = s.state.getTasks;
  for (const t of tasks?.tasks ?? []) of(t.frameworkId?.value ?? "").tasks.push(t);
  for (const t of tasks?.unreachableTasks ?? []) of(t.frameworkId?.value ?? "").unreachable.push(t);
  for (const t of tasks?.completedTasks ?? []) of(t.frameworkId?.value ?? "").completed.push(t);
  for (const e of s.state.getExecutors?.executors ?? []) {
    if (e.executorInfo !== undefined)
      of(e.executorInfo.frameworkId?.value ?? "").executors.push({
        info: e.executorInfo,
        agentId: e.agentId?.value ?? "",
      });
  }
  return of;
}

/** /master/state (Mesos' `state` endpoint), written as it is made. */
export function stateDocument(s: Snapshot): StreamedObject {
  const info = s.master.masterInfo;
  const agents = s.state.getAgents?.agents ?? [];
  const frameworks = s.state.getFrameworks;
  const leader = { id: info?.id ?? "", pid: info?.pid ?? "", port: info?.port ?? 0, hostname: info?.hostname ?? "" };
  const tasksOf = tasksByFramework(s);
  type Framework = NonNullable<typeof frameworks>["frameworks"][number];
  const framework = (f: Framework) => frameworkModel(f, tasksOf(f.frameworkInfo?.id?.value ?? ""));
  const active = agents.filter((a) => a.active === true).length;
  return new StreamedObject([
    ...Object.entries(s.version),
    ["start_time", s.master.startTime ?? 0],
    ["elected_time", s.master.electedTime ?? 0],
    ["id", leader.id],
    ["pid", leader.pid],
    ["hostname", leader.hostname],
    ["capabilities", []],
    ["activated_slaves", active],
    ["deactivated_slaves", agents.length - active],
    ["unreachable_slaves", s.counters.unreachableAgents],
    ["leader", leader.pid],
    ["leader_info", leader],
    ["flags", s.flags],
    ["slaves", agentModels(s)],
    ["recovered_slaves", recoveredAgentModels(s)],
    ["frameworks", lazyList(frameworks?.frameworks ?? [], framework)],
    ["completed_frameworks", lazyList(frameworks?.completedFrameworks ?? [], framework)],
    ["orphan_tasks", []],
    ["unregistered_frameworks", []],
  ]);
}
