import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SortedBlocks } from "../../src/core/allocator/sorted-blocks.js";

interface Entry {
  key: string;
  share: number;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const compare = (a: Entry, b: Entry): number => a.share - b.share || byName(a.key, b.key);

/** What the blocks must always read as: every entry, sorted from scratch. */
function fromScratch(entries: readonly Entry[]): string[] {
  return [...entries].sort(compare).map((e) => `${e.key}@${e.share}`);
}

function read(list: SortedBlocks<Entry>): string[] {
  return [...list].map((e) => `${e.key}@${e.share}`);
}

describe("framework order kept in sorted blocks", () => {
  it("after any sequence of moves, reads as sorting every entry again", () => {
    fc.assert(
      fc.property(
        // Up to a few hundred entries, so blocks split and merge; few distinct
        // shares, so ties (broken by name) are common, as at the start of a pass.
        fc.integer({ min: 0, max: 400 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 6 })), { maxLength: 300 }),
        (size, moves) => {
          const entries: Entry[] = Array.from({ length: size }, (_, i) => ({ key: `framework-${i}`, share: i % 3 }));
          const list = new SortedBlocks([...entries].sort(compare), compare);
          expect(read(list)).toEqual(fromScratch(entries));
          for (const [pick, share] of moves) {
            if (entries.length === 0) break;
            list.reposition(entries[pick % entries.length] as Entry, share / 2);
            expect(list.size).toBe(entries.length);
          }
          expect(read(list)).toEqual(fromScratch(entries));
          expect(list.toArray().map((e) => `${e.key}@${e.share}`)).toEqual(fromScratch(entries));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("moving only toward the back, as charges in a pass do, keeps the order at every step", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { maxLength: 200 }), (size, picks) => {
        const entries: Entry[] = Array.from({ length: size }, (_, i) => ({ key: `f${i}`, share: 0 }));
        const list = new SortedBlocks([...entries].sort(compare), compare);
        for (const pick of picks) {
          // The lowest entry or any other, as the pass charges the first eligible framework.
          const entry = pick % 2 === 0 ? ([...list][0] as Entry) : (entries[pick % size] as Entry);
          list.reposition(entry, entry.share + 1);
          expect(read(list)).toEqual(fromScratch(entries));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("finds an entry whose share was changed behind its back", () => {
    const entries: Entry[] = Array.from({ length: 200 }, (_, i) => ({
      key: `f${String(i).padStart(3, "0")}`,
      share: i,
    }));
    const list = new SortedBlocks(entries, compare);
    const stray = entries[150] as Entry;
    stray.share = -1;
    list.reposition(stray, 1000);
    expect([...list].at(-1)).toBe(stray);
    expect(read(list)).toEqual(fromScratch(entries));
  });
});
