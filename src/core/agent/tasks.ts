/**
 * Task handlers of the agent core: RunTask, KillTask, status updates from
 * executors and acknowledgements from the master.
 */
import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import { Event_Type } from "../../../gen/mesos/v1/executor/executor_pb.js";
import {
  ExecutorInfo_Type,
  ExecutorInfoSchema,
  type FrameworkInfo,
  FrameworkInfo_Capability_Type,
  type KillPolicy,
  type Resource,
  type TaskInfo,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
  TaskStatusSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { Millis } from "../clock.js";
import { isTerminalState, LAUNCH_STATE, moveTask, transition } from "../task-lifecycle.js";
import { type AgentEffect, statusUpdateEffect, toExecutor } from "./effects.js";
import { completeFrameworkIfIdle, completeTask } from "./history.js";
import { volumeLinks } from "./operations.js";
import { type AgentState, type ExecutorRecord, executorKey, sandboxPath, type TaskRecord, taskKey } from "./state.js";
import { agentStatus } from "./states.js";

/** Ids that become path segments must not escape the sandbox tree. */
function badId(id: string): boolean {
  return id === "" || id === "." || id === ".." || id.includes("/") || id.includes("\0");
}

/** True when the framework opted into TASK_KILLING. */
export function hasCapability(info: FrameworkInfo | undefined, type: FrameworkInfo_Capability_Type): boolean {
  return info?.capabilities.some((c) => c.type === type) ?? false;
}

/** Queues an agent-generated update for a task and returns the effects to send it. */
export function generateUpdate(
  s: AgentState,
  frameworkId: string,
  taskId: string,
  executorId: string | undefined,
  state: TaskState,
  reason: TaskStatus_Reason,
  message: string,
  now: Millis,
): AgentEffect[] {
  const status = agentStatus({
    taskId,
    state,
    reason,
    message,
    agentId: s.agentId,
    executorId,
    uuid: s.options.uuid(),
    now,
  });
  return queueUpdate(s, frameworkId, status, now);
}

/**
 * Records an update (from an executor or the agent) and flushes what is due.
 * An update the task's lifecycle refuses (anything after its terminal
 * update, a step back such as TASK_RUNNING after TASK_KILLING) is dropped,
 * as Mesos' agent drops it, so the master and the scheduler only ever see
 * legal moves from this agent.
 */
export function queueUpdate(s: AgentState, frameworkId: string, status: TaskStatus, now: Millis): AgentEffect[] {
  const task = s.tasks.get(taskKey(frameworkId, status.taskId?.value ?? ""));
  if (task !== undefined && !transition(task.state, status.state, "agent").ok) return flush(s, now);
  const result = s.updates.add(frameworkId, status, now);
  if (result === "queued" && task !== undefined) moveTask(task, status.state, "agent");
  return flush(s, now);
}

/** Status updates due for (re)sending, if the master is reachable. */
export function flush(s: AgentState, now: Millis): AgentEffect[] {
  if (!s.connected) return [];
  return s.updates.due(now).map((u) => statusUpdateEffect(u.frameworkId, u.status));
}

/** RunTask: validates, then queues the task on a new or existing executor. */
export function runTask(s: AgentState, framework: FrameworkInfo, task: TaskInfo, now: Millis): AgentEffect[] {
  const frameworkId = framework.id?.value ?? "";
  const taskId = task.taskId?.value ?? "";
  const custom = task.executor;
  const executorId = custom === undefined ? taskId : (custom.executorId?.value ?? "");
  if (s.agentId === undefined || s.tasks.has(taskKey(frameworkId, taskId))) return [];
  const problem =
    badId(frameworkId) || badId(taskId) || badId(executorId)
      ? "Task, executor and framework ids must be non-empty and contain no '/'"
      : (custom === undefined) === (task.command === undefined)
        ? "Task must have exactly one of command and executor"
        : custom !== undefined && custom.command === undefined
          ? "Custom ExecutorInfo needs a command"
          : undefined;
  if (problem !== undefined) {
    return generateUpdate(
      s,
      frameworkId,
      taskId,
      undefined,
      TaskState.TASK_ERROR,
      TaskStatus_Reason.TASK_INVALID,
      problem,
      now,
    );
  }
  s.frameworks.set(frameworkId, framework);
  const record: TaskRecord = {
    frameworkId,
    executorId,
    info: task,
    state: LAUNCH_STATE,
    killRequested: false,
    killPolicy: task.killPolicy,
  };
  const existing = s.executors.get(executorKey(frameworkId, executorId));
  if (existing !== undefined) return addToExecutor(s, existing, record, now);
  s.tasks.set(taskKey(frameworkId, taskId), record);
  const containerId = s.options.ids.next("container");
  const info =
    custom ??
    create(ExecutorInfoSchema, {
      type: ExecutorInfo_Type.DEFAULT,
      executorId: { value: executorId },
      frameworkId: { value: frameworkId },
      name: `Command Executor (Task: ${taskId}) (Command: ${commandSummary(task)})`,
      resources: task.resources,
    });
  const executor: ExecutorRecord = {
    frameworkId,
    executorId,
    containerId,
    sandbox: sandboxPath(s.options.workDir, { agentId: s.agentId, frameworkId, executorId, containerId }),
    kind: custom === undefined ? "command" : "custom",
    info,
    phase: "launching",
    queued: [task],
    tasks: new Set([taskId]),
    completedTasks: [],
  };
  s.executors.set(executorKey(frameworkId, executorId), executor);
  const { sandbox, kind } = executor;
  return [
    ...linkVolumes(s, sandbox, [...task.resources, ...info.resources]),
    {
      kind: "launch-executor",
      launch: {
        frameworkId,
        executorId,
        containerId,
        sandbox,
        agentId: s.agentId,
        kind,
        info,
        frameworkInfo: framework,
      },
    },
  ];
}

/** A further task for an executor that already exists (custom executors only). */
function addToExecutor(s: AgentState, executor: ExecutorRecord, record: TaskRecord, now: Millis): AgentEffect[] {
  const taskId = record.info.taskId?.value ?? "";
  if (executor.kind === "command" || executor.phase === "terminating") {
    const reason =
      executor.phase === "terminating" ? "its executor is shutting down" : "a command executor runs one task";
    return generateUpdate(
      s,
      record.frameworkId,
      taskId,
      executor.executorId,
      TaskState.TASK_LOST,
      TaskStatus_Reason.EXECUTOR_TERMINATED,
      `Task cannot run: ${reason}`,
      now,
    );
  }
  s.tasks.set(taskKey(record.frameworkId, taskId), record);
  executor.tasks.add(taskId);
  const links = linkVolumes(s, executor.sandbox, record.info.resources);
  if (executor.phase === "launching") {
    executor.queued.push(record.info);
    return links;
  }
  return [
    ...links,
    toExecutor(executor.frameworkId, executor.executorId, { type: Event_Type.LAUNCH, launch: { task: record.info } }),
  ];
}

/** Persistent volumes among `resources`, linked into the sandbox before the task can use them. */
function linkVolumes(s: AgentState, sandbox: string, resources: Resource[]): AgentEffect[] {
  const volumes = volumeLinks(s.options.workDir, resources);
  return volumes.length === 0 ? [] : [{ kind: "link-volumes", sandbox, volumes }];
}

function commandSummary(task: TaskInfo): string {
  const command = task.command;
  if (command === undefined) return "";
  return command.shell === false
    ? `[${[command.value, ...command.arguments.slice(1)].join(", ")}]`
    : `sh -c '${command.value}'`;
}

/** The grace period of a kill: the kill's policy, else the task's, else 3 s. */
export function graceMs(policy: KillPolicy | undefined, fallback: KillPolicy | undefined): number {
  const ns = policy?.gracePeriod?.nanoseconds ?? fallback?.gracePeriod?.nanoseconds;
  return ns === undefined ? 3000 : Number(ns / 1_000_000n);
}

/** KillTask: kills a launched task, drops a queued one, reports an unknown one. */
export function killTask(
  s: AgentState,
  frameworkId: string,
  taskId: string,
  policy: KillPolicy | undefined,
  now: Millis,
): AgentEffect[] {
  const task = s.tasks.get(taskKey(frameworkId, taskId));
  if (task === undefined) {
    const partitionAware = hasCapability(s.frameworks.get(frameworkId), FrameworkInfo_Capability_Type.PARTITION_AWARE);
    const state = partitionAware ? TaskState.TASK_DROPPED : TaskState.TASK_LOST;
    return generateUpdate(
      s,
      frameworkId,
      taskId,
      undefined,
      state,
      TaskStatus_Reason.TASK_UNKNOWN,
      "Cannot find task to kill",
      now,
    );
  }
  if (isTerminalState(task.state)) return [];
  task.killRequested = true;
  const executor = s.executors.get(executorKey(frameworkId, task.executorId));
  if (executor === undefined) return [];
  const queuedAt = executor.queued.findIndex((t) => t.taskId?.value === taskId);
  if (queuedAt >= 0) {
    executor.queued.splice(queuedAt, 1);
    const out = generateUpdate(
      s,
      frameworkId,
      taskId,
      executor.executorId,
      TaskState.TASK_KILLED,
      TaskStatus_Reason.TASK_KILLED_DURING_LAUNCH,
      "Killed before the executor started it",
      now,
    );
    if (executor.queued.length === 0 && executor.kind === "command") {
      out.push({ kind: "stop-executor", frameworkId, executorId: executor.executorId, graceMs: 0 });
    }
    return out;
  }
  const killPolicy = policy ?? task.killPolicy;
  return [
    toExecutor(frameworkId, executor.executorId, {
      type: Event_Type.KILL,
      kill: { taskId: { value: taskId }, killPolicy },
    }),
  ];
}

/**
 * An UPDATE call from an executor: recorded, then acknowledged to the
 * executor, even when the task's lifecycle refused it (the executor must
 * not resend what will never be taken).
 */
export function executorUpdate(
  s: AgentState,
  frameworkId: string,
  executorId: string,
  status: TaskStatus,
  now: Millis,
): { effects: AgentEffect[]; error?: string } {
  const taskId = status.taskId?.value ?? "";
  if (status.uuid.length === 0) return { effects: [], error: "UPDATE needs status.uuid" };
  const task = s.tasks.get(taskKey(frameworkId, taskId));
  if (task === undefined || task.executorId !== executorId) {
    return { effects: [], error: `Task ${taskId} is not known for executor ${executorId}` };
  }
  const stamped = clone(TaskStatusSchema, status);
  stamped.agentId = s.agentId === undefined ? undefined : { $typeName: "mesos.v1.AgentID", value: s.agentId };
  stamped.executorId = { $typeName: "mesos.v1.ExecutorID", value: executorId };
  const effects = queueUpdate(s, frameworkId, stamped, now);
  // The agent now owns delivery: the executor may forget the update.
  effects.push(
    toExecutor(frameworkId, executorId, {
      type: Event_Type.ACKNOWLEDGED,
      acknowledged: { taskId: { value: taskId }, uuid: status.uuid },
    }),
  );
  return { effects };
}

/** Acknowledge from the master: the next update of the task goes out. */
export function acknowledge(
  s: AgentState,
  frameworkId: string,
  taskId: string,
  uuid: Uint8Array,
  now: Millis,
): AgentEffect[] {
  const result = s.updates.acknowledge(frameworkId, taskId, uuid, now);
  if (result.kind === "acknowledged" && result.terminal) forgetTask(s, frameworkId, taskId);
  return flush(s, now);
}

/**
 * The master holds tasks here that the agent did not report when it
 * registered (it restarted, or was wiped, or the launch never arrived). Each
 * one it does not know ends through its own status update stream, so the
 * framework hears of it even across disconnections; one it knows (it
 * launched since) is left alone.
 */
export function reconcileTasks(s: AgentState, framework: FrameworkInfo, taskIds: string[], now: Millis): AgentEffect[] {
  const frameworkId = framework.id?.value ?? "";
  const state = hasCapability(framework, FrameworkInfo_Capability_Type.PARTITION_AWARE)
    ? TaskState.TASK_DROPPED
    : TaskState.TASK_LOST;
  const effects: AgentEffect[] = [];
  for (const taskId of taskIds) {
    if (s.tasks.has(taskKey(frameworkId, taskId)) || s.updates.latest(frameworkId, taskId) !== undefined) continue;
    const message = "Reconciliation: task is unknown to the agent";
    effects.push(
      ...generateUpdate(s, frameworkId, taskId, undefined, state, TaskStatus_Reason.RECONCILIATION, message, now),
    );
  }
  return effects;
}

/** Drops a finished task (and its framework once it has nothing left here). */
export function forgetTask(s: AgentState, frameworkId: string, taskId: string): void {
  const task = s.tasks.get(taskKey(frameworkId, taskId));
  s.tasks.delete(taskKey(frameworkId, taskId));
  if (task !== undefined) {
    s.executors.get(executorKey(frameworkId, task.executorId))?.tasks.delete(taskId);
    completeTask(s, task);
  }
  completeFrameworkIfIdle(s, frameworkId);
}

/** Initial shape of a status update, for callers building one. */
export type StatusInit = MessageInitShape<typeof TaskStatusSchema>;
