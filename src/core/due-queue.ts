/**
 * A min-heap of (time, item) entries, first in first out among equal times.
 * Entries are never removed from the middle: their owner marks them stale
 * (the item was rescheduled or dropped) and `isLive` skips them as they
 * surface, so rescheduling costs O(log n) and no scan.
 */

interface Entry<T> {
  at: number;
  seq: number;
  item: T;
}

export interface DueQueue<T> {
  push(at: number, item: T): void;
  /** The earliest live entry's time; stale entries on top are dropped. */
  peekAt(): number | undefined;
  /** Removes and returns the earliest live entry's item if it is due at `now`. */
  popDue(now: number): T | undefined;
}

/** `isLive(item, at)`: whether an entry still stands (its item is still due at `at`). */
export function createDueQueue<T>(isLive: (item: T, at: number) => boolean): DueQueue<T> {
  const heap: Entry<T>[] = [];
  let seq = 0;
  const before = (a: Entry<T>, b: Entry<T>): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

  const up = (i: number): void => {
    const entry = heap[i] as Entry<T>;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Entry<T>;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  };

  const down = (i: number): void => {
    const entry = heap[i] as Entry<T>;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      const right = child + 1;
      if (right < heap.length && before(heap[right] as Entry<T>, heap[child] as Entry<T>)) child = right;
      if (!before(heap[child] as Entry<T>, entry)) break;
      heap[i] = heap[child] as Entry<T>;
      i = child;
    }
    heap[i] = entry;
  };

  const pop = (): Entry<T> | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      down(0);
    }
    return top;
  };

  const dropStale = (): Entry<T> | undefined => {
    for (let top = heap[0]; top !== undefined; top = heap[0]) {
      if (isLive(top.item, top.at)) return top;
      pop();
    }
    return undefined;
  };

  return {
    push(at, item) {
      heap.push({ at, seq: seq++, item });
      up(heap.length - 1);
    },
    peekAt: () => dropStale()?.at,
    popDue(now) {
      const top = dropStale();
      if (top === undefined || top.at > now) return undefined;
      pop();
      return top.item;
    },
  };
}
