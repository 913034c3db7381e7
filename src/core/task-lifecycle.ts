/**
 * A task's lifecycle: the Mesos task states, the legal moves between them
 * (one table, below), and `moveTask()`, the only code that changes a task's
 * state. The master and the agent both keep task state through here.
 *
 *   launch
 *     │
 *     ▼
 *   STAGING ──► STARTING ──► RUNNING ──► KILLING   forward only; a step may be skipped.
 *     │            │            │           │      The same state again is no move
 *     └────────────┴──────┬─────┴───────────┘      (a health update, a resend).
 *            │            │ ends
 *            │            ▼
 *            │         terminal: FINISHED FAILED KILLED ERROR LOST DROPPED GONE
 *            │                   GONE_BY_OPERATOR          never left again
 *            │            ▲
 *            │ agent      │ agent gone, framework removed,
 *            ▼ lost       │ agent back without the task
 *       UNREACHABLE ──────┤
 *         │     │         │
 *         │     ▼         │
 *         │  UNKNOWN ─────┘  the master no longer knows the agent
 *         │     │
 *         ▼     ▼
 *   agent back with the task: the live state it reports (STAGING .. KILLING)
 *
 * UNREACHABLE and UNKNOWN are not terminal: the task may still run where the
 * master cannot see it. They are the master's words for "cannot see it", so
 * only the master moves a task into them; an agent or executor cannot.
 */
import { TaskState } from "../../gen/mesos/v1/mesos_pb.js";

const {
  TASK_STAGING: STAGING,
  TASK_STARTING: STARTING,
  TASK_RUNNING: RUNNING,
  TASK_KILLING: KILLING,
  TASK_UNREACHABLE: UNREACHABLE,
  TASK_UNKNOWN: UNKNOWN,
} = TaskState;

/** States a task may still leave. */
export type LiveState =
  | TaskState.TASK_STAGING
  | TaskState.TASK_STARTING
  | TaskState.TASK_RUNNING
  | TaskState.TASK_KILLING
  | TaskState.TASK_UNREACHABLE
  | TaskState.TASK_UNKNOWN;

/** States a task never leaves. */
export type TerminalState =
  | TaskState.TASK_FINISHED
  | TaskState.TASK_FAILED
  | TaskState.TASK_KILLED
  | TaskState.TASK_ERROR
  | TaskState.TASK_LOST
  | TaskState.TASK_DROPPED
  | TaskState.TASK_GONE
  | TaskState.TASK_GONE_BY_OPERATOR;

// Fails to compile if the generated enum gains a state neither union names.
const everyStateNamed: [Exclude<TaskState, LiveState | TerminalState>] extends [never] ? true : false = true;
void everyStateNamed;

const TERMINAL: readonly TerminalState[] = [
  TaskState.TASK_FINISHED,
  TaskState.TASK_FAILED,
  TaskState.TASK_KILLED,
  TaskState.TASK_ERROR,
  TaskState.TASK_LOST,
  TaskState.TASK_DROPPED,
  TaskState.TASK_GONE,
  TaskState.TASK_GONE_BY_OPERATOR,
];

/** Every state, for tests and tables. */
export const TASK_STATES: readonly TaskState[] = [
  STAGING,
  STARTING,
  RUNNING,
  KILLING,
  UNREACHABLE,
  UNKNOWN,
  ...TERMINAL,
];

/** The state a task is launched in. */
export const LAUNCH_STATE = STAGING;

/**
 * The legal moves: from each state, the states it may go to. A state is not
 * listed as its own successor; staying is always allowed (see `transition`).
 * A live task may end in any terminal state from any live state: an executor
 * may fail before it says STARTING, a launch may be dropped or lost, a kill
 * may land at any time.
 */
const NEXT: Readonly<Record<TaskState, readonly TaskState[]>> = {
  [STAGING]: [STARTING, RUNNING, KILLING, UNREACHABLE, ...TERMINAL],
  [STARTING]: [RUNNING, KILLING, UNREACHABLE, ...TERMINAL],
  [RUNNING]: [KILLING, UNREACHABLE, ...TERMINAL],
  [KILLING]: [UNREACHABLE, ...TERMINAL],
  // The agent's report is the truth when it comes back, whatever the task reached meanwhile.
  [UNREACHABLE]: [STAGING, STARTING, RUNNING, KILLING, UNKNOWN, ...TERMINAL],
  [UNKNOWN]: [STAGING, STARTING, RUNNING, KILLING, UNREACHABLE, ...TERMINAL],
  [TaskState.TASK_FINISHED]: [],
  [TaskState.TASK_FAILED]: [],
  [TaskState.TASK_KILLED]: [],
  [TaskState.TASK_ERROR]: [],
  [TaskState.TASK_LOST]: [],
  [TaskState.TASK_DROPPED]: [],
  [TaskState.TASK_GONE]: [],
  [TaskState.TASK_GONE_BY_OPERATOR]: [],
};

/** States only the master may move a task into. */
const MASTER_ONLY: ReadonlySet<TaskState> = new Set([UNREACHABLE, UNKNOWN]);

/** Who asks for a move: the master, or an agent (for itself or its executors). */
export type Mover = "master" | "agent";

/** What `transition` decided. */
export type Transition =
  /** Legal; `changed` is false when the task stays where it is. */
  | { ok: true; from: TaskState; to: TaskState; changed: boolean }
  /** Illegal: the task keeps `from`. */
  | { ok: false; from: TaskState; to: TaskState; reason: string };

/**
 * True for states after which a task never changes again, as Mesos defines
 * them. TASK_UNREACHABLE and TASK_UNKNOWN are not terminal.
 */
export function isTerminalState(state: TaskState): state is TerminalState {
  return NEXT[state]?.length === 0;
}

/** The name Mesos gives a state ("TASK_RUNNING"). */
export function stateName(state: TaskState): string {
  return TaskState[state] ?? `state ${state}`;
}

/**
 * Whether a task in `from` may go to `to` when `by` asks.
 *
 * A refusal is a value, not an exception: the moves come from other
 * processes (an executor's update, an agent's report after a partition, an
 * update resent after the master ended the task itself), so an illegal one
 * is an input to handle, not a bug here. Each caller decides what a refusal
 * means: the agent drops the update (still acknowledging the executor, as
 * Mesos does); the master keeps its view and still forwards the update.
 */
export function transition(from: TaskState, to: TaskState, by: Mover): Transition {
  if (from === to) return { ok: true, from, to, changed: false };
  const refuse = (reason: string): Transition => ({ ok: false, from, to, reason });
  if (!(to in NEXT)) return refuse(`${stateName(to)} is not a task state`);
  if (isTerminalState(from)) return refuse(`the task already ended in ${stateName(from)}`);
  if (by !== "master" && MASTER_ONLY.has(to)) return refuse(`only the master can say a task is ${stateName(to)}`);
  if (!(NEXT[from] ?? []).includes(to)) return refuse(`a task cannot go from ${stateName(from)} to ${stateName(to)}`);
  return { ok: true, from, to, changed: true };
}

/**
 * Whether a task the master never launched (an agent reports it to a master
 * that restarted) can be taken in as the agent reports it: as if launched,
 * then moved by the agent to `state`.
 */
export function adoptable(state: TaskState): boolean {
  let known = ADOPTABLE.get(state);
  if (known === undefined) {
    known = !isTerminalState(state) && transition(LAUNCH_STATE, state, "agent").ok;
    ADOPTABLE.set(state, known);
  }
  return known;
}

/** `adoptable` by state, worked out once: a fleet re-registering asks it for every task. */
const ADOPTABLE = new Map<TaskState, boolean>();

/**
 * Moves `task` to `to` if the lifecycle allows it, and says what happened.
 * The only place a task's state is assigned.
 */
export function moveTask(task: { state: TaskState }, to: TaskState, by: Mover): Transition {
  const moved = transition(task.state, to, by);
  if (moved.ok) task.state = to;
  return moved;
}
