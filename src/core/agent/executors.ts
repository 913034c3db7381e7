/**
 * Executor handlers of the agent core: subscription, exit and shutdown.
 * The lifecycle diagram is in state.ts.
 */
import { type Call_Subscribe, Event_Type } from "../../../gen/mesos/v1/executor/executor_pb.js";
import { TaskState, TaskStatus_Reason } from "../../../gen/mesos/v1/mesos_pb.js";
import type { Millis } from "../clock.js";
import { isTerminalState } from "../task-lifecycle.js";
import { type AgentEffect, toExecutor, toMaster } from "./effects.js";
import { completeExecutor, completeFrameworkIfIdle } from "./history.js";
import { type AgentState, agentInfoWithId, type ExecutorRecord, executorKey, taskKey } from "./state.js";
import { executorUpdate, generateUpdate } from "./tasks.js";

/** Why a subscription was refused, in the words of the v2 Error codes. */
export interface SubscribeRefusal {
  code: "not-found" | "failed-precondition";
  message: string;
}

/** How long a shut-down executor may take before the shell forces it. */
export const EXECUTOR_SHUTDOWN_GRACE_MS = 5000;

/**
 * An executor SUBSCRIBEs (or re-subscribes): it gets SUBSCRIBED, then LAUNCH
 * for each queued task. Updates it lists as unacknowledged are taken in
 * (duplicates are dropped by uuid).
 */
export function executorSubscribed(
  s: AgentState,
  frameworkId: string,
  executorId: string,
  subscribe: Call_Subscribe | undefined,
  now: Millis,
): { effects: AgentEffect[]; refusal?: SubscribeRefusal } {
  const executor = s.executors.get(executorKey(frameworkId, executorId));
  if (executor === undefined) {
    return {
      effects: [],
      refusal: {
        code: "not-found",
        message: `Executor ${executorId} of framework ${frameworkId} is not known to this agent`,
      },
    };
  }
  if (executor.phase === "terminating") {
    return {
      effects: [],
      refusal: { code: "failed-precondition", message: `Executor ${executorId} is shutting down` },
    };
  }
  executor.phase = "running";
  const effects: AgentEffect[] = [
    toExecutor(frameworkId, executorId, {
      type: Event_Type.SUBSCRIBED,
      subscribed: {
        executorInfo: executor.info,
        frameworkInfo: s.frameworks.get(frameworkId),
        agentInfo: agentInfoWithId(s),
        containerId: { value: executor.containerId },
      },
    }),
  ];
  for (const update of subscribe?.unacknowledgedUpdates ?? []) {
    if (update.status !== undefined)
      effects.push(...executorUpdate(s, frameworkId, executorId, update.status, now).effects);
  }
  for (const task of executor.queued.splice(0)) {
    effects.push(toExecutor(frameworkId, executorId, { type: Event_Type.LAUNCH, launch: { task } }));
  }
  return { effects };
}

/** How an executor ended, as the shell observed it. */
export interface ExecutorExit {
  /** POSIX wait status for ExecutorExited. */
  status: number;
  /** "exited with status 1", "terminated with signal SIGKILL", "failed to launch: ...". */
  description: string;
}

/**
 * The executor is gone. Tasks it left without a terminal update are failed
 * (or killed, when a kill was asked for); the master hears ExecutorExited.
 */
export function executorExited(
  s: AgentState,
  frameworkId: string,
  executorId: string,
  exit: ExecutorExit,
  now: Millis,
): AgentEffect[] {
  const executor = s.executors.get(executorKey(frameworkId, executorId));
  if (executor === undefined) return [];
  s.executors.delete(executorKey(frameworkId, executorId));
  const effects: AgentEffect[] = [];
  for (const taskId of executor.tasks) {
    const task = s.tasks.get(taskKey(frameworkId, taskId));
    if (task === undefined || isTerminalState(task.state)) continue;
    const [state, reason] = task.killRequested
      ? [TaskState.TASK_KILLED, TaskStatus_Reason.EXECUTOR_TERMINATED]
      : [TaskState.TASK_FAILED, TaskStatus_Reason.EXECUTOR_TERMINATED];
    effects.push(
      ...generateUpdate(s, frameworkId, taskId, executorId, state, reason, `Executor ${exit.description}`, now),
    );
  }
  effects.push(
    toMaster({
      case: "executorExited",
      value: { frameworkId: { value: frameworkId }, executorId: { value: executorId }, status: exit.status },
    }),
  );
  completeExecutor(s, executor);
  completeFrameworkIfIdle(s, frameworkId);
  return effects;
}

/** Shuts one executor down: SHUTDOWN if it runs, else stop its launch. */
export function shutdownExecutor(s: AgentState, executor: ExecutorRecord, now: Millis): AgentEffect[] {
  const { frameworkId, executorId } = executor;
  const effects: AgentEffect[] = [];
  for (const taskId of executor.tasks) {
    const task = s.tasks.get(taskKey(frameworkId, taskId));
    if (task !== undefined) task.killRequested = true;
  }
  if (executor.phase === "launching") {
    // Never subscribed: its queued tasks never started.
    for (const task of executor.queued.splice(0)) {
      const taskId = task.taskId?.value ?? "";
      effects.push(
        ...generateUpdate(
          s,
          frameworkId,
          taskId,
          executorId,
          TaskState.TASK_KILLED,
          TaskStatus_Reason.TASK_KILLED_DURING_LAUNCH,
          "Executor shut down before it started the task",
          now,
        ),
      );
    }
    executor.phase = "terminating";
    effects.push({ kind: "stop-executor", frameworkId, executorId, graceMs: 0 });
    return effects;
  }
  if (executor.phase === "terminating") return effects;
  executor.phase = "terminating";
  effects.push(toExecutor(frameworkId, executorId, { type: Event_Type.SHUTDOWN }));
  effects.push({ kind: "stop-executor", frameworkId, executorId, graceMs: EXECUTOR_SHUTDOWN_GRACE_MS });
  return effects;
}

/** ShutdownFramework: every executor of the framework is shut down. */
export function shutdownFramework(s: AgentState, frameworkId: string, now: Millis): AgentEffect[] {
  const executors = [...s.executors.values()].filter((e) => e.frameworkId === frameworkId);
  return executors.flatMap((executor) => shutdownExecutor(s, executor, now));
}
