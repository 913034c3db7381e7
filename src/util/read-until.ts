/**
 * Reads a stream's requests until they end or `signal` aborts, so the loop
 * has an owner that can stop and await it. A Connect handler's request
 * iterable keeps yielding after the handler returned, until the client
 * closes its side: without the signal, a reader would outlive its stream.
 *
 * A read pending when `signal` aborts is abandoned: its message, if one
 * ever comes, is dropped, and its failure is ignored.
 */
export async function readUntilAborted<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  onItem: (item: T) => void,
): Promise<void> {
  if (signal.aborted) return;
  const iterator = source[Symbol.asyncIterator]();
  // The abort wakes whichever read is pending. (Not Promise.race against one
  // abort promise: each race leaves a reaction on that promise until the
  // stream ends, one per message, on streams that live for days.)
  let wake: ((result: IteratorResult<T> | undefined) => void) | undefined;
  const onAbort = (): void => wake?.(undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const next = await new Promise<IteratorResult<T> | undefined>((resolve, reject) => {
        wake = resolve;
        iterator.next().then(resolve, reject);
      });
      if (next === undefined || next.done === true) return;
      onItem(next.value);
      if (signal.aborted) return;
    }
  } finally {
    wake = undefined;
    signal.removeEventListener("abort", onAbort);
  }
}
