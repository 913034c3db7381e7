/**
 * The in-memory twin of the etcd coordinator, for tests of the master's
 * HA logic without an etcd: several coordinators share one `MemoryElection`
 * as masters share one etcd. Same contract: the lowest campaign leads, the
 * leader's registry writes are fenced (a deposed leader's `apply` rejects
 * with LeadershipLostError), `lost` resolves once, `leader` and
 * `watchLeader` report the leader once it has announced itself. `expireLeader()` plays a lease running
 * out (a paused or partitioned leader).
 */
import { clone } from "@bufbuild/protobuf";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type Registry } from "../../core/registry/registry.js";
import type { RegistryStore } from "../registry.js";
import type { EtcdCoordinator, LeaderWatch } from "./coordinator.js";
import { LeadershipLostError } from "./errors.js";
import type { Leadership } from "./leadership.js";

export interface MemoryElection {
  /** A coordinator of one more master. */
  coordinator(): EtcdCoordinator;
  /** Ends the current leader's lease: it is deposed and the next candidate leads. */
  expireLeader(): void;
  /** What the registry holds now. */
  readonly registry: Registry;
}

interface Candidate {
  readonly revision: bigint;
  readonly info: MasterInfo;
  elected(): void;
  /** Leadership or candidacy ends; `error` says why. */
  end(error: Error): void;
}

export function createMemoryElection(): MemoryElection {
  let revision = 0n;
  let registry = emptyRegistry();
  const candidates: Candidate[] = [];
  const watchers = new Set<() => void>();
  let elected: bigint | undefined;
  // The announced leader: `<prefix>/leader` in etcd, gone with its lease.
  let published: Candidate | undefined;

  const leader = (): Candidate | undefined => candidates[0];
  const changed = () => {
    const first = leader();
    if (first !== undefined && first.revision !== elected) {
      elected = first.revision;
      first.elected();
    }
    // Later, as an etcd watch event would arrive.
    for (const notify of watchers) queueMicrotask(notify);
  };
  const remove = (candidate: Candidate, error: Error) => {
    const index = candidates.indexOf(candidate);
    if (index < 0) return;
    candidates.splice(index, 1);
    if (published === candidate) published = undefined;
    candidate.end(error);
    changed();
  };

  const leadership = (candidate: Candidate, lost: Promise<Error>): Leadership => {
    const isLeader = () => leader() === candidate;
    let current = clone(RegistrySchema, registry);
    let queue: Promise<unknown> = Promise.resolve();
    const store: RegistryStore = {
      get current() {
        return current;
      },
      location: "memory election",
      apply(operation) {
        const result = queue.then(() => {
          // The fence: only the campaign that still leads may write.
          if (!isLeader())
            throw new LeadershipLostError(
              `the registry write was refused: epoch ${candidate.revision} no longer leads`,
            );
          const next = applyRegistryOperation(registry, operation);
          registry = next.registry;
          current = clone(RegistrySchema, registry);
          return next.changed;
        });
        queue = result.catch(() => undefined);
        return result;
      },
    };
    return {
      epoch: candidate.revision,
      registry: store,
      lost,
      announce: () => {
        if (!isLeader())
          return Promise.reject(
            new LeadershipLostError(`epoch ${candidate.revision} no longer leads: cannot announce`),
          );
        published = candidate;
        changed();
        return Promise.resolve();
      },
      resign: () => {
        remove(candidate, new LeadershipLostError("resigned"));
        return Promise.resolve();
      },
    };
  };

  const coordinator = (): EtcdCoordinator => {
    const own = new Set<Candidate>();
    const watches = new Set<LeaderWatch>();
    let closed = false;
    return {
      campaign(info, signal) {
        if (closed) return Promise.reject(new Error("the coordinator is closed"));
        if (signal?.aborted)
          return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("campaign aborted"));
        return new Promise<Leadership>((resolve, reject) => {
          let resolveLost: (error: Error) => void = () => undefined;
          const lost = new Promise<Error>((r) => (resolveLost = r));
          let leading = false;
          const onAbort = () =>
            remove(candidate, signal?.reason instanceof Error ? signal.reason : new Error("campaign aborted"));
          const candidate: Candidate = {
            revision: ++revision,
            info,
            elected: () => {
              leading = true;
              signal?.removeEventListener("abort", onAbort);
              resolve(leadership(candidate, lost));
            },
            end: (error) => {
              own.delete(candidate);
              signal?.removeEventListener("abort", onAbort);
              if (leading)
                resolveLost(
                  error instanceof LeadershipLostError
                    ? error
                    : new LeadershipLostError(error.message, { cause: error }),
                );
              else reject(error);
            },
          };
          own.add(candidate);
          signal?.addEventListener("abort", onAbort, { once: true });
          candidates.push(candidate);
          changed();
        });
      },
      leader: () => Promise.resolve(published?.info),
      watchLeader(onChange) {
        let reported: bigint | null | undefined;
        const notify = () => {
          const id = published?.revision ?? null;
          if (id === reported) return;
          reported = id;
          onChange(published?.info);
        };
        const guarded = () => {
          if (watchers.has(guarded)) notify();
        };
        watchers.add(guarded);
        queueMicrotask(guarded);
        const watch: LeaderWatch = {
          close() {
            watchers.delete(guarded);
            watches.delete(watch);
          },
        };
        watches.add(watch);
        return watch;
      },
      close() {
        closed = true;
        for (const watch of [...watches]) watch.close();
        for (const candidate of [...own]) remove(candidate, new LeadershipLostError("the coordinator closed"));
        return Promise.resolve();
      },
    };
  };

  return {
    coordinator,
    expireLeader() {
      const first = leader();
      if (first !== undefined) remove(first, new LeadershipLostError("the lease expired"));
    },
    get registry() {
      return registry;
    },
  };
}
