/**
 * Where the master files a task, and the one path that changes a task's
 * state and moves it between places (see ../task-lifecycle.ts for the
 * states and legal moves):
 *
 *                  UNREACHABLE: agent lost
 *        live ───────────────────────────────► unreachable
 *          │  ◄───────────────────────────────     │
 *          │         agent back with the task      │
 *          │ terminal                              │ terminal: agent gone or back
 *          ▼                                       ▼ without it, framework removed
 *      completed ◄─────────────────────────────────┘
 *
 *   live         framework.tasks and its agent's tasks; resources charged
 *   unreachable  framework.unreachable; resources recovered
 *   completed    framework.completed; never left
 *
 * A task is in at most one place, and in exactly one until history forgets
 * it: the unreachable and completed places keep only the newest
 * --max-unreachable-tasks-per-framework and --max-completed-tasks-per-framework
 * tasks of each framework, as Mesos' bounded maps do, so a flood of ended
 * tasks cannot grow the master without end. Resources go back to the
 * allocator when a task leaves its agent's live set, as Mesos recovers them
 * on the move to a terminal or unreachable state.
 */
import { create } from "@bufbuild/protobuf";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Task,
  TaskState,
  type TaskStatus,
  type TaskStatus_Reason,
  TaskStatusSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { toTimeInfo } from "../clock.js";
import { isTerminalState, type Mover, moveTask, type Transition } from "../task-lifecycle.js";
import { broadcastOperators, type Ctx, requestAllocation } from "./context.js";
import { masterStatus, OperatorEventType, operatorEvent } from "./events.js";
import { hasCapability } from "./frameworks.js";
import { type FrameworkRecord, taskKey } from "./state.js";

type Place = "live" | "unreachable" | "completed";

function placeOf(state: TaskState): Place {
  if (isTerminalState(state)) return "completed";
  return state === TaskState.TASK_UNREACHABLE || state === TaskState.TASK_UNKNOWN ? "unreachable" : "live";
}

/** How many statuses a task keeps (the views show the latest ones). */
const STATUSES_KEPT = 10;

/**
 * Applies a status to a task the master holds, live or unreachable: moves
 * its state through the lifecycle, records the status, tells operator
 * subscribers, and refiles the task if its place changed. A refused move
 * changes nothing and is returned as such.
 */
export function applyStatus(
  ctx: Ctx,
  framework: FrameworkRecord,
  task: Task,
  status: TaskStatus,
  by: Mover,
): Transition {
  const from = placeOf(task.state);
  const moved = moveTask(task, status.state, by);
  if (!moved.ok) return moved;
  task.statuses = [...task.statuses.slice(1 - STATUSES_KEPT), status];
  // Master-made statuses carry no uuid and are not part of the agent's stream.
  if (status.uuid.length > 0) {
    task.statusUpdateState = status.state;
    task.statusUpdateUuid = status.uuid;
  }
  broadcastOperators(ctx, () =>
    operatorEvent({
      type: OperatorEventType.TASK_UPDATED,
      taskUpdated: { frameworkId: { value: framework.id }, status, state: task.state },
    }),
  );
  const to = placeOf(task.state);
  if (from !== to) refile(ctx, framework, task, from, to);
  return moved;
}

/**
 * The master ends or parks a task on its own (agent lost or gone, framework
 * removed, launch never reached the agent). A framework that is not
 * partition-aware has a task end in TASK_LOST where the others get the
 * finer state. Returns the status to tell the framework, or undefined if
 * the task had already ended.
 */
export function masterMove(
  ctx: Ctx,
  framework: FrameworkRecord,
  task: Task,
  state: TaskState,
  reason: TaskStatus_Reason,
  message: string,
): TaskStatus | undefined {
  const kept = isTerminalState(state) ? frameworkState(framework, state) : state;
  const status = masterStatus(task.taskId?.value ?? "", kept, reason, message, ctx.now, task.agentId?.value);
  if (task.executorId !== undefined) status.executorId = task.executorId;
  const unreachableSince = ctx.state.unreachableAgents.get(task.agentId?.value ?? "");
  if (state === TaskState.TASK_UNREACHABLE && unreachableSince !== undefined)
    status.unreachableTime = toTimeInfo(unreachableSince);
  return applyStatus(ctx, framework, task, status, "master").ok ? toFramework(framework, status) : undefined;
}

/** States that only partition-aware frameworks understand; the others hear TASK_LOST, as in Mesos. */
const PARTITION_AWARE_STATES: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_UNREACHABLE,
  TaskState.TASK_UNKNOWN,
  TaskState.TASK_DROPPED,
  TaskState.TASK_GONE,
  TaskState.TASK_GONE_BY_OPERATOR,
]);

/** `state` in words the framework knows. */
export function frameworkState(framework: FrameworkRecord, state: TaskState): TaskState {
  if (!PARTITION_AWARE_STATES.has(state) || hasCapability(framework.info, Capability.PARTITION_AWARE)) return state;
  return TaskState.TASK_LOST;
}

/**
 * A master-made status as the framework should see it. The master keeps a
 * task on an unreachable agent as TASK_UNREACHABLE whatever the framework,
 * since the task may come back; a framework that is not partition-aware is
 * told TASK_LOST.
 */
export function toFramework(framework: FrameworkRecord, status: TaskStatus): TaskStatus {
  const state = frameworkState(framework, status.state);
  return state === status.state ? status : create(TaskStatusSchema, { ...status, state });
}

/** The framework's unreachable tasks that ran on `agentId`. */
export function unreachableOn(framework: FrameworkRecord, agentId: string): Task[] {
  const ids = framework.unreachable.byAgent.get(agentId) ?? new Set<string>();
  return [...ids].flatMap((id) => framework.unreachable.byId.get(id) ?? []);
}

function refile(ctx: Ctx, framework: FrameworkRecord, task: Task, from: Place, to: Place): void {
  const taskId = task.taskId?.value ?? "";
  const agentId = task.agentId?.value ?? "";
  if (from === "live") {
    framework.tasks.delete(taskId);
    ctx.state.agents.get(agentId)?.tasks.delete(taskKey(framework.id, taskId));
    ctx.allocator.recoverResources(framework.id, agentId, task.resources);
    requestAllocation(ctx);
  } else if (from === "unreachable") {
    framework.unreachable.byId.delete(taskId);
    const onAgent = framework.unreachable.byAgent.get(agentId);
    onAgent?.delete(taskId);
    if (onAgent?.size === 0) framework.unreachable.byAgent.delete(agentId);
  }
  if (to === "live") {
    framework.tasks.set(taskId, task);
    ctx.state.agents.get(agentId)?.tasks.add(taskKey(framework.id, taskId));
    ctx.allocator.addAllocated(framework.id, agentId, task.resources);
  } else if (to === "unreachable") {
    fileUnreachable(framework, task, ctx.options.maxUnreachableTasksPerFramework ?? DEFAULT_MAX_UNREACHABLE_TASKS);
  } else {
    countEnded(ctx, task.state);
    framework.completed.push(task);
    const limit = ctx.options.maxCompletedTasksPerFramework ?? DEFAULT_MAX_COMPLETED_TASKS;
    if (framework.completed.length > limit) framework.completed.splice(0, framework.completed.length - limit);
  }
}

/**
 * Counts a task that reached a terminal state, also one the master refused
 * before keeping it (a launch that was invalid or had invalid offers), as
 * Mesos' master/tasks_* count them.
 */
export function countEnded(ctx: Ctx, state: TaskState): void {
  ctx.state.endedTasks.set(state, (ctx.state.endedTasks.get(state) ?? 0) + 1);
}

/** Mesos' defaults for the history bounds (MasterCoreOptions). */
export const DEFAULT_MAX_COMPLETED_TASKS = 1000;
export const DEFAULT_MAX_UNREACHABLE_TASKS = 1000;
export const DEFAULT_MAX_COMPLETED_FRAMEWORKS = 50;

/** Files a task as unreachable; past `limit`, the framework's oldest unreachable task is forgotten. */
function fileUnreachable(framework: FrameworkRecord, task: Task, limit: number): void {
  const { byId, byAgent } = framework.unreachable;
  const taskId = task.taskId?.value ?? "";
  byId.set(taskId, task);
  const agentId = task.agentId?.value ?? "";
  const onAgent = byAgent.get(agentId) ?? new Set<string>();
  onAgent.add(taskId);
  byAgent.set(agentId, onAgent);
  // A Map iterates in insertion order: the first entries are the oldest.
  for (const [oldId, old] of byId) {
    if (byId.size <= limit) break;
    byId.delete(oldId);
    const on = byAgent.get(old.agentId?.value ?? "");
    on?.delete(oldId);
    if (on?.size === 0) byAgent.delete(old.agentId?.value ?? "");
  }
}

/** The newest ended task of the framework with this id, if history still holds it. */
export function endedTask(framework: FrameworkRecord, taskId: string): Task | undefined {
  return framework.completed.findLast((t) => t.taskId?.value === taskId);
}

/**
 * Files a removed framework among the completed ones, newest last, keeping
 * the newest --max-completed-frameworks.
 */
export function fileCompletedFramework(ctx: Ctx, framework: FrameworkRecord): void {
  framework.removedAt = ctx.now;
  const completed = ctx.state.completedFrameworks;
  completed.push(framework);
  const limit = ctx.options.maxCompletedFrameworks ?? DEFAULT_MAX_COMPLETED_FRAMEWORKS;
  if (completed.length > limit) completed.splice(0, completed.length - limit);
}
