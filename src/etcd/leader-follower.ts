/**
 * Following the announced leader (`<prefix>/leader`) from outside the
 * election: how clients find the leading master, and how a master's
 * coordinator answers `leader()` and `watchLeader()` for its standby side.
 * Every watch it starts, it stops on `close()`.
 */
import type { Etcd3 } from "etcd3";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { Logger } from "../log.js";
import { createEtcdClient, type EtcdTlsFiles } from "./client.js";
import { type EtcdKeys, etcdKeys } from "./keys.js";
import { decodeLeader, type LeaderWatch, readLeaderKv, watchLeader } from "./leader-watch.js";

export interface LeaderFollower {
  /** The announced leader's MasterInfo, or undefined while there is none. */
  leader(): Promise<MasterInfo | undefined>;
  /**
   * Calls `onChange` with the announced leader once, then each time that
   * changes (undefined while there is none). Calls never overlap.
   */
  watchLeader(onChange: (leader: MasterInfo | undefined) => void): LeaderWatch;
  /** Stops every watch, and closes the etcd connection if the follower opened it. */
  close(): Promise<void>;
}

export interface LeaderFollowerOptions {
  /** host:port of each etcd member. */
  readonly endpoints: string[];
  /** Key prefix, e.g. "/plateau" (see parseEtcdUrl). */
  readonly prefix: string;
  readonly tls?: EtcdTlsFiles;
  readonly logger: Logger;
}

/** A follower on an etcd connection of its own, which `close()` closes. */
export function createLeaderFollower(options: LeaderFollowerOptions): LeaderFollower {
  const client = createEtcdClient(options.endpoints, options.tls);
  const follower = followLeaderOn(client, etcdKeys(options.prefix), options.logger);
  return {
    leader: follower.leader,
    watchLeader: follower.watchLeader,
    async close() {
      await follower.close();
      client.close();
    },
  };
}

/** A follower on a connection its caller owns: `close()` stops the watches and leaves the connection open. */
export function followLeaderOn(client: Etcd3, keys: EtcdKeys, logger: Logger): LeaderFollower {
  const watches = new Set<LeaderWatch>();
  return {
    async leader() {
      return decodeLeader(await readLeaderKv(client, keys));
    },
    watchLeader(onChange) {
      const inner = watchLeader(client, keys, logger, onChange);
      const watch: LeaderWatch = {
        close() {
          inner.close();
          watches.delete(watch);
        },
      };
      watches.add(watch);
      return watch;
    },
    close() {
      for (const watch of [...watches]) watch.close();
      return Promise.resolve();
    },
  };
}
