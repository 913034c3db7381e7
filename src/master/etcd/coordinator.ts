/**
 * The etcd coordinator: one etcd connection per master, through which it
 * campaigns for leadership, and through which standbys and clients find the
 * leader. See README.md in this folder for the key layout and failure modes.
 */
import type { Etcd3 } from "etcd3";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import type { Logger } from "../../log.js";
import { campaignUntilElected } from "./campaign.js";
import { createEtcdClient, type EtcdTlsFiles } from "./client.js";
import { etcdKeys } from "./keys.js";
import { watchLeaderLiveness } from "./leader-liveness.js";
import { decodeLeader, readLeaderKv, watchAnnouncedLeader, watchLeader, type LeaderWatch } from "./leader-watch.js";
import { startLeadership, type Leadership } from "./leadership.js";

export interface EtcdCoordinatorOptions {
  /** host:port of each etcd member. */
  readonly endpoints: string[];
  /** Key prefix, e.g. "/plateau" (see parseEtcdUrl). */
  readonly prefix: string;
  /** The campaign lease's TTL (--election-ttl): how long a dead leader keeps the cluster leaderless. etcd's minimum is about 2 s. */
  readonly electionTtlSeconds: number;
  readonly tls?: EtcdTlsFiles;
  readonly logger: Logger;
}

export interface EtcdCoordinator {
  /**
   * Campaigns with `info` as this master's published MasterInfo; resolves
   * once elected and the registry is loaded. Rejects on abort (withdrawing
   * the candidacy), if the lease is lost while waiting, or if etcd fails; a
   * master campaigns again after a rejection or after `lost`.
   */
  campaign(info: MasterInfo, signal?: AbortSignal): Promise<Leadership>;
  /** The announced leader's MasterInfo, or undefined while there is none. */
  leader(): Promise<MasterInfo | undefined>;
  /**
   * Calls `onChange` with the announced leader once, then each time that
   * changes (undefined while there is none). Calls never overlap.
   */
  watchLeader(onChange: (leader: MasterInfo | undefined) => void): LeaderWatch;
  /** Resigns any leadership, withdraws pending campaigns, stops watches, closes the connection. */
  close(): Promise<void>;
}

export type { LeaderWatch };

export function createEtcdCoordinator(options: EtcdCoordinatorOptions): EtcdCoordinator {
  if (!Number.isInteger(options.electionTtlSeconds) || options.electionTtlSeconds < 1) {
    throw new Error(`the election TTL must be a whole number of seconds, at least 1 (got ${options.electionTtlSeconds})`);
  }
  const client: Etcd3 = createEtcdClient(options.endpoints, options.tls);
  const keys = etcdKeys(options.prefix);
  const { logger } = options;
  const leaderships = new Set<Leadership>();
  const campaigns = new Map<AbortController, Promise<unknown>>();
  const watches = new Set<LeaderWatch>();
  let closed = false;

  const follow = (onChange: (leader: MasterInfo | undefined) => void): LeaderWatch => {
    const inner = watchLeader(client, keys, logger, onChange);
    const watch: LeaderWatch = {
      close() {
        inner.close();
        watches.delete(watch);
      },
    };
    watches.add(watch);
    return watch;
  };

  return {
    async campaign(info, signal) {
      if (closed) throw new Error("the etcd coordinator is closed");
      const controller = new AbortController();
      const both = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]);
      // While it waits, a candidate watches the leader's process, so a crash
      // costs no TTL (leader-liveness.ts).
      const liveness = watchLeaderLiveness({ client, selfId: info.id, logger, follow: (onChange) => watchAnnouncedLeader(client, keys, logger, onChange) });
      const running = (async () => {
        const elected = await campaignUntilElected(client, keys, info, options.electionTtlSeconds, both).finally(() => liveness.close());
        const leadership = await startLeadership({ client, keys, elected, info, ttlSeconds: options.electionTtlSeconds, logger });
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
    async leader() {
      return decodeLeader(await readLeaderKv(client, keys));
    },
    watchLeader: follow,
    async close() {
      if (closed) return;
      closed = true;
      for (const watch of [...watches]) watch.close();
      for (const controller of campaigns.keys()) controller.abort(new Error("the etcd coordinator is closing"));
      // A campaign revokes its own lease as it gives up; let it, before the
      // connection goes.
      await Promise.allSettled(campaigns.values());
      await Promise.all([...leaderships].map((l) => l.resign()));
      client.close();
    },
  };
}
