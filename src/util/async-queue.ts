/**
 * An unbounded single-consumer queue readable as an async iterable: the
 * bridge between callbacks that produce stream messages and the async
 * generators connect-es reads them from.
 *
 * Invariants: items come out in push order; after `end()` further pushes are
 * refused, queued items still drain, then iteration finishes (or throws the
 * error given to `end`).
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** False when the queue has ended and the item was dropped. */
  push(item: T): boolean;
  end(error?: Error): void;
  readonly ended: boolean;
  readonly size: number;
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  let head = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  async function* iterate(): AsyncGenerator<T> {
    for (;;) {
      if (head < items.length) {
        const item = items[head] as T;
        items[head++] = undefined as T;
        // Compact now and then so a long-lived stream does not grow forever.
        if (head > 1024 && head * 2 > items.length) {
          items.splice(0, head);
          head = 0;
        }
        yield item;
        continue;
      }
      if (ended) {
        if (failure !== undefined) throw failure;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  return {
    push(item) {
      if (ended) return false;
      items.push(item);
      notify();
      return true;
    },
    end(error) {
      if (ended) return;
      ended = true;
      failure = error;
      notify();
    },
    get ended() {
      return ended;
    },
    get size() {
      return items.length - head;
    },
    [Symbol.asyncIterator]: iterate,
  };
}
