/**
 * Reliable delivery of task status updates from the agent to the master, as
 * Mesos' status update manager does it.
 *
 * Per task (framework id + task id) there is one ordered stream of updates:
 *
 *   add ──► queued ──(head)──► in flight ──due(now)──► sent, resend at now+backoff
 *                                 ▲                        │ no ack in time
 *                                 └────── backoff doubles ◄┘ (10 s .. 10 min)
 *   acknowledge(head uuid) ──► pop; next head due at once
 *   acknowledge(terminal head) ──► stream done (later updates are refused)
 *
 * Only the head is ever in flight, so the master (and the scheduler) see a
 * task's updates in the order the executor produced them. Acks that do not
 * match the head (stale, duplicate, unknown) change nothing.
 *
 * Pure: no timers. The shell calls `due(now)` when `nextDueAt()` arrives and
 * whenever the master (re)connects (after `resetBackoff(now)`).
 */

import type { TaskStatus } from "../../../gen/mesos/v1/mesos_pb.js";
import type { Millis } from "../clock.js";
import { createDueQueue } from "../due-queue.js";
import { isTerminalState } from "../task-lifecycle.js";

/** Mesos' STATUS_UPDATE_RETRY_INTERVAL_MIN and _MAX. */
export const STATUS_UPDATE_RETRY_MIN_MS = 10_000;
export const STATUS_UPDATE_RETRY_MAX_MS = 600_000;

/** One update waiting for acknowledgement. */
export interface PendingUpdate {
  frameworkId: string;
  status: TaskStatus;
}

/** What an acknowledgement did. */
export type AckResult =
  | { kind: "acknowledged"; terminal: boolean }
  /** Not the head's uuid: a duplicate or an ack for an older update. */
  | { kind: "stale" }
  | { kind: "unknown-task" };

/** What adding an update did. */
export type AddResult = "queued" | "duplicate" | "stream-terminated";

interface TaskStream {
  frameworkId: string;
  taskId: string;
  queue: TaskStatus[];
  /** Uuids already seen (queued or acknowledged), to drop replays. */
  seen: Set<string>;
  /** A terminal update was queued: nothing may follow it. */
  terminated: boolean;
  /** When the head is due; undefined while nothing has been sent yet. */
  nextAt: Millis | undefined;
  backoff: Millis;
}

/** The status update streams of every task on this agent. */
export interface StatusUpdateStreams {
  /** Appends an update (it must carry a uuid) to its task's stream. */
  add(frameworkId: string, status: TaskStatus, now: Millis): AddResult;
  /**
   * The heads that should be (re)sent now; each is then rescheduled with
   * its backoff doubled (capped).
   */
  due(now: Millis): PendingUpdate[];
  /** Pops the head of the task's stream if `uuid` matches it. */
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array, now: Millis): AckResult;
  /** Every unacknowledged update, in per-task order (for re-registration). */
  pending(): PendingUpdate[];
  /** The latest update queued for a task (what the task's state will be). */
  latest(frameworkId: string, taskId: string): TaskStatus | undefined;
  /**
   * Makes every head due at `now` with the initial backoff: the master
   * reconnected, or (with `frameworkId`) that framework subscribed again.
   */
  resetBackoff(now: Millis, frameworkId?: string): void;
  /** When `due` next has something to return; undefined when nothing waits. */
  nextDueAt(): Millis | undefined;
  /** Drops a task's stream (its framework is gone). */
  forget(frameworkId: string, taskId: string): void;
  /** True while the task has updates waiting for acknowledgement. */
  has(frameworkId: string, taskId: string): boolean;
}

/** Hex of a uuid's bytes: the key updates are matched by. */
export function uuidHex(uuid: Uint8Array): string {
  return Buffer.from(uuid).toString("hex");
}

/** Creates empty streams; `minMs`/`maxMs` override the Mesos retry bounds. */
export function createStatusUpdateStreams(bounds: { minMs?: Millis; maxMs?: Millis } = {}): StatusUpdateStreams {
  const minMs = bounds.minMs ?? STATUS_UPDATE_RETRY_MIN_MS;
  const maxMs = bounds.maxMs ?? STATUS_UPDATE_RETRY_MAX_MS;
  const streams = new Map<string, TaskStream>();
  const key = (frameworkId: string, taskId: string): string => `${frameworkId}/${taskId}`;
  // Every time a head becomes due is queued here; an entry whose stream has
  // since been rescheduled, acknowledged or dropped is stale. A scan of every
  // stream per update (as `due` and `nextDueAt` did) made each update cost
  // the number of tasks in flight: hundreds of launches at once spent 5% of
  // the agent's time there.
  const schedule = createDueQueue<TaskStream>(
    (stream, at) =>
      stream.nextAt === at && stream.queue.length > 0 && streams.get(key(stream.frameworkId, stream.taskId)) === stream,
  );
  const dueAt = (stream: TaskStream, at: Millis): void => {
    stream.nextAt = at;
    schedule.push(at, stream);
  };

  const add = (frameworkId: string, status: TaskStatus, now: Millis): AddResult => {
    const taskId = status.taskId?.value ?? "";
    const k = key(frameworkId, taskId);
    let stream = streams.get(k);
    if (stream === undefined) {
      stream = {
        frameworkId,
        taskId,
        queue: [],
        seen: new Set(),
        terminated: false,
        nextAt: undefined,
        backoff: minMs,
      };
      streams.set(k, stream);
    }
    const id = uuidHex(status.uuid);
    if (stream.seen.has(id)) return "duplicate";
    if (stream.terminated) return "stream-terminated";
    stream.seen.add(id);
    stream.queue.push(status);
    if (isTerminalState(status.state)) stream.terminated = true;
    // A new head goes out at once; otherwise it waits behind the head.
    if (stream.queue.length === 1) {
      dueAt(stream, now);
      stream.backoff = minMs;
    }
    return "queued";
  };

  const due = (now: Millis): PendingUpdate[] => {
    const out: PendingUpdate[] = [];
    const resent: TaskStream[] = [];
    for (let stream = schedule.popDue(now); stream !== undefined; stream = schedule.popDue(now)) {
      const head = stream.queue[0];
      if (head === undefined) continue;
      out.push({ frameworkId: stream.frameworkId, status: head });
      resent.push(stream);
    }
    // Rescheduled after the loop: a backoff of 0 must not make it due again in this call.
    for (const stream of resent) {
      dueAt(stream, now + stream.backoff);
      stream.backoff = Math.min(maxMs, stream.backoff * 2);
    }
    return out;
  };

  const acknowledge = (frameworkId: string, taskId: string, uuid: Uint8Array, now: Millis): AckResult => {
    const k = key(frameworkId, taskId);
    const stream = streams.get(k);
    if (stream === undefined) return { kind: "unknown-task" };
    const head = stream.queue[0];
    if (head === undefined || uuidHex(head.uuid) !== uuidHex(uuid)) return { kind: "stale" };
    stream.queue.shift();
    const terminal = isTerminalState(head.state);
    if (terminal) {
      streams.delete(k);
      return { kind: "acknowledged", terminal };
    }
    stream.backoff = minMs;
    if (stream.queue.length > 0) dueAt(stream, now);
    else stream.nextAt = undefined;
    return { kind: "acknowledged", terminal };
  };

  return {
    add,
    due,
    acknowledge,
    pending: () =>
      [...streams.values()].flatMap((s) => s.queue.map((status) => ({ frameworkId: s.frameworkId, status }))),
    latest: (frameworkId, taskId) => streams.get(key(frameworkId, taskId))?.queue.at(-1),
    resetBackoff(now, frameworkId) {
      for (const stream of streams.values()) {
        if (stream.queue.length === 0) continue;
        if (frameworkId !== undefined && stream.frameworkId !== frameworkId) continue;
        dueAt(stream, now);
        stream.backoff = minMs;
      }
    },
    nextDueAt: () => schedule.peekAt(),
    forget: (frameworkId, taskId) => void streams.delete(key(frameworkId, taskId)),
    has: (frameworkId, taskId) => (streams.get(key(frameworkId, taskId))?.queue.length ?? 0) > 0,
  };
}
