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
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    for (;;) {
      const pending = iterator.next();
      const next = await Promise.race([pending, aborted]);
      if (next === undefined) {
        pending.catch(() => undefined);
        return;
      }
      if (next.done === true) return;
      onItem(next.value);
      if (signal.aborted) return;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
