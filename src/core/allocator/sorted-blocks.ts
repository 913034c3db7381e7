import type { Ranked } from "./sorted-list.js";

/**
 * Entries kept sorted by `compare` (a total order: no two entries compare
 * equal), in blocks of at most 2 × BLOCK entries.
 *
 * Why: a pass re-places the charged framework after every offer, and in a
 * plain sorted array that is two splices over the whole list. Profiled at
 * 10,000 agents × 1,000 frameworks, those splices were about a fifth of a
 * cycle (about 5 µs per offer, growing with the frameworks: 20 µs at 4,000).
 * Here a move costs two binary searches and two splices within blocks of
 * at most 2 × BLOCK entries, whatever the list's length; iteration still
 * visits the entries in order.
 */
const BLOCK = 64;

export class SortedBlocks<T extends Ranked> implements Iterable<T> {
  private blocks: T[][] = [];

  /** `sorted` must already be in `compare`'s order. */
  constructor(
    sorted: readonly T[],
    private readonly compare: (a: T, b: T) => number,
  ) {
    for (let i = 0; i < sorted.length; i += BLOCK) this.blocks.push(sorted.slice(i, i + BLOCK));
  }

  get size(): number {
    let n = 0;
    for (const block of this.blocks) n += block.length;
    return n;
  }

  [Symbol.iterator](): Iterator<T> {
    const blocks = this.blocks;
    let b = 0;
    let i = 0;
    return {
      next(): IteratorResult<T> {
        while (b < blocks.length) {
          const block = blocks[b] as T[];
          if (i < block.length) return { value: block[i++] as T, done: false };
          b++;
          i = 0;
        }
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * The blocks themselves, in order, for nested loops over plain arrays
   * (which allocate nothing per step, unlike a custom iterator). Read them
   * before the next move.
   */
  chunks(): readonly (readonly T[])[] {
    return this.blocks;
  }

  /** The entries in order, as a copy that later moves leave alone. */
  toArray(): T[] {
    const out: T[] = [];
    for (const block of this.blocks) for (const entry of block) out.push(entry);
    return out;
  }

  /** Moves `entry` (in the list, sorted under its current share) to its place under `share`. */
  reposition(entry: T, share: number): void {
    // One entry (a single role, say): nothing to move it past.
    if (this.blocks.length === 1 && this.blocks[0]?.length === 1 && this.blocks[0][0] === entry) {
      entry.share = share;
      return;
    }
    if (!this.remove(entry)) return;
    entry.share = share;
    this.insert(entry);
  }

  /** The first block whose last entry is not before `entry`, or the last block. */
  private blockFor(entry: T): number {
    const blocks = this.blocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid] as T[];
      if (this.compare(block[block.length - 1] as T, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private remove(entry: T): boolean {
    let b = this.blockFor(entry);
    let block = this.blocks[b];
    let at = block === undefined ? -1 : lowerBound(block, entry, this.compare);
    if (block === undefined || block[at] !== entry) {
      // Not where its share says (a caller changed it behind our back): look everywhere.
      b = this.blocks.findIndex((bl) => bl.includes(entry));
      if (b < 0) return false;
      block = this.blocks[b] as T[];
      at = block.indexOf(entry);
    }
    // Shifts by hand: splice returns an array each call, garbage twice per offer.
    for (let i = at; i < block.length - 1; i++) block[i] = block[i + 1] as T;
    block.pop();
    if (block.length === 0) this.blocks.splice(b, 1);
    else this.mergeSmall(b);
    return true;
  }

  /** Keeps blocks from dwindling into many tiny ones (moves into the middle, out of the middle). */
  private mergeSmall(b: number): void {
    const block = this.blocks[b] as T[];
    const next = this.blocks[b + 1];
    if (block.length < BLOCK / 2 && next !== undefined && block.length + next.length <= 2 * BLOCK) {
      block.push(...next);
      this.blocks.splice(b + 1, 1);
    }
  }

  private insert(entry: T): void {
    if (this.blocks.length === 0) {
      this.blocks.push([entry]);
      return;
    }
    const b = this.blockFor(entry);
    const block = this.blocks[b] as T[];
    const at = lowerBound(block, entry, this.compare);
    block.push(entry);
    for (let i = block.length - 1; i > at; i--) block[i] = block[i - 1] as T;
    block[at] = entry;
    if (block.length > 2 * BLOCK) this.blocks.splice(b + 1, 0, block.splice(BLOCK));
  }
}

/** Where `entry` belongs in the sorted `list` (the first index not before it). */
function lowerBound<T>(list: readonly T[], entry: T, compare: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid] as T, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
