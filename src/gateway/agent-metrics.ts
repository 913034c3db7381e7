/**
 * The agent's metrics, for its /metrics/snapshot and its GET_METRICS alike:
 * Mesos' `slave/*` names for what the agent core can tell, and the host's
 * `system/*` numbers.
 */
import { type Resource, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import type { AgentCore } from "../core/agent/agent-core.js";
import { addResources, scalarOf } from "../core/resources/index.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import { systemMetrics } from "../util/system-metrics.js";

export function agentMetrics(core: AgentCore, startedAt: number, now: number): Record<string, number> {
  const tasks = [...core.state.tasks.values()];
  const executors = [...core.state.executors.values()];
  const used = tasks
    .filter((t) => !isTerminalState(t.state))
    .reduce<Resource[]>((acc, t) => addResources(acc, t.info.resources), []);
  const out: Record<string, number> = {
    "slave/registered": core.state.connected ? 1 : 0,
    "slave/uptime_secs": (now - startedAt) / 1000,
    "slave/frameworks_active": core.state.frameworks.size,
    "slave/executors_running": executors.filter((e) => e.phase === "running").length,
    "slave/executors_registering": executors.filter((e) => e.phase === "launching").length,
    "slave/executors_terminating": executors.filter((e) => e.phase === "terminating").length,
    ...systemMetrics(),
  };
  for (const name of ["cpus", "mem", "disk", "gpus"]) {
    const total = scalarOf(core.state.total, name);
    const u = scalarOf(used, name);
    out[`slave/${name}_total`] = total;
    out[`slave/${name}_used`] = u;
    out[`slave/${name}_percent`] = total === 0 ? 0 : u / total;
  }
  for (const s of [TaskState.TASK_STAGING, TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_KILLING]) {
    out[`slave/${TaskState[s].toLowerCase().replace("task_", "tasks_")}`] = tasks.filter((t) => t.state === s).length;
  }
  return out;
}
