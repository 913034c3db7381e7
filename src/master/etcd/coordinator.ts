/**
 * The etcd coordinator: one etcd connection per master, through which it
 * campaigns for leadership and, as a standby, follows the announced leader
 * (src/etcd/leader-follower.ts, which clients use on their own). See
 * README.md in this folder for the failure modes, src/etcd/keys.ts for the
 * key layout.
 */
import type { Etcd3 } from "etcd3";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { createEtcdClient, type EtcdTlsFiles } from "../../etcd/client.js";
import { etcdKeys } from "../../etcd/keys.js";
import { followLeaderOn, type LeaderFollower } from "../../etcd/leader-follower.js";
import { type LeaderWatch, watchAnnouncedLeader } from "../../etcd/leader-watch.js";
import type { Logger } from "../../log.js";
import { campaignUntilElected } from "./campaign.js";
import { watchLeaderLiveness } from "./leader-liveness.js";
import { type Leadership, startLeadership } from "./leadership.js";
import { grantKeptLease } from "./lease-keeper.js";
import { followRegistry } from "./registry-follower.js";

export interface EtcdCoordinatorOptions {
  /** host:port of each etcd member. */
  readonly endpoints: string[];
  /** Key prefix, e.g. "/plateau" (see parseEtcdUrl). */
  readonly prefix: string;
  /** The campaign lease's TTL (--election-ttl): how long a dead leader keeps the cluster leaderless. etcd's minimum is about 2 s. */
  readonly electionTtlSeconds: number;
  readonly tls?: EtcdTlsFiles;
  /** How long the leader's event loop may stall before its lease is let go (lease-keeper.ts; default the larger of 10 s and 5 TTLs). */
  readonly leaseStallLimitMs?: number;
  readonly logger: Logger;
}

/** A master's side of the election; `leader()` and `watchLeader()` follow the announced leader. */
export interface EtcdCoordinator extends LeaderFollower {
  /**
   * Campaigns with `info` as this master's published MasterInfo; resolves
   * once elected and the registry is loaded. Rejects on abort (withdrawing
   * the candidacy), if the lease is lost while waiting, or if etcd fails; a
   * master campaigns again after a rejection or after `lost`.
   */
  campaign(info: MasterInfo, signal?: AbortSignal): Promise<Leadership>;
  /** Resigns any leadership, withdraws pending campaigns, stops watches, closes the connection. */
  close(): Promise<void>;
}

export type { LeaderWatch };

export function createEtcdCoordinator(options: EtcdCoordinatorOptions): EtcdCoordinator {
  if (!Number.isInteger(options.electionTtlSeconds) || options.electionTtlSeconds < 1) {
    throw new Error(
      `the election TTL must be a whole number of seconds, at least 1 (got ${options.electionTtlSeconds})`,
    );
  }
  const client: Etcd3 = createEtcdClient(options.endpoints, options.tls);
  const keys = etcdKeys(options.prefix);
  const { logger } = options;
  const leaderships = new Set<Leadership>();
  const campaigns = new Map<AbortController, Promise<unknown>>();
  // Standbys follow the leader on the connection they campaign on.
  const follower = followLeaderOn(client, keys, logger);
  let closed = false;

  return {
    async campaign(info, signal) {
      if (closed) throw new Error("the etcd coordinator is closed");
      const controller = new AbortController();
      const both = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]);
      // While it waits, a candidate watches the leader's process, so a crash
      // costs no TTL (leader-liveness.ts).
      const liveness = watchLeaderLiveness({
        client,
        selfId: info.id,
        logger,
        follow: (onChange) => watchAnnouncedLeader(client, keys, logger, onChange),
      });
      const running = (async () => {
        const grantLease = () =>
          grantKeptLease({
            endpoints: options.endpoints,
            tls: options.tls,
            ttlSeconds: options.electionTtlSeconds,
            stallLimitMs: options.leaseStallLimitMs,
          });
        // While it waits, a candidate also follows the registry, so that
        // winning costs a catch-up rather than a read of every key
        // (registry-follower.ts).
        const follower = followRegistry({
          client: createEtcdClient(options.endpoints, options.tls),
          key: keys.registry,
          logger,
        });
        const elected = await campaignUntilElected(client, keys, info, grantLease, both)
          .finally(() => liveness.close())
          .catch(async (err: unknown) => {
            await follower.stop();
            throw err;
          });
        const leadership = await startLeadership({
          client,
          keys,
          elected,
          info,
          ttlSeconds: options.electionTtlSeconds,
          logger,
          mirror: await follower.stop(),
        });
        leaderships.add(leadership);
        void leadership.lost.then(() => leaderships.delete(leadership));
        return leadership;
      })();
      campaigns.set(controller, running);
      try {
        return await running;
      } finally {
        campaigns.delete(controller);
      }
    },
    leader: follower.leader,
    watchLeader: follower.watchLeader,
    async close() {
      if (closed) return;
      closed = true;
      await follower.close();
      for (const controller of campaigns.keys()) controller.abort(new Error("the etcd coordinator is closing"));
      // A campaign revokes its own lease as it gives up; let it, before the
      // connection goes.
      await Promise.allSettled(campaigns.values());
      await Promise.all([...leaderships].map((l) => l.resign()));
      client.close();
    },
  };
}
