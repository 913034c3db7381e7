/**
 * The etcd registry backend: a RegistryStore that keeps each registry entry
 * (an agent, a framework, a role's weight or quota, ...) in its own key and
 * writes only the entries a batch of operations changed, in fenced
 * transactions (registry-txn.ts) with compare-and-set on each written key.
 *
 *   apply(op) ─► queued ─► batch: ops applied to the book in call order,
 *                │          touched entries noted (with their old values)
 *                │                    │
 *                │          one or more fenced transactions (disjoint keys,
 *                │          up to 4 at once; one at a time while the
 *                │          tombstone is still to be put, it goes last)
 *                │          ├─ all written ─► each op's promise resolves
 *                │          ├─ a fence failed ─► undo, LeadershipLostError
 *                │          ├─ none written, a conflict ─► undo, re-read the
 *                │          │    whole registry, apply again (a few times)
 *                │          ├─ none written, an error ─► undo, rethrow
 *                │          └─ some written, some not ─► PartlyStoredError,
 *                │               every later write refused
 *                ▼
 *   group commit: ops arriving while a batch is written form the next one
 *
 * A failed fence means leadership is gone: never a retry. A failed CAS alone
 * means someone else wrote (an operator's etcdctl, a restore): re-read,
 * re-apply, retry. A registry of old (one value at `<prefix>/registry`) is
 * read as it is, and the first write stores it as entries (registry-layout.ts).
 */
import type { Etcd3, IRangeRequest, ITxnRequest } from "etcd3";
import type { Registry, RegistryOperation } from "../../core/registry/registry.js";
import { entriesTouchedBy } from "../../core/registry/registry-entries.js";
import type { RegistryStore } from "../registry.js";
import { LeadershipLostError, PartlyStoredError } from "./errors.js";
import { type Fence, fenceCompares } from "./fence.js";
import { callDeadline, withTransientRetry } from "./leader-calls.js";
import { catchUpMirror } from "./registry-catch-up.js";
import { conversionChanges, type Held, hold, touchedChanges } from "./registry-changes.js";
import { registryLayout } from "./registry-layout.js";
import { heldOf, type RegistryMirror } from "./registry-mirror.js";
import { readRegistry, type StoredRegistry } from "./registry-read.js";
import {
  type ChunkOutcome,
  type ChunkWriter,
  chunkChanges,
  type EntryChange,
  TXN_LIMITS,
  writeChunk,
} from "./registry-txn.js";

/** Transactions of one batch in etcd's hands at once. */
const CHUNKS_IN_FLIGHT = 4;
/** How often a write re-reads and retries after someone else changed the registry. */
const MAX_CONFLICTS = 5;
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
  /** The registry key, `<prefix>/registry`; entries live under it followed by '/'. */
  readonly key: string;
  /** The leadership's own verdict (lease lost, key deleted), checked before each attempt. */
  isLost(): LeadershipLostError | undefined;
  /** Called when etcd refused a write because the fence failed. */
  fenceFailed(error: LeadershipLostError): void;
  /** How long a write keeps retrying while etcd is unreachable (leadership loss ends it sooner). */
  readonly transientRetryMs: number;
  /** etcd's --max-txn-ops and a share of --max-request-bytes (defaults: etcd's defaults). */
  readonly txnLimits?: { maxOps: number; maxBytes: number };
  /** Keys per page when reading the registry (default registry-read.ts's PAGE_KEYS). */
  readonly pageKeys?: number;
  /**
   * The registry as this master followed it while it waited to lead
   * (registry-follower.ts): caught up to the revision where the fence
   * holds instead of read whole. The store takes it over and changes it.
   */
  readonly mirror?: RegistryMirror;
}

function lostBecause(options: FencedRegistryOptions, what: string): LeadershipLostError {
  const error = new LeadershipLostError(
    `etcd refused the ${what}: the campaign key ${options.fence.key} (epoch ${options.fence.createRevision}) is gone or no longer ours`,
  );
  options.fenceFailed(error);
  return error;
}

/** How a new leader came by its registry. */
export type RegistryRecovery =
  | { readonly kind: "caught-up"; readonly changed: number; readonly deleted: number; readonly ms: number }
  | { readonly kind: "read"; readonly why: string; readonly ms: number };

export interface OpenedRegistry {
  readonly store: RegistryStore;
  /** The etcd revision at which the fence was seen to hold and the registry was read. */
  readonly revision: string;
  readonly recovery: RegistryRecovery;
}

/** An operation waiting for the next write. */
interface Pending {
  readonly operation: RegistryOperation;
  resolve(changed: boolean): void;
  reject(error: unknown): void;
}

/** Opens the registry as the leader that `options.fence` describes. */
export async function openFencedRegistry(options: FencedRegistryOptions): Promise<OpenedRegistry> {
  const layout = registryLayout(options.key);
  const call = <T>(request: () => Promise<T>): Promise<T> =>
    withTransientRetry(options.isLost, options.transientRetryMs, request);
  const access = {
    txn: (request: ITxnRequest) => call(() => options.client.kv.txn(request, callDeadline())),
    range: (request: IRangeRequest) => call(() => options.client.kv.range(request, callDeadline())),
    fence: fenceCompares(options.fence),
    pageKeys: options.pageKeys,
  };
  const read = async (): Promise<StoredRegistry> => {
    const stored = await readRegistry(access, layout);
    if (stored === undefined) throw lostBecause(options, "registry read");
    return stored;
  };
  const opened = performance.now();
  /** The followed mirror caught up under the fence, or else the whole registry read. */
  const open = async (): Promise<{ held: Held; revision: string; recovery: RegistryRecovery }> => {
    const ms = () => performance.now() - opened;
    let why = "nothing followed";
    if (options.mirror !== undefined) {
      const outcome = await catchUpMirror(access, options.mirror);
      if (outcome.kind === "lost") throw lostBecause(options, "registry read");
      if (outcome.kind === "caught-up") {
        const { changed, deleted } = outcome;
        const recovery = { kind: "caught-up" as const, changed, deleted, ms: ms() };
        return { held: heldOf(options.mirror), revision: options.mirror.revision, recovery };
      }
      why = outcome.why;
    }
    const stored = await read();
    return { held: hold(stored), revision: stored.revision, recovery: { kind: "read", why, ms: ms() } };
  };
  const first = await open();
  let held = first.held;
  let sliceStart = performance.now();
  /**
   * Gives the event loop a turn once this slice has run YIELD_AFTER_MS;
   * undefined (nothing to await, not even a microtask) before that.
   */
  const pauseNow = (): Promise<void> | undefined => {
    if (performance.now() - sliceStart <= YIELD_AFTER_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      sliceStart = performance.now();
    });
  };
  /** Set once etcd holds part of a batch: nothing more is written. */
  let broken: PartlyStoredError | undefined;
  const writer: ChunkWriter = { fence: options.fence, layout, txn: access.txn };
  const breakWith = (err: unknown): PartlyStoredError => {
    broken = new PartlyStoredError(
      `a registry write stopped after part of it was stored in etcd (${err instanceof Error ? err.message : String(err)}); this master must read the registry again`,
      { cause: err },
    );
    return broken;
  };

  /**
   * Applies the operations to the book in call order, noting the entries
   * that changed and each touched entry's value before, to undo them with.
   */
  const applyNoting = (operations: RegistryOperation[]) => {
    const undo = new Map<string, Registry | undefined>();
    const touched = new Set<string>();
    const changed = operations.map((operation) => {
      const paths = entriesTouchedBy(operation);
      for (const path of paths) if (!undo.has(path)) undo.set(path, held.book.entry(path));
      const did = held.book.apply(operation);
      if (did) for (const path of paths) touched.add(path);
      return did;
    });
    const rollback = (): void => {
      for (const [path, before] of undo) held.book.setEntry(path, before);
    };
    return { changed, touched, rollback };
  };

  /**
   * Sends the chunks, up to `inFlight` at a time, and stops sending once
   * one did not commit. Each chunk's outcome, undefined for one not sent.
   */
  const writeChunks = async (chunks: EntryChange[][], retire: boolean, inFlight: number) => {
    const outcomes: (ChunkOutcome | { error: unknown } | undefined)[] = chunks.map(() => undefined);
    let next = 0;
    let stop = false;
    const lane = async (): Promise<void> => {
      while (!stop && next < chunks.length) {
        const i = next++;
        const last = retire && i === chunks.length - 1;
        outcomes[i] = await writeChunk(writer, held.written, chunks[i] ?? [], last).catch((error: unknown) => ({
          error,
        }));
        if (outcomes[i] !== "written") stop = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, chunks.length) }, lane));
    return outcomes;
  };

  /**
   * Writes the changes, one fenced transaction per chunk. The chunks of a
   * batch hold different keys, so they go to etcd together (it commits them
   * in one go more cheaply than one after another), except when the
   * tombstone must come last. If none committed, the book is rolled back
   * and the failure is clean; if some did, etcd holds part of the batch.
   */
  const writeChanges = async (changes: EntryChange[], rollback: () => void): Promise<"written" | "conflict"> => {
    const retire = held.legacy !== "tombstone";
    const chunks = chunkChanges(changes, options.txnLimits ?? TXN_LIMITS);
    // A conversion to no entries at all (the last framework removed) still puts the tombstone.
    if (chunks.length === 0) chunks.push([]);
    const outcomes = await writeChunks(chunks, retire, retire ? 1 : CHUNKS_IN_FLIGHT);
    // The answers came through the event loop: the slice starts again.
    sliceStart = performance.now();
    const written = outcomes.filter((o) => o === "written").length;
    if (written === chunks.length) {
      if (retire) held.legacy = "tombstone";
      return "written";
    }
    rollback();
    const errors = outcomes.flatMap((o) => (typeof o === "object" ? [o.error] : []));
    const lost = errors.find((e) => e instanceof LeadershipLostError);
    if (lost !== undefined) throw lost;
    if (outcomes.includes("lost")) throw lostBecause(options, "registry write");
    if (written > 0) throw breakWith(errors[0] ?? new Error("someone else changed the registry during the write"));
    if (errors.length > 0) throw errors[0];
    return "conflict";
  };

  /** Writes the operations, retrying on conflicts; resolves with each one's `changed`. */
  const writeBatch = async (operations: RegistryOperation[]): Promise<boolean[]> => {
    for (let conflicts = 0; ; conflicts++) {
      if (broken !== undefined) throw broken;
      const { changed, touched, rollback } = applyNoting(operations);
      if (touched.size === 0) return changed;
      // Not awaited unless converting: the batch goes out in this turn.
      const changes =
        held.legacy === "registry" ? await conversionChanges(held, pauseNow) : touchedChanges(held, touched);
      if ((await writeChanges(changes, rollback)) === "written") return changed;
      if (conflicts >= MAX_CONFLICTS)
        throw new Error(
          `the registry at ${options.key} kept changing under the leader (${MAX_CONFLICTS + 1} attempts); is something else writing it?`,
        );
      held = hold(await read());
    }
  };

  /**
   * A batch is all or nothing, but one operation's failure must stay its
   * own (as if each were written alone): after a failure other than lost
   * leadership or a partly stored batch, the batch's operations are
   * written again one by one.
   */
  const settle = async (batch: Pending[]): Promise<void> => {
    try {
      const changed = await writeBatch(batch.map((p) => p.operation));
      batch.forEach((p, i) => p.resolve(changed[i] ?? false));
    } catch (err) {
      if (batch.length === 1 || err instanceof LeadershipLostError || err instanceof PartlyStoredError) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await settle([p]);
    }
  };

  /**
   * Group commit, as Mesos' registrar does: operations that arrive while a
   * write is in flight are applied together, in call order, and stored with
   * the next write, so concurrent callers share round trips instead of
   * queueing one round trip each.
   */
  const pending: Pending[] = [];
  let draining = false;
  const drain = async (): Promise<void> => {
    draining = true;
    try {
      // Operations handed over in one go (the term runner issues every
      // queued batch's writes at once when a write returns) make one batch.
      // Started at the first of them, a write carried that one alone and
      // the rest waited a whole etcd round trip behind it: two round trips
      // per turn of a registering fleet instead of one. A lone operation
      // still goes out at once, a microtask later.
      await Promise.resolve();
      while (pending.length > 0) {
        const pause = pauseNow();
        if (pause !== undefined) await pause;
        await settle(pending.splice(0));
      }
    } finally {
      draining = false;
    }
  };

  const store: RegistryStore = {
    /** With the operations being written, as the embedded store; built on demand (O(registry)), cached until a change. */
    get current() {
      return held.book.snapshot();
    },
    location: `etcd ${options.key}`,
    apply(operation) {
      return new Promise<boolean>((resolve, reject) => {
        pending.push({ operation, resolve, reject });
        if (!draining) void drain();
      });
    },
  };
  return { store, revision: first.revision, recovery: first.recovery };
}
