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
  /**
   * Fires only the timer due soonest, if it falls due within `ms` (default
   * 0: due now), moving the clock to its due time; false, with the clock
   * unmoved, when none does. A harness whose timers start promise chains
   * calls it in a loop and lets those chains run between two timers, as
   * Node's event loop runs microtasks between two callbacks.
   */
  runNext(ms?: number): boolean;
  /** Timers not yet fired or cleared. */
  readonly pending: number;
}

interface Timer {
  at: number;
  every: number | undefined;
  callback: () => void;
}

export function createFakeTimers(start = 1_700_000_000_000): FakeTimers {
  let now = start;
  let counter = 0;
  const due = new Map<number, Timer>();
  const add = (callback: () => void, ms: number, every: number | undefined): TimerHandle => {
    const id = ++counter;
    due.set(id, { at: now + Math.max(0, ms), every, callback });
    return { id };
  };
  const clear = (handle: TimerHandle | undefined): void => {
    if (handle !== undefined) due.delete(handle.id);
  };
  /** Fires the earliest timer due by `until` (the first armed among equals). */
  const runUntil = (until: number): boolean => {
    let next: [number, Timer] | undefined;
    for (const entry of due) if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
    if (next === undefined) return false;
    const [id, timer] = next;
    now = timer.at;
    if (timer.every === undefined) due.delete(id);
    else timer.at += timer.every;
    timer.callback();
    return true;
  };
  return {
    now: () => now,
    setTimeout: (callback, ms) => add(callback, ms, undefined),
    clearTimeout: clear,
    setInterval: (callback, ms) => add(callback, ms, Math.max(1, ms)),
    clearInterval: clear,
    advance(ms) {
      const until = now + ms;
      let fired = true;
      while (fired) fired = runUntil(until);
      now = until;
    },
    runNext: (ms = 0) => runUntil(now + ms),
    get pending() {
      return due.size;
    },
  };
}
