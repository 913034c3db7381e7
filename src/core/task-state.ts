import { TaskState } from "../../gen/mesos/v1/mesos_pb.js";

const terminalStates: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_FINISHED,
  TaskState.TASK_FAILED,
  TaskState.TASK_KILLED,
  TaskState.TASK_ERROR,
  TaskState.TASK_LOST,
  TaskState.TASK_DROPPED,
  TaskState.TASK_GONE,
  TaskState.TASK_GONE_BY_OPERATOR,
]);

/**
 * True for states after which a task never changes again, as Mesos defines
 * them. TASK_UNREACHABLE and TASK_UNKNOWN are not terminal: the task may
 * still be running where the master cannot see it.
 */
export function isTerminalState(state: TaskState): boolean {
  return terminalStates.has(state);
}
