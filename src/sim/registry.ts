/**
 * The registry as the masters share it: one store, fenced as etcd fences
 * the leader's writes (a compare on the leader key in the same
 * transaction), with writes stored in the order they were made, after a
 * delay chance picks, and failing now and then while faults are on.
 *
 * The fence is checked when a write is stored, not when it is made: a
 * write made while leading and stored after a new leader was elected must
 * fail, as etcd's compare fails it.
 */
import type { Registry, RegistryOperation } from "../core/registry/registry.js";
import { emptyRegistry } from "../core/registry/registry.js";
import { createRegistryBook, type RegistryBook } from "../core/registry/registry-book.js";
import type { EventQueue } from "./event-queue.js";
import type { Rng } from "./rng.js";

/** Why a write was not stored. */
export type WriteFailure = "fenced" | "failed";

export interface SimRegistry {
  /** What is stored. */
  readonly current: Registry;
  /** The epoch of the leader the store takes writes from. */
  readonly leaderEpoch: bigint;
  /** A new leader is elected: its `start-term` is stored at once and its epoch returned. */
  elect(): bigint;
  /** Stores `operation` as the leader of `epoch`; `done` hears the outcome once it is known. */
  write(epoch: bigint, operation: RegistryOperation, done: (failure?: WriteFailure) => void): void;
  /** Chance that a write fails (a storage or etcd error) while faults are on. */
  failureRate: number;
  /** Every write stored, with the epoch of the master that made it and the leader's epoch then. */
  readonly commits: ReadonlyArray<{ writer: bigint; leader: bigint; operation: RegistryOperation }>;
}

export function createSimRegistry(queue: EventQueue, rng: Rng): SimRegistry {
  const book: RegistryBook = createRegistryBook(emptyRegistry());
  let leaderEpoch = 0n;
  let lastAt = 0;
  const commits: Array<{ writer: bigint; leader: bigint; operation: RegistryOperation }> = [];
  const registry: SimRegistry = {
    get current() {
      return book.snapshot();
    },
    get leaderEpoch() {
      return leaderEpoch;
    },
    elect() {
      book.apply({ kind: "start-term" });
      leaderEpoch = book.snapshot().terms;
      return leaderEpoch;
    },
    write(epoch, operation, done) {
      lastAt = Math.max(lastAt, queue.now + rng.int(1, 40));
      const fails = rng.chance(registry.failureRate);
      queue.after(lastAt - queue.now, `registry ${operation.kind} (epoch ${epoch})`, () => {
        if (epoch !== leaderEpoch) return done("fenced");
        if (fails) return done("failed");
        book.apply(operation);
        commits.push({ writer: epoch, leader: leaderEpoch, operation });
        done();
      });
    },
    failureRate: 0,
    commits,
  };
  return registry;
}
