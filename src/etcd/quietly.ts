/** Best-effort cleanups of etcd resources we are done with, whoever owned them. */
import type { Lease, Watcher } from "etcd3";

/**
 * Revokes a lease we are giving up, so others need not wait out its TTL.
 * Best effort with a deadline: with etcd unreachable the lease expires on
 * its own anyway.
 */
export async function revokeQuietly(lease: Lease, timeoutMs = 2_000): Promise<void> {
  await lease.revoke({ deadline: Date.now() + timeoutMs }).catch(() => undefined);
}

/** Stops a watch; a failure (the client closed, etcd gone) leaves nothing to stop. */
export async function cancelQuietly(watcher: Watcher | undefined): Promise<void> {
  await watcher?.cancel().catch(() => undefined);
}
