/**
 * Who leads. A master serves only while it holds a term: the embedded
 * backend (one master, no etcd) grants one at once and never takes it back;
 * the etcd backend (src/master/etcd) grants one to the winner of the
 * election and ends it when the lease is lost.
 */
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import { openEmbeddedRegistry, type RegistryStore } from "./registry.js";

/** A master's time as leader. */
export interface Term {
  /** Grows with each new leader; agents ignore orders from an older one. */
  readonly epoch: bigint;
  /** The registry, written as this leader (fenced, with etcd). */
  readonly registry: RegistryStore;
  /** Resolves with why the term ended; the master must stop acting as leader then. */
  readonly lost: Promise<Error>;
  /**
   * Tells clients and standbys this master leads, once it serves: until
   * then `leader()` names no one (or the last leader, until its term ends).
   */
  announce(): Promise<void>;
  /** Ends the term on purpose (shutdown, or a term the master ended itself), so a standby can take over at once. */
  resign(): Promise<void>;
}

export interface Election {
  /** Resolves once this master leads, with its registry loaded. */
  campaign(info: MasterInfo, signal?: AbortSignal): Promise<Term>;
  /** The leader that announced itself, if any. */
  leader(): Promise<MasterInfo | undefined>;
  /** Calls back with the leader now, then at every change. */
  watchLeader(onChange: (leader: MasterInfo | undefined) => void): { close(): void };
  close(): Promise<void>;
}

/** One master on the embedded registry (a file in `workDir`, or memory): it always leads. */
export function createEmbeddedElection(workDir: string | undefined): Election {
  // Opened now, so a registry that cannot be read stops the master at start
  // with the reason, rather than fail every campaign.
  const registry = openEmbeddedRegistry(workDir);
  let leader: MasterInfo | undefined;
  const watchers = new Set<(leader: MasterInfo | undefined) => void>();
  return {
    async campaign(info) {
      await registry.apply({ kind: "start-term" });
      return {
        epoch: registry.current.terms,
        registry,
        lost: new Promise<Error>(() => undefined),
        announce: () => {
          leader = info;
          for (const w of watchers) w(leader);
          return Promise.resolve();
        },
        resign: () => Promise.resolve(),
      };
    },
    leader: () => Promise.resolve(leader),
    watchLeader(onChange) {
      watchers.add(onChange);
      onChange(leader);
      return { close: () => watchers.delete(onChange) };
    },
    close: () => Promise.resolve(),
  };
}
