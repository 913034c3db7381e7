/**
 * What a master holds while it leads, and the ways it ends:
 *
 *   elected ──┬─ lease lost (etcd3 keep-alive says invalid)     ─┐
 *             ├─ no keep-alive answer for a whole TTL            ├──> lost (resolves `lost`,
 *             ├─ campaign key deleted or replaced                │     revokes the lease)
 *             ├─ a fenced write refused by etcd                  │
 *             └─ resign()                                        ─┘
 *
 * Clients and standbys learn of it only when the master announces itself
 * (`announce()`, once it has recovered and serves): a leader they could
 * find but not yet use would only send them into a backoff.
 *
 * On the way out it deletes its campaign key and the announcement (if
 * still its own) and revokes the lease, best effort: a standby need not
 * wait out the TTL.
 *
 * Losing is final: a master that wants to lead again campaigns anew and
 * gets a new epoch.
 */
import type { Etcd3, Watcher } from "etcd3";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { type EtcdKeys, encodeMasterInfo } from "../../etcd/keys.js";
import { cancelQuietly } from "../../etcd/quietly.js";
import type { Logger } from "../../log.js";
import type { RegistryStore } from "../registry.js";
import type { Elected } from "./campaign.js";
import { LeadershipLostError } from "./errors.js";
import { deleteFenced, fenceCompares } from "./fence.js";
import { openFencedRegistry, type RegistryRecovery } from "./fenced-registry.js";
import { isTransientEtcdError } from "./leader-calls.js";
import type { RegistryMirror } from "./registry-mirror.js";

export interface Leadership {
  /** The campaign key's create revision: grows with each new leader, so agents can drop a deposed leader's messages. */
  readonly epoch: bigint;
  /** The registry as this leader: every write is fenced by this leadership. */
  readonly registry: RegistryStore;
  /** Resolves (never rejects) with why leadership ended; the master must stop acting as leader then. */
  readonly lost: Promise<Error>;
  /** How this leader came by its registry: caught up from what it followed, or read whole (none for the in-memory twin). */
  readonly recovery?: RegistryRecovery;
  /**
   * Publishes this master as the leader (`<prefix>/leader`, on its lease,
   * fenced), for clients and standbys to follow. Resolves once stored;
   * rejects only if leadership is lost first.
   */
  announce(): Promise<void>;
  /** Gives up leadership: deletes the campaign key and revokes the lease, so a standby takes over at once. */
  resign(): Promise<void>;
}

export interface LeadershipOptions {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly elected: Elected;
  /** What `announce()` publishes. */
  readonly info: MasterInfo;
  readonly ttlSeconds: number;
  readonly logger: Logger;
  /** The registry as followed while campaigning (registry-follower.ts), if any. */
  readonly mirror?: RegistryMirror;
}

/** Starts watching over an elected candidacy and opens the fenced registry. Rejects (having revoked the lease) if leadership is already gone. */
export async function startLeadership(options: LeadershipOptions): Promise<Leadership> {
  const { client, elected, ttlSeconds, logger } = options;
  const { fence, lease } = elected;
  let lostError: LeadershipLostError | undefined;
  let resolveLost: (error: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => (resolveLost = resolve));
  let watcher: Watcher | undefined;
  let released: Promise<void> = Promise.resolve();
  let deadlineTimer: NodeJS.Timeout | undefined;
  let unsubscribeLease = (): void => undefined;

  const markLost = (error: LeadershipLostError): void => {
    if (lostError !== undefined) return;
    lostError = error;
    clearInterval(deadlineTimer);
    unsubscribeLease();
    logger.warn({ epoch: fence.createRevision, reason: error.message }, "leadership lost");
    released = Promise.all([
      cancelQuietly(watcher),
      deleteFenced(client, fence, [options.keys.leader]).then(() => lease.revoke()),
    ]).then(() => undefined);
    resolveLost(error);
  };

  unsubscribeLease = lease.onLost((error) =>
    markLost(new LeadershipLostError(`the lease was lost: ${error.message}`, { cause: error })),
  );
  // As etcd's Go client does: a lease not confirmed for a whole TTL may
  // have expired in etcd, and a standby may lead already. Fencing keeps the
  // registry safe either way; this makes the master step down.
  deadlineTimer = setInterval(
    () => {
      const silentMs = Date.now() - lease.lastKeepAlive();
      if (silentMs > ttlSeconds * 1000)
        markLost(
          new LeadershipLostError(
            `etcd confirmed no keep-alive of the lease for ${Math.round(silentMs / 1000)} s (TTL ${ttlSeconds} s)`,
          ),
        );
    },
    (ttlSeconds * 1000) / 4,
  );
  if (lostError !== undefined) clearInterval(deadlineTimer);

  try {
    const {
      store: registry,
      revision,
      recovery,
    } = await openFencedRegistry({
      client,
      fence,
      key: options.keys.registry,
      isLost: () => lostError,
      fenceFailed: markLost,
      // For as long as this master leads: the lease keeper decides that on
      // its own connection, so a write is never given up while the lease
      // holds. Stepping down because etcd was slow to commit a fleet's
      // admissions only started the whole fleet's registration again.
      transientRetryMs: Number.POSITIVE_INFINITY,
      mirror: options.mirror,
    });
    // From just after the fenced read that saw the key ours: nothing that
    // happens to it later is missed, and a history compacted since the key
    // was created (a standby may wait for hours) does not matter.
    watcher = await client
      .watch()
      .key(fence.key)
      .startRevision((BigInt(revision) + 1n).toString())
      .create();
    watcher.on("delete", () => markLost(new LeadershipLostError(`the campaign key ${fence.key} was deleted`)));
    watcher.on("put", (kv) => {
      if (kv.create_revision !== fence.createRevision || kv.lease !== fence.leaseId)
        markLost(new LeadershipLostError(`the campaign key ${fence.key} was replaced`));
    });
    // etcd cancelled the watch: a leader that cannot see its key stands down.
    watcher.on("error", (error) =>
      markLost(new LeadershipLostError(`lost the watch on the campaign key: ${error.message}`, { cause: error })),
    );
    if (lostError !== undefined) await cancelQuietly(watcher);
    logger.info({ epoch: fence.createRevision, key: fence.key, registry: recovery }, "elected leader");
    return {
      epoch: BigInt(fence.createRevision),
      registry,
      lost,
      recovery,
      async announce() {
        const put = {
          request_put: {
            key: Buffer.from(options.keys.leader),
            value: encodeMasterInfo(options.info),
            lease: fence.leaseId,
          },
        };
        for (let attempt = 0; ; attempt++) {
          if (lostError !== undefined) throw lostError;
          try {
            const result = await client.kv.txn(
              { compare: fenceCompares(fence), success: [put] },
              { deadline: Date.now() + ttlSeconds * 1000 },
            );
            if (result.succeeded) return;
            markLost(new LeadershipLostError(`the campaign key ${fence.key} no longer stands: cannot announce`));
          } catch (err) {
            // etcd unreachable for now: the lease decides whether this
            // master still leads; until then, keep trying. Anything else
            // (say, etcd's access rules refuse the key) would leave a leader
            // no client can find: step down and say why.
            if (!isTransientEtcdError(err)) {
              markLost(
                new LeadershipLostError(
                  `cannot announce leadership at ${options.keys.leader}: ${err instanceof Error ? err.message : String(err)}`,
                  { cause: err },
                ),
              );
              continue;
            }
            if (attempt === 0)
              logger.warn(
                { error: String(err) },
                "cannot announce leadership in etcd yet; retrying until it works or the lease is lost",
              );
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      },
      async resign() {
        markLost(new LeadershipLostError("resigned"));
        await released;
      },
    };
  } catch (err) {
    markLost(
      err instanceof LeadershipLostError
        ? err
        : new LeadershipLostError(`could not start leading: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          }),
    );
    await released;
    throw err;
  }
}
