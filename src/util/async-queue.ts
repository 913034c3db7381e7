/**
 * An unbounded single-consumer queue readable as an async iterable: the
 * bridge between callbacks that produce stream messages and the async
 * generators connect-es reads them from.
 *
 * Invariants: items come out in push order; after `end()` further pushes are
 * refused, queued items still drain, then iteration finishes (or throws the
 * error given to `end`). `onFinish` runs once when iteration ends (drained,
 * failed, or left by `return`/`throw`), and the consumer learns of the end
 * only after it has settled: a stream's owner tears down before Connect ends
 * the response.
 *
 * The iterator is written out by hand rather than as an async generator: on
 * a stream carrying tens of thousands of messages a second, each generator
 * layer costs several promise hops per message (a profile of the master
 * answering pipelined calls showed them), while a waiting consumer here is
 * handed the next item directly by `push`.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** False when the queue has ended and the item was dropped. */
  push(item: T): boolean;
  end(error?: Error): void;
  readonly ended: boolean;
  readonly size: number;
}

export interface AsyncQueueOptions {
  onFinish?: () => void | Promise<void>;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T> | Promise<IteratorResult<T>>): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export function createAsyncQueue<T>(options: AsyncQueueOptions = {}): AsyncQueue<T> {
  const items: T[] = [];
  let head = 0;
  let ended = false;
  let failure: Error | undefined;
  /** The consumer's pending `next`, when the queue was empty. */
  let waiter: Waiter<T> | undefined;
  /** Set once iteration is over: later `next` calls answer done. */
  let finished: Promise<void> | undefined;

  const finish = (): Promise<void> => {
    finished ??= Promise.resolve().then(options.onFinish);
    return finished;
  };

  /** The end as the consumer sees it: done, or the failure (once). */
  const endResult = (): Promise<IteratorResult<T>> => {
    if (finished !== undefined) return finished.then(() => DONE);
    const error = failure;
    return finish().then(() => {
      if (error !== undefined) throw error;
      return DONE;
    });
  };

  const take = (): T => {
    const item = items[head] as T;
    items[head++] = undefined as T;
    // Compact now and then so a long-lived stream does not grow forever.
    if (head > 1024 && head * 2 > items.length) {
      items.splice(0, head);
      head = 0;
    }
    return item;
  };

  /** A consumer that leaves while a `next` is pending gets done for it. */
  const wakeDone = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.resolve(DONE);
  };

  const iterator: AsyncIterator<T> = {
    next() {
      if (finished !== undefined) return endResult();
      if (head < items.length) return Promise.resolve({ done: false, value: take() });
      if (ended) return endResult();
      return new Promise<IteratorResult<T>>((resolve) => (waiter = { resolve }));
    },
    return() {
      wakeDone();
      return endResult().catch(() => DONE);
    },
    throw(error: unknown) {
      wakeDone();
      return finish().then(() => {
        throw error;
      });
    },
  };

  return {
    push(item) {
      if (ended) return false;
      const w = waiter;
      if (w !== undefined) {
        waiter = undefined;
        w.resolve({ done: false, value: item });
      } else {
        items.push(item);
      }
      return true;
    },
    end(error) {
      if (ended) return;
      ended = true;
      failure = error;
      const w = waiter;
      waiter = undefined;
      w?.resolve(endResult());
    },
    get ended() {
      return ended;
    },
    get size() {
      return items.length - head;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
}
