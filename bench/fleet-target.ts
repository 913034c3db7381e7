/**
 * Which master a whole simulated fleet dials: one leader lookup for the
 * fleet (src/client/masters.ts's locator, so `host:port`, a list and
 * `etcd://` mean what they mean to a real agent), not one per agent.
 *
 * The target is kept until it fails: a connection to it fails or a stream
 * is refused without a hint (a list then moves on to its next master; etcd
 * names its leader again), a standby names another leader, or etcd
 * announces a new one. Each of those is acted on once, by whichever agent
 * reports it first about the master still targeted.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createMasterLocator, type MasterLocator } from "../src/client/masters.js";
import { LEADER_HEADER } from "../src/wire/masters.js";

export interface FleetTarget {
  /** The master to dial, when known without asking (else `resolve`). */
  readonly current: string | undefined;
  /** Asks the locator once for the whole fleet; rejects when it names none (no leader in etcd). */
  resolve(): Promise<string>;
  /** Dialling `baseUrl` failed (or it refused without naming a leader). */
  failed(baseUrl: string): void;
  /** `baseUrl` refused as a standby, naming `leader`. */
  refused(baseUrl: string, leader: string): void;
  /**
   * etcd only: `onLeader` runs each time etcd names a leader, which the
   * target already is by then (even if a standby's hint got there first:
   * streams on a frozen former leader must still be left). A change to no leader is not reported:
   * waking agents to find none would only cost them an attempt.
   */
  follow(onLeader: (baseUrl: string) => void): void;
  close(): Promise<void>;
}

export function createFleetTarget(spec: string): FleetTarget {
  const locator: MasterLocator = createMasterLocator(spec);
  let current: string | undefined;
  let pending: Promise<string> | undefined;
  const stop = new AbortController();

  const watch = (onLeader: (baseUrl: string) => void): void => {
    void locator.leaderChanged?.(stop.signal).then(() => {
      if (stop.signal.aborted) return;
      const leader = locator.announced?.();
      if (leader !== undefined) {
        current = leader;
        onLeader(leader);
      }
      watch(onLeader);
    });
  };

  return {
    get current() {
      return current;
    },
    resolve() {
      pending ??= locator.next().then(
        (target) => {
          pending = undefined;
          current = target;
          return target;
        },
        (err: unknown) => {
          pending = undefined;
          throw err;
        },
      );
      return pending;
    },
    failed(baseUrl) {
      if (current === baseUrl) current = undefined;
    },
    refused(baseUrl, leader) {
      if (current !== baseUrl && current !== undefined) return;
      // The locator's own rule for a standby's hint (normalised, used once by next()).
      const refusal = new ConnectError("not the leading master", Code.Unavailable);
      refusal.metadata.set(LEADER_HEADER, leader);
      locator.learn(refusal);
      current = undefined;
    },
    follow: watch,
    async close() {
      stop.abort();
      await locator.close();
    },
  };
}
