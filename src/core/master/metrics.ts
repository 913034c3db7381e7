/**
 * The master's metrics (GET_METRICS and /metrics/snapshot): Mesos' metric
 * names, for the ones a Plateau master can tell, from the GET_STATE and
 * GET_MASTER answers and the core's counters (unreachable agents, ended
 * tasks). The host's own numbers (system/*) come from the shell.
 */
import type { Response_GetMaster, Response_GetState } from "../../../gen/mesos/v1/master/master_pb.js";
import { type Resource, type Task, TaskState } from "../../../gen/mesos/v1/mesos_pb.js";
import { addResources, scalarOf } from "../resources/index.js";
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

/** What a leading master reports; `system` is the host's numbers, read by the shell. */
export function masterMetrics(
  state: Response_GetState,
  master: Response_GetMaster,
  now: number,
  counters: MasterCounters,
  system: Metrics = {},
): Metrics {
  const agents = state.getAgents?.agents ?? [];
  const frameworks = state.getFrameworks?.frameworks ?? [];
  const live: Task[] = state.getTasks?.tasks ?? [];
  const total = sum(agents.map((a) => a.totalResources));
  const used = sum(live.map((t) => t.resources));
  const out: Metrics = {
    "master/elected": 1,
    "master/uptime_secs": Math.max(0, now / 1000 - (master.startTime ?? now / 1000)),
    "master/slaves_active": agents.filter((a) => a.active === true).length,
    "master/slaves_inactive": agents.filter((a) => a.active !== true).length,
    "master/slaves_connected": agents.filter((a) => a.active === true).length,
    "master/slaves_disconnected": agents.filter((a) => a.active !== true).length,
    "master/slaves_unreachable": counters.unreachableAgents,
    "master/frameworks_active": frameworks.filter((f) => f.active === true).length,
    "master/frameworks_inactive": frameworks.filter((f) => f.active !== true).length,
    "master/frameworks_connected": frameworks.filter((f) => f.connected === true).length,
    "master/frameworks_disconnected": frameworks.filter((f) => f.connected !== true).length,
    "master/outstanding_offers": frameworks.reduce((n, f) => n + f.offers.length, 0),
    "master/event_queue_messages": 0,
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
  out["master/tasks_unreachable"] = (state.getTasks?.unreachableTasks ?? []).length;
  for (const s of ENDED_STATES) out[metricName(s)] = counters.endedTasks[TaskState[s]] ?? 0;
  return out;
}
