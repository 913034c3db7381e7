import { describe, expect, it } from "vitest";
import { createFakeTimers, systemTimers } from "../../src/util/timers.js";

/** The contract the shells and the in-process cluster rely on (src/util/timers.ts). */
describe("fake timers", () => {
  it("run callbacks in due order, each at its own time, the first armed first among equals", () => {
    const timers = createFakeTimers(0);
    const seen: Array<[string, number]> = [];
    timers.setTimeout(() => seen.push(["b", timers.now()]), 20);
    timers.setTimeout(() => seen.push(["a", timers.now()]), 10);
    timers.setTimeout(() => seen.push(["c", timers.now()]), 20);
    timers.advance(15);
    expect(seen).toEqual([["a", 10]]);
    expect(timers.now()).toBe(15);
    timers.advance(5);
    expect(seen).toEqual([
      ["a", 10],
      ["b", 20],
      ["c", 20],
    ]);
    expect(timers.pending).toBe(0);
  });

  it("never run a callback inside the call that armed it; advance(0) runs what is due now, including what that arms", () => {
    const timers = createFakeTimers(0);
    const seen: string[] = [];
    timers.setTimeout(() => {
      seen.push("first");
      timers.setTimeout(() => seen.push("second"), 0);
    }, 0);
    expect(seen).toEqual([]);
    timers.advance(0);
    expect(seen).toEqual(["first", "second"]);
  });

  it("runNext fires one timer at a time, only when due within the window, and moves the clock to it", () => {
    const timers = createFakeTimers(0);
    const seen: string[] = [];
    timers.setTimeout(() => seen.push("now"), 0);
    timers.setTimeout(() => seen.push("now too"), 0);
    timers.setTimeout(() => seen.push("later"), 50);
    expect(timers.runNext()).toBe(true);
    expect(seen).toEqual(["now"]);
    expect(timers.runNext()).toBe(true);
    expect(timers.runNext()).toBe(false);
    expect(seen).toEqual(["now", "now too"]);
    expect(timers.runNext(49)).toBe(false);
    expect(timers.now()).toBe(0);
    expect(timers.runNext(60)).toBe(true);
    expect(seen).toEqual(["now", "now too", "later"]);
    expect(timers.now()).toBe(50);
  });

  it("re-arm intervals until cleared, and clearing twice or undefined does nothing", () => {
    const timers = createFakeTimers(0);
    const at: number[] = [];
    const handle = timers.setInterval(() => at.push(timers.now()), 100);
    timers.advance(350);
    expect(at).toEqual([100, 200, 300]);
    expect(timers.pending).toBe(1);
    timers.clearInterval(handle);
    timers.clearInterval(handle);
    timers.clearTimeout(undefined);
    timers.advance(1000);
    expect(at).toEqual([100, 200, 300]);
    expect(timers.pending).toBe(0);
  });
});

describe("system timers", () => {
  it("fire on Node's clock and can be cleared", async () => {
    const timers = systemTimers();
    const fired = await new Promise<boolean>((resolve) => {
      const cleared = timers.setTimeout(() => resolve(false), 5);
      timers.clearTimeout(cleared);
      timers.setTimeout(() => resolve(true), 10);
    });
    expect(fired).toBe(true);
    expect(Math.abs(timers.now() - Date.now())).toBeLessThan(50);
  });
});
