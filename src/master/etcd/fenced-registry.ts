/**
 * The etcd registry backend: a RegistryStore whose every write is one etcd
 * transaction, fenced by the leader's campaign key and compare-and-set on
 * the registry key's mod revision.
 *
 *   txn if   campaign key: create_revision == epoch and lease == ours  (fence)
 *        and registry key: mod_revision == the one we last read        (CAS)
 *       then put registry
 *       else get campaign key, get registry
 *
 * A failed fence means leadership is gone: LeadershipLostError, never a
 * retry. A failed CAS alone means someone else wrote the registry (an
 * operator's etcdctl, a restore): re-read, re-apply the operation, retry a
 * few times.
 */
import { equals } from "@bufbuild/protobuf";
import { type Etcd3, type IKeyValue, isRecoverableError } from "etcd3";
import { RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { emptyRegistry, type Registry, type RegistryOperation } from "../../core/registry/registry.js";
import { createRegistryBook } from "../../core/registry/registry-book.js";
import type { RegistryStore } from "../registry.js";
import { LeadershipLostError } from "./errors.js";
import { type Fence, fenceCompares, fenceHolds } from "./fence.js";
import { decodeRegistry, encodeRegistry } from "./registry-value.js";

/** How often a write re-reads and retries after someone else changed the registry. */
const MAX_CONFLICTS = 5;
const TRANSIENT_RETRY_MS = 250;
/**
 * Operations that need no etcd round trip (no-ops) run back to back as one
 * chain of microtasks; a long burst of them starved the lease's keep-alive
 * timers, and a new leader re-admitting 400 agents lost its lease that way.
 * After this long without a turn of the event loop, the queue yields one.
 */
const YIELD_AFTER_MS = 20;

export interface FencedRegistryOptions {
  readonly client: Etcd3;
  readonly fence: Fence;
  /** The registry key, `<prefix>/registry`. */
  readonly key: string;
  /** The leadership's own verdict (lease lost, key deleted), checked before each attempt. */
  isLost(): LeadershipLostError | undefined;
  /** Called when etcd refused a write because the fence failed. */
  fenceFailed(error: LeadershipLostError): void;
  /** How long a write keeps retrying while etcd is unreachable (leadership loss ends it sooner). */
  readonly transientRetryMs: number;
}

/**
 * Transient errors (etcd restarting, a leader election inside etcd) are
 * retried while leadership lasts. A retried transaction may have committed
 * the first time; the CAS then fails and `applyOnce` recognises its own
 * write.
 */
async function withTransientRetry<T>(options: FencedRegistryOptions, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + options.transientRetryMs;
  for (;;) {
    const lost = options.isLost();
    if (lost !== undefined) throw lost;
    try {
      return await call();
    } catch (err) {
      const transient = err instanceof Error && (isRecoverableError(err) || err.name === "BrokenCircuitError");
      if (!transient || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, TRANSIENT_RETRY_MS));
  }
}

/**
 * Each etcd call gives up after this long (and is retried as transient
 * while leadership lasts): a partitioned etcd must not hold a write, and
 * the master's step-down behind it, for ever.
 */
const CALL_DEADLINE_MS = 5_000;
const callDeadline = () => ({ deadline: new Date(Date.now() + CALL_DEADLINE_MS) });

function lostBecause(options: FencedRegistryOptions, what: string): LeadershipLostError {
  const error = new LeadershipLostError(
    `etcd refused the ${what}: the campaign key ${options.fence.key} (epoch ${options.fence.createRevision}) is gone or no longer ours`,
  );
  options.fenceFailed(error);
  return error;
}

/** Reads the registry under the fence: throws LeadershipLostError if leadership is already gone. */
async function readFenced(
  options: FencedRegistryOptions,
): Promise<{ stored: IKeyValue | undefined; revision: string }> {
  const key = Buffer.from(options.key);
  const response = await withTransientRetry(options, () =>
    options.client.kv.txn(
      { compare: fenceCompares(options.fence), success: [{ request_range: { key } }] },
      callDeadline(),
    ),
  );
  if (!response.succeeded) throw lostBecause(options, "registry read");
  return { stored: response.responses[0]?.response_range.kvs[0], revision: response.header.revision };
}

export interface OpenedRegistry {
  readonly store: RegistryStore;
  /** The etcd revision at which the fence was seen to hold and the registry was read. */
  readonly revision: string;
}

/** An operation waiting for the next write. */
interface Pending {
  readonly operation: RegistryOperation;
  resolve(changed: boolean): void;
  reject(error: unknown): void;
}

/** Opens the registry as the leader that `options.fence` describes. */
export async function openFencedRegistry(options: FencedRegistryOptions): Promise<OpenedRegistry> {
  const { stored, revision } = await readFenced(options);
  const decode = (kv: IKeyValue | undefined): Registry =>
    kv === undefined ? emptyRegistry() : decodeRegistry(kv.value, options.key);
  // What etcd holds, as last written or read, and a book of it to apply
  // operations to in place: an operation costs what it changes (the encoding
  // of the whole value per write is what is left to share, by group commit).
  let committed = decode(stored);
  let book = createRegistryBook(committed);
  // 0 is what etcd compares against for a key that does not exist yet.
  let modRevision = stored?.mod_revision ?? "0";
  const key = Buffer.from(options.key);
  const fenceKey = Buffer.from(options.fence.key);

  /** Writes the operations as one fenced compare-and-set, retrying on conflicts; resolves with each one's `changed`. */
  const writeBatch = async (operations: RegistryOperation[]): Promise<boolean[]> => {
    for (let conflicts = 0; ; conflicts++) {
      const changed = operations.map((operation) => book.apply(operation));
      if (!changed.includes(true)) return changed;
      const next = book.snapshot();
      let response: Awaited<ReturnType<typeof options.client.kv.txn>>;
      try {
        const value = encodeRegistry(next);
        response = await withTransientRetry(options, () =>
          options.client.kv.txn(
            {
              compare: [
                ...fenceCompares(options.fence),
                { key, target: "Mod", result: "Equal", mod_revision: modRevision },
              ],
              success: [{ request_put: { key, value } }],
              failure: [{ request_range: { key: fenceKey } }, { request_range: { key } }],
            },
            callDeadline(),
          ),
        );
      } catch (err) {
        // Not stored: the book goes back to what etcd holds.
        book = createRegistryBook(committed);
        throw err;
      }
      // The answer came through the event loop: the slice starts again.
      sliceStart = performance.now();
      if (response.succeeded) {
        committed = next;
        modRevision = response.header.revision;
        return changed;
      }
      if (!fenceHolds(options.fence, response.responses[0]?.response_range.kvs[0])) {
        book = createRegistryBook(committed);
        throw lostBecause(options, "registry write");
      }
      const now = response.responses[1]?.response_range.kvs[0];
      committed = decode(now);
      book = createRegistryBook(committed);
      modRevision = now?.mod_revision ?? "0";
      // Our own write, committed by an attempt whose answer we never got.
      if (equals(RegistrySchema, committed, next)) return changed;
      if (conflicts >= MAX_CONFLICTS)
        throw new Error(
          `the registry at ${options.key} kept changing under the leader (${MAX_CONFLICTS + 1} attempts); is something else writing it?`,
        );
    }
  };

  /**
   * A batch is all or nothing, but one operation's failure must stay its
   * own (as if each were written alone): after a failure other than lost
   * leadership, the batch's operations are written again one by one.
   */
  const settle = async (batch: Pending[]): Promise<void> => {
    try {
      const changed = await writeBatch(batch.map((p) => p.operation));
      batch.forEach((p, i) => p.resolve(changed[i] ?? false));
    } catch (err) {
      if (batch.length === 1 || err instanceof LeadershipLostError) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await settle([p]);
    }
  };

  /**
   * Group commit, as Mesos' registrar does: operations that arrive while a
   * write is in flight are applied together, in call order, and stored with
   * the next write, so concurrent callers share round trips (and the
   * encoding of the registry) instead of queueing one round trip each.
   */
  const pending: Pending[] = [];
  let draining = false;
  let sliceStart = performance.now();
  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (pending.length > 0) {
        if (performance.now() - sliceStart > YIELD_AFTER_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
        await settle(pending.splice(0));
      }
    } finally {
      draining = false;
    }
  };

  const store: RegistryStore = {
    get current() {
      return committed;
    },
    location: `etcd ${options.key}`,
    apply(operation) {
      return new Promise<boolean>((resolve, reject) => {
        pending.push({ operation, resolve, reject });
        if (!draining) void drain();
      });
    },
  };
  return { store, revision };
}
