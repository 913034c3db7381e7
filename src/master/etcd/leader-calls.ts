/**
 * How the leader's registry calls reach etcd: each with a deadline, and
 * transient failures retried while leadership lasts.
 */
import { isRecoverableError } from "etcd3";
import type { LeadershipLostError } from "./errors.js";

const TRANSIENT_RETRY_MS = 250;

/**
 * Whether an etcd call may succeed if tried again: etcd3's recoverable
 * errors, and its circuit breaker refusing calls for a while after a few
 * failed (cockatiel's BrokenCircuitError, which keeps the name "Error" and
 * marks itself with `isBrokenCircuitError`; checking its name never matched).
 */
export function isTransientEtcdError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (isRecoverableError(err) || (err as { isBrokenCircuitError?: boolean }).isBrokenCircuitError === true)
  );
}

/**
 * Transient errors (etcd restarting, a leader election inside etcd) are
 * retried while leadership lasts. A retried transaction may have committed
 * the first time; its CAS then fails and writeChunk recognises its own write.
 */
export async function withTransientRetry<T>(
  isLost: () => LeadershipLostError | undefined,
  retryMs: number,
  call: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + retryMs;
  for (;;) {
    const lost = isLost();
    if (lost !== undefined) throw lost;
    try {
      return await call();
    } catch (err) {
      if (!isTransientEtcdError(err) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, TRANSIENT_RETRY_MS));
  }
}

/**
 * Each etcd call gives up after this long (and is retried as transient
 * while leadership lasts): a call stuck on a partitioned etcd is tried
 * again, and the lease (kept on its own connection) says when to stop.
 */
const CALL_DEADLINE_MS = 5_000;
export const callDeadline = () => ({ deadline: new Date(Date.now() + CALL_DEADLINE_MS) });
