/**
 * Time for the shells (master and agent daemons): the clock they pass into
 * the core, and the timers that drive it. Injected so that a test can run a
 * daemon's logic on a fake clock (`createFakeTimers`) instead of sleeping.
 */

/** An opaque handle to cancel a timer with. */
export interface TimerHandle {
  readonly id: number;
}

export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** Node's clock and timers. */
export function systemTimers(): Timers {
  const live = new Map<number, NodeJS.Timeout>();
  let counter = 0;
  const track = (timer: NodeJS.Timeout): TimerHandle => {
    const id = ++counter;
    live.set(id, timer);
    return { id };
  };
  const clear = (handle: TimerHandle | undefined): void => {
    if (handle === undefined) return;
    const timer = live.get(handle.id);
    live.delete(handle.id);
    if (timer !== undefined) clearTimeout(timer);
  };
  return {
    now: () => Date.now(),
    setTimeout(callback, ms) {
      const handle = track(
        setTimeout(() => {
          live.delete(handle.id);
          callback();
        }, ms),
      );
      return handle;
    },
    clearTimeout: clear,
    setInterval: (callback, ms) => track(setInterval(callback, ms)),
    clearInterval: clear,
  };
}

/** Timers that fire only when the test advances time. */
export interface FakeTimers extends Timers {
  /** Moves the clock forward, firing every timer that falls due, in due order. */
  advance(ms: number): void;
  /** Timers not yet fired or cleared. */
  readonly pending: number;
}

export function createFakeTimers(start = 1_700_000_000_000): FakeTimers {
  let now = start;
  let counter = 0;
  const due = new Map<number, { at: number; every: number | undefined; callback: () => void }>();
  const add = (callback: () => void, ms: number, every: number | undefined): TimerHandle => {
    const id = ++counter;
    due.set(id, { at: now + Math.max(0, ms), every, callback });
    return { id };
  };
  const clear = (handle: TimerHandle | undefined): void => {
    if (handle !== undefined) due.delete(handle.id);
  };
  return {
    now: () => now,
    setTimeout: (callback, ms) => add(callback, ms, undefined),
    clearTimeout: clear,
    setInterval: (callback, ms) => add(callback, ms, Math.max(1, ms)),
    clearInterval: clear,
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { at: number; every: number | undefined; callback: () => void }] | undefined;
        for (const entry of due) if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
        if (next === undefined) break;
        const [id, timer] = next;
        now = timer.at;
        if (timer.every === undefined) due.delete(id);
        else timer.at += timer.every;
        timer.callback();
      }
      now = until;
    },
    get pending() {
      return due.size;
    },
  };
}
