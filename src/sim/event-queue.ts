/**
 * Simulated time: a queue of events ordered by time, then by the order
 * they were scheduled in (so ties replay the same way every run). One
 * step of the simulation is one event.
 */
export interface SimEvent {
  readonly at: number;
  readonly seq: number;
  /** What happens, for the trace of a failing seed. */
  readonly label: string;
  readonly run: () => void;
}

export interface EventQueue {
  /** The time of the event being run (or the last one run). */
  readonly now: number;
  readonly size: number;
  /** Runs `run` `delayMs` from now. */
  after(delayMs: number, label: string, run: () => void): void;
  /** Takes the next event and moves time to it; undefined when nothing is left. */
  pop(): SimEvent | undefined;
}

const before = (x: SimEvent, y: SimEvent): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);

export function createEventQueue(start: number): EventQueue {
  const heap: SimEvent[] = [];
  let now = start;
  let seq = 0;
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as SimEvent, heap[parent] as SimEvent)) return;
      [heap[i], heap[parent]] = [heap[parent] as SimEvent, heap[i] as SimEvent];
      i = parent;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let least = i;
      if (l < heap.length && before(heap[l] as SimEvent, heap[least] as SimEvent)) least = l;
      if (r < heap.length && before(heap[r] as SimEvent, heap[least] as SimEvent)) least = r;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least] as SimEvent, heap[i] as SimEvent];
      i = least;
    }
  };
  return {
    get now() {
      return now;
    },
    get size() {
      return heap.length;
    },
    after(delayMs, label, run) {
      heap.push({ at: now + Math.max(0, delayMs), seq: seq++, label, run });
      up(heap.length - 1);
    },
    pop() {
      const top = heap[0];
      if (top === undefined) return undefined;
      const last = heap.pop() as SimEvent;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
      now = top.at;
      return top;
    },
  };
}
