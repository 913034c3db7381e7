/**
 * Resolves once `predicate` holds, polling every 10 ms. A predicate that
 * throws (e.g. reads a connection that does not exist yet) counts as not
 * yet; past `timeoutMs` the last such error is reported.
 */
export function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const tick = () => {
      let met = false;
      try {
        met = predicate();
      } catch (err) {
        lastError = err;
      }
      if (met) resolve();
      else if (Date.now() > deadline)
        reject(new Error(`condition not met in time${lastError === undefined ? "" : `: ${String(lastError)}`}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}
