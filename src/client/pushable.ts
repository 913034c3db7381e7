/**
 * A single-consumer async queue: producers `push()` synchronously, one
 * consumer iterates. It feeds the request side of a bidi stream, where the
 * transport pulls the next message only after writing the previous one, so
 * a plain array plus one waiting resolver is all the machinery needed.
 *
 * Invariant: after `end()`, pushes are ignored, the consumer drains what was
 * queued before the end and then finishes.
 */
export interface Pushable<T> extends AsyncIterable<T> {
  /** Queues `item`; returns false (and drops it) once the queue has ended. */
  push(item: T): boolean;
  /** Ends the queue; the consumer finishes after draining. Idempotent. */
  end(): void;
  /** True once `end()` was called. */
  readonly ended: boolean;
}

/** Creates an empty pushable queue. */
export function createPushable<T>(): Pushable<T> {
  const items: T[] = [];
  let ended = false;
  let waiter: (() => void) | undefined;

  const wake = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  async function* iterate(): AsyncGenerator<T> {
    for (;;) {
      if (items.length > 0) {
        yield items.shift() as T;
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
    }
  }

  return {
    push(item: T): boolean {
      if (ended) return false;
      items.push(item);
      wake();
      return true;
    },
    end(): void {
      ended = true;
      wake();
    },
    get ended(): boolean {
      return ended;
    },
    [Symbol.asyncIterator]: () => iterate(),
  };
}
