/**
 * The embedded registry on disk: a snapshot plus an append-only log of the
 * operations since (registry-files.ts), so a change costs what the change
 * is. Operations are applied to the book at once, in call order, and
 * written by one writer:
 *
 *   apply ──► book (in place) ──► queue ──► writer: append the whole queue,
 *                                    ▲       one fdatasync, resolve in order
 *                                    │              │ log past its bound?
 *       arrivals during a write ─────┘              ▼
 *       wait for the next one                compaction: snapshot of the book
 *       (group commit)                       (covers the queue too), then an
 *                                            empty log after it
 *
 *   a write fails ──► that operation and every one queued behind it are
 *                     rejected ──► the next apply first reloads what is
 *                     stored (the failed tail cut off)
 *
 * Why group commit: a fleet of agents registering at once is thousands of
 * admissions in a burst; one sync each was most of the master's time (a
 * 2,000-agent profile: clone, encode and fsync of the whole registry per
 * admission, 31 s of 48 s of CPU). Sharing a sync costs each a few bytes.
 */
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { encodeLogHeader, encodeLogRecord } from "../core/registry/operation-log.js";
import type { RegistryOperation } from "../core/registry/registry.js";
import type { RegistryStore } from "./registry.js";
import {
  LOG_FILE,
  loadRegistry,
  nodeRegistryFiles,
  type RegistryFiles,
  SNAPSHOT_FILE,
  snapshotDigest,
  truncateDurably,
} from "./registry-files.js";

export interface LoggedRegistryOptions {
  readonly files?: RegistryFiles;
  /**
   * The log is compacted once it holds more than max(this, agents)
   * operations, or more than max(`minCompactBytes`, the snapshot's size)
   * bytes: replaying it at start then costs no more than reading the
   * snapshot, and each compaction's O(registry) is spread over as many
   * operations (amortised O(1) per operation).
   */
  readonly minCompactEntries?: number;
  readonly minCompactBytes?: number;
}

/** An operation waiting to be stored; `record` is undefined for one that changed nothing. */
interface Pending {
  readonly record: Uint8Array | undefined;
  resolve(changed: boolean): void;
  reject(error: unknown): void;
}

const concat = (records: Uint8Array[]): Uint8Array => {
  const bytes = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of records) {
    bytes.set(r, at);
    at += r.length;
  }
  return bytes;
};

/** Opens (reading and replaying) the registry in `workDir`, which must exist. */
export function openLoggedRegistry(workDir: string, options: LoggedRegistryOptions = {}): RegistryStore {
  const files = options.files ?? nodeRegistryFiles;
  const minEntries = options.minCompactEntries ?? 1_000;
  const minBytes = options.minCompactBytes ?? 1 << 20;
  const snapshotFile = join(workDir, SNAPSHOT_FILE);
  const logFile = join(workDir, LOG_FILE);

  let { book, snapshotBytes, logBytes, logEntries } = loadRegistry(workDir);
  const queue: Pending[] = [];
  let writing = false;
  /**
   * Set when a write failed: the book may hold operations that are not
   * stored, so nothing may be written on top of it. `truncateTo` is the
   * log's last acknowledged length when an append failed (whatever part
   * of it reached the disk was never acknowledged, and must go).
   */
  let broken: { truncateTo: number | undefined } | undefined;

  const compactionDue = (): boolean =>
    logEntries > Math.max(minEntries, book.agentCount) || logBytes > Math.max(minBytes, snapshotBytes);

  /** Writes the registry as it is now as the snapshot, then an empty log after it. */
  const compact = async (): Promise<void> => {
    // Operations queued now are already in the book, so in this snapshot:
    // they are stored with it, not appended after it.
    const covered = queue.splice(0);
    try {
      const snapshot = toBinary(RegistrySchema, book.snapshot());
      await files.replace(snapshotFile, snapshot);
      // A crash here leaves the old log, whose header names the old
      // snapshot: opening ignores it rather than replay it twice.
      const header = encodeLogHeader(snapshotDigest(snapshot));
      await files.replace(logFile, header);
      snapshotBytes = snapshot.length;
      logBytes = header.length;
      logEntries = 0;
    } catch (err) {
      broken = { truncateTo: undefined };
      for (const p of covered) p.reject(err);
      throw err;
    }
    for (const p of covered) p.resolve(p.record !== undefined);
  };

  /** Stores the queue, a batch per sync, until it is empty or a write fails. */
  const drain = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        const records = batch.flatMap((p) => (p.record === undefined ? [] : [p.record]));
        if (records.length > 0) {
          try {
            const bytes = concat(records);
            await files.append(logFile, bytes);
            logBytes += bytes.length;
            logEntries += records.length;
          } catch (err) {
            broken = { truncateTo: logBytes };
            for (const p of batch) p.reject(err);
            throw err;
          }
        }
        for (const p of batch) p.resolve(p.record !== undefined);
        if (compactionDue()) await compact();
      }
    } catch (err) {
      // Queued operations were applied on top of the lost one.
      for (const p of queue.splice(0)) p.reject(err);
    } finally {
      writing = false;
    }
  };

  /** After a failed write: back to what is stored, so the next term starts from it. */
  const reload = (): void => {
    if (broken?.truncateTo !== undefined) truncateDurably(logFile, broken.truncateTo);
    ({ book, snapshotBytes, logBytes, logEntries } = loadRegistry(workDir));
    broken = undefined;
  };

  return {
    get current() {
      // After a failed write the book may hold what was never stored: read
      // what was (throwing, like opening, if that cannot be read).
      if (broken !== undefined) reload();
      return book.snapshot();
    },
    location: snapshotFile,
    apply(operation: RegistryOperation) {
      if (broken !== undefined) {
        try {
          reload();
        } catch (err) {
          return Promise.reject(err);
        }
      }
      const changed = book.apply(operation);
      // Nothing to write, and no earlier change it could rest on.
      if (!changed && queue.length === 0 && !writing) return Promise.resolve(false);
      const record = changed ? encodeLogRecord(operation) : undefined;
      return new Promise<boolean>((resolve, reject) => {
        queue.push({ record, resolve, reject });
        // The writer owns itself: it ends when the queue is empty and
        // settles every operation it took.
        if (!writing) void drain();
      });
    },
  };
}
