/**
 * etcd's election recipe (as in go.etcd.io/etcd/client/v3/concurrency):
 * each candidate puts `<prefix>/election/<lease id>` on its own lease; the
 * key with the lowest create revision leads; every other candidate waits
 * for the deletion of the key just before its own, then checks again. No
 * herd: each waits on one key.
 *
 *   grant lease ──> put key (create revision R) ──> predecessor below R? ──no──> elected
 *                                                     │ yes        ▲
 *                                                     ▼            │
 *                                              wait for its deletion
 *
 * Losing the lease (or an abort) while waiting revokes it and rejects.
 */
import type { Etcd3 } from "etcd3";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { type EtcdKeys, encodeMasterInfo, prefixEnd } from "../../etcd/keys.js";
import { cancelQuietly } from "../../etcd/quietly.js";
import { LeadershipLostError } from "./errors.js";
import type { Fence } from "./fence.js";
import type { TrackedLease } from "./lease-keeper.js";

/** Resolves when `key` is deleted at or after `fromRevision`; rejects on abort or lease loss. */
async function waitForDeletion(
  client: Etcd3,
  key: Buffer,
  fromRevision: bigint,
  lease: TrackedLease,
  signal: AbortSignal | undefined,
): Promise<void> {
  const watcher = await client.watch().key(key).startRevision(fromRevision.toString()).create();
  let cleanup = (): void => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      watcher.on("error", reject);
      const onAbort = () => reject(signal?.reason instanceof Error ? signal.reason : new Error("campaign aborted"));
      const unsubscribe = lease.onLost((error) =>
        reject(new LeadershipLostError(`the lease was lost while campaigning: ${error.message}`, { cause: error })),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      watcher.on("delete", () => resolve());
      cleanup = () => {
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) onAbort();
    });
  } finally {
    cleanup();
    await cancelQuietly(watcher);
  }
}

/** The candidate's lease and campaign key, once it leads. */
export interface Elected {
  readonly lease: TrackedLease;
  readonly fence: Fence;
}

/** Campaigns until elected. On abort or lease loss, revokes the lease (removing the key) and rejects. */
export async function campaignUntilElected(
  client: Etcd3,
  keys: EtcdKeys,
  info: MasterInfo,
  grantLease: () => Promise<TrackedLease>,
  signal?: AbortSignal,
): Promise<Elected> {
  signal?.throwIfAborted();
  const lease = await grantLease();
  try {
    const key = `${keys.electionPrefix}${BigInt(lease.id).toString(16)}`;
    const put = await client.kv.txn({
      compare: [{ key: Buffer.from(key), target: "Create", result: "Equal", create_revision: 0 }],
      success: [{ request_put: { key: Buffer.from(key), value: encodeMasterInfo(info), lease: lease.id } }],
      failure: [{ request_range: { key: Buffer.from(key) } }],
    });
    // The key can already exist only if the client retried this very put
    // after losing the first answer: then it is on our lease, and ours.
    const existing = put.succeeded ? undefined : put.responses[0]?.response_range.kvs[0];
    if (!put.succeeded && existing?.lease !== lease.id)
      throw new Error(`the campaign key ${key} exists on another lease`);
    const createRevision = BigInt(existing?.create_revision ?? put.header.revision);
    for (;;) {
      signal?.throwIfAborted();
      const lost = lease.lostError();
      if (lost !== undefined)
        throw new LeadershipLostError(`the lease was lost while campaigning: ${lost.message}`, { cause: lost });
      const before = await client.kv.range({
        key: Buffer.from(keys.electionPrefix),
        range_end: prefixEnd(keys.electionPrefix),
        max_create_revision: (createRevision - 1n).toString(),
        sort_target: "Create",
        sort_order: "Descend",
        limit: 1,
      });
      const predecessor = before.kvs[0];
      if (predecessor === undefined)
        return { lease, fence: { key, createRevision: createRevision.toString(), leaseId: lease.id } };
      await waitForDeletion(client, predecessor.key, BigInt(before.header.revision) + 1n, lease, signal);
    }
  } catch (err) {
    await lease.revoke();
    throw err;
  }
}
