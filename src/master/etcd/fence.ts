/**
 * The fence: what makes an etcd transaction this leader's and no one
 * else's. Every leader write compares the campaign key's create revision
 * and lease, so a master that lost its key (lease expired while it was
 * paused, revoked, deleted) cannot write even if it still believes it
 * leads: etcd evaluates the compare atomically with the write.
 */
import type { Etcd3, ICompare, IKeyValue } from "etcd3";

export interface Fence {
  /** The campaign key, `<prefix>/election/<lease id>`. */
  readonly key: string;
  /** Its create revision: the leader's epoch. */
  readonly createRevision: string;
  readonly leaseId: string;
}

export function fenceCompares(fence: Fence): ICompare[] {
  const key = Buffer.from(fence.key);
  return [
    { key, target: "Create", result: "Equal", create_revision: fence.createRevision },
    { key, target: "Lease", result: "Equal", lease: fence.leaseId },
  ];
}

/** Whether `kv` (the campaign key as read now, undefined if absent) still stands for `fence`. */
export function fenceHolds(fence: Fence, kv: IKeyValue | undefined): boolean {
  return kv !== undefined && kv.create_revision === fence.createRevision && kv.lease === fence.leaseId;
}

/**
 * Deletes the campaign key, and `alsoKeys` (the published leader), if the
 * key is still this fence's: a standby sees the leader gone at once. Best
 * effort with a deadline, like the lease revoke that follows it (which
 * deletes the keys too, if this could not).
 */
export async function deleteFenced(
  client: Etcd3,
  fence: Fence,
  alsoKeys: string[] = [],
  timeoutMs = 2_000,
): Promise<void> {
  const deletes = [fence.key, ...alsoKeys].map((key) => ({ request_delete_range: { key: Buffer.from(key) } }));
  await client.kv
    .txn({ compare: fenceCompares(fence), success: deletes }, { deadline: Date.now() + timeoutMs })
    .catch(() => undefined);
}
