import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDueQueue } from "../../src/core/due-queue.js";

describe("due queue", () => {
  it("pops live entries in time order, first in first out among equal times, skipping stale ones", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 60 }),
        fc.integer({ min: 0, max: 25 }),
        (entries, now) => {
          // Item i stands at its time unless marked dropped.
          const live = new Map<number, number>();
          const q = createDueQueue<number>((item, at) => live.get(item) === at);
          entries.forEach(([at, keep], i) => {
            q.push(at, i);
            if (keep) live.set(i, at);
          });
          const expected = entries
            .map(([at, keep], i) => ({ at, keep, i }))
            .filter((e) => e.keep)
            .sort((a, b) => a.at - b.at || a.i - b.i);
          expect(q.peekAt()).toBe(expected[0]?.at);
          const popped: number[] = [];
          for (let item = q.popDue(now); item !== undefined; item = q.popDue(now)) popped.push(item);
          expect(popped).toEqual(expected.filter((e) => e.at <= now).map((e) => e.i));
          expect(q.peekAt()).toBe(expected.find((e) => e.at > now)?.at);
        },
      ),
    );
  });
});
