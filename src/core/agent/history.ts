/**
 * What the agent remembers of work that ended, for its /state endpoint, as
 * Mesos' agent keeps it:
 *
 *   task acknowledged terminal ──► its executor's completedTasks (newest 200)
 *   executor exited            ──► its framework's completed executors
 *                                  (newest --max-completed-executors-per-framework)
 *   framework with no task and
 *   no executor left           ──► completed frameworks (newest 50), taking
 *                                  its completed executors along
 *
 * History is memory only: an agent restart forgets it, as Mesos' does for
 * what it did not checkpoint.
 */
import type { FrameworkInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import type { AgentState, ExecutorRecord, TaskRecord } from "./state.js";

/** Mesos' MAX_COMPLETED_TASKS_PER_EXECUTOR. */
export const MAX_COMPLETED_TASKS_PER_EXECUTOR = 200;
/** Mesos' MAX_COMPLETED_FRAMEWORKS (an agent constant, not a flag). */
export const MAX_COMPLETED_FRAMEWORKS = 50;
/** Mesos' default for --max_completed_executors_per_framework. */
export const DEFAULT_MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150;

/** A framework that has nothing left on this agent. */
export interface CompletedFramework {
  info: FrameworkInfo;
  /** Oldest first. */
  completedExecutors: ExecutorRecord[];
}

/** The agent's history (see the diagram above). */
export interface AgentHistory {
  /** Exited executors of frameworks still here, oldest first, by framework id. */
  completedExecutors: Map<string, ExecutorRecord[]>;
  /** Oldest first. */
  completedFrameworks: CompletedFramework[];
}

export function emptyHistory(): AgentHistory {
  return { completedExecutors: new Map(), completedFrameworks: [] };
}

function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

/**
 * A task whose terminal update the master acknowledged: it joins its
 * executor's completed tasks, the executor live or already exited.
 */
export function completeTask(s: AgentState, task: TaskRecord): void {
  const executor =
    s.executors.get(`${task.frameworkId}/${task.executorId}`) ??
    s.history.completedExecutors.get(task.frameworkId)?.findLast((e) => e.executorId === task.executorId);
  if (executor === undefined) return;
  executor.tasks.delete(task.info.taskId?.value ?? "");
  pushBounded(executor.completedTasks, task, MAX_COMPLETED_TASKS_PER_EXECUTOR);
}

/** An executor exited (the caller has taken it out of `s.executors`). */
export function completeExecutor(s: AgentState, executor: ExecutorRecord): void {
  // What it never launched has ended with it (executorExited sent those updates).
  executor.queued.splice(0);
  const limit = s.options.maxCompletedExecutorsPerFramework ?? DEFAULT_MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK;
  const list = s.history.completedExecutors.get(executor.frameworkId) ?? [];
  pushBounded(list, executor, limit);
  s.history.completedExecutors.set(executor.frameworkId, list);
}

/**
 * Files the framework as completed once no task (awaiting acknowledgement
 * or not) and no executor of it is left.
 */
export function completeFrameworkIfIdle(s: AgentState, frameworkId: string): void {
  const info = s.frameworks.get(frameworkId);
  if (info === undefined) return;
  for (const t of s.tasks.values()) if (t.frameworkId === frameworkId) return;
  for (const e of s.executors.values()) if (e.frameworkId === frameworkId) return;
  s.frameworks.delete(frameworkId);
  const completedExecutors = s.history.completedExecutors.get(frameworkId) ?? [];
  s.history.completedExecutors.delete(frameworkId);
  pushBounded(s.history.completedFrameworks, { info, completedExecutors }, MAX_COMPLETED_FRAMEWORKS);
}
