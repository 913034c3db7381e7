/**
 * The master's metrics (GET_METRICS and /metrics/snapshot): Mesos' metric
 * names, for the ones a Plateau master can tell, from its books and
 * counters (unreachable agents, ended tasks). The host's own numbers
 * (system/*) come from the shell. Mesos' master/event_queue_* are not
 * reported: the term runner's queue is the shell's, not the core's.
 */
import { type Resource, TaskState } from "../../../gen/mesos/v1/mesos_pb.js";
import type { Millis } from "../clock.js";
import { addResources, scalarOf } from "../resources/index.js";
import type { MasterState } from "./context.js";
import type { MasterCounters } from "./views.js";

/** Metric names to values, as /metrics/snapshot writes them. */
export type Metrics = Record<string, number>;

/** The task states Mesos counts in summaries and metrics. */
export const SUMMARY_STATES = [
  TaskState.TASK_STAGING,
  TaskState.TASK_STARTING,
  TaskState.TASK_RUNNING,
  TaskState.TASK_KILLING,
  TaskState.TASK_FINISHED,
  TaskState.TASK_KILLED,
  TaskState.TASK_FAILED,
  TaskState.TASK_LOST,
  TaskState.TASK_ERROR,
];

const sum = (lists: Resource[][]): Resource[] => lists.reduce<Resource[]>((acc, r) => addResources(acc, r), []);

/** Gauges: how many live tasks are in each state now. */
const ACTIVE_STATES = [TaskState.TASK_STAGING, TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_KILLING];

/** Counters: how many tasks reached each terminal state since the master started leading. */
const ENDED_STATES = [
  TaskState.TASK_FINISHED,
  TaskState.TASK_FAILED,
  TaskState.TASK_KILLED,
  TaskState.TASK_LOST,
  TaskState.TASK_ERROR,
  TaskState.TASK_DROPPED,
  TaskState.TASK_GONE,
  TaskState.TASK_GONE_BY_OPERATOR,
];

/** `master/tasks_running` for TASK_RUNNING. */
const metricName = (state: TaskState): string => `master/${TaskState[state].toLowerCase().replace("task_", "tasks_")}`;

/**
 * What the metrics are computed from: counts and sums over the master's
 * books, read straight from them, since scrapers ask every few seconds and
 * a whole GET_STATE (every task, completed ones included) would cost what
 * the history is.
 */
export interface MetricsInput {
  startedAt: Millis;
  /** Agents that registered with this master (not those still expected from the registry). */
  agents: { active: boolean; total: Resource[] }[];
  frameworks: { active: boolean; offers: number }[];
  liveTasks: { state: TaskState; resources: Resource[] }[];
  unreachableTasks: number;
}

/** The books' part that metrics need. */
export function metricsInput(state: MasterState): MetricsInput {
  const frameworks = [...state.frameworks.values()];
  return {
    startedAt: state.startedAt,
    agents: [...state.agents.values()]
      .filter((a) => a.restored !== true)
      .map((a) => ({ active: a.session !== undefined, total: a.total })),
    frameworks: frameworks.map((f) => ({ active: f.session !== undefined, offers: f.offers.size })),
    liveTasks: frameworks.flatMap((f) => [...f.tasks.values()]),
    unreachableTasks: frameworks.reduce((n, f) => n + f.unreachable.byId.size, 0),
  };
}

/** What a leading master reports; `system` is the host's numbers, read by the shell. */
export function masterMetrics(
  input: MetricsInput,
  now: Millis,
  counters: MasterCounters,
  system: Metrics = {},
): Metrics {
  const { agents, frameworks, liveTasks: live } = input;
  const total = sum(agents.map((a) => a.total));
  const used = sum(live.map((t) => t.resources));
  const out: Metrics = {
    "master/elected": 1,
    "master/uptime_secs": Math.max(0, (now - input.startedAt) / 1000),
    "master/slaves_active": agents.filter((a) => a.active).length,
    "master/slaves_inactive": agents.filter((a) => !a.active).length,
    "master/slaves_connected": agents.filter((a) => a.active).length,
    "master/slaves_disconnected": agents.filter((a) => !a.active).length,
    "master/slaves_unreachable": counters.unreachableAgents,
    "master/frameworks_active": frameworks.filter((f) => f.active).length,
    "master/frameworks_inactive": frameworks.filter((f) => !f.active).length,
    "master/frameworks_connected": frameworks.filter((f) => f.active).length,
    "master/frameworks_disconnected": frameworks.filter((f) => !f.active).length,
    "master/outstanding_offers": frameworks.reduce((n, f) => n + f.offers, 0),
    ...system,
  };
  for (const name of ["cpus", "mem", "disk", "gpus"]) {
    const t = scalarOf(total, name);
    const u = scalarOf(used, name);
    out[`master/${name}_total`] = t;
    out[`master/${name}_used`] = u;
    out[`master/${name}_percent`] = t === 0 ? 0 : u / t;
  }
  for (const s of ACTIVE_STATES) out[metricName(s)] = live.filter((t) => t.state === s).length;
  out["master/tasks_unreachable"] = input.unreachableTasks;
  for (const s of ENDED_STATES) out[metricName(s)] = counters.endedTasks[TaskState[s]] ?? 0;
  return out;
}
