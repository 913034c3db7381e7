/**
 * Where a client connects and how long it waits between attempts. Pure, so
 * the reconnect schedule is testable without a clock.
 */

/** Backoff bounds between reconnect attempts. */
export interface ReconnectPolicy {
  initialMs: number;
  maxMs: number;
}

/** Accepts "host:port" as well as a URL; returns a URL without trailing "/". */
export function normalizeBaseUrl(address: string): string {
  const trimmed = address.trim().replace(/\/+$/, "");
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped,
 * with "equal jitter" (half fixed, half random) so a fleet of clients that
 * lost the same master does not come back in lockstep.
 */
export function backoffDelay(attempt: number, policy: ReconnectPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
