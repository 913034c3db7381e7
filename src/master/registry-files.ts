/**
 * How the embedded registry reads and writes its two files: the snapshot
 * (`registry.binpb`, the whole registry, as masters before the log wrote
 * it) and the log after it (`registry.log`, src/core/registry/operation-log.ts).
 * Opening is synchronous (a master reads its registry before it serves);
 * writes while it serves are asynchronous, behind `RegistryFiles`, which
 * tests wrap to count syncs or fail a write on a real file system.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { encodeLogHeader, readLog } from "../core/registry/operation-log.js";
import { createRegistryBook, type RegistryBook } from "../core/registry/registry-book.js";
import { appendFileDurably, replaceFileDurably, writeFileDurably } from "../util/durable-file.js";

/** The writes the embedded registry makes while it serves. */
export interface RegistryFiles {
  /** Appends `bytes` to `file`; resolves once they are durable (write, fdatasync). */
  append(file: string, bytes: Uint8Array): Promise<void>;
  /** Replaces `file` with `bytes`, atomically and durably. */
  replace(file: string, bytes: Uint8Array): Promise<void>;
}

export const nodeRegistryFiles: RegistryFiles = { append: appendFileDurably, replace: replaceFileDurably };

export const SNAPSHOT_FILE = "registry.binpb";
export const LOG_FILE = "registry.log";

export const snapshotDigest = (bytes: Uint8Array): Uint8Array => createHash("sha256").update(bytes).digest();

/** The registry as stored in a work dir, and the sizes compaction weighs. */
export interface LoadedRegistry {
  readonly book: RegistryBook;
  readonly snapshotBytes: number;
  readonly logBytes: number;
  readonly logEntries: number;
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Cuts `file` to `length` and makes that durable. */
export function truncateDurably(file: string, length: number): void {
  truncateSync(file, length);
  const fd = openSync(file, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the snapshot and replays the log on it. A torn last record (a crash
 * during an append) is cut off; a log of an earlier snapshot (a crash
 * during compaction, after the snapshot was replaced) or none at all (a
 * work dir from before the log) is replaced by an empty one. Throws, saying
 * what to do, on a file it cannot read.
 */
export function loadRegistry(workDir: string): LoadedRegistry {
  const snapshotFile = join(workDir, SNAPSHOT_FILE);
  const logFile = join(workDir, LOG_FILE);
  // A missing snapshot is the empty registry, whose encoding is no bytes.
  const snapshot = existsSync(snapshotFile) ? readFileSync(snapshotFile) : new Uint8Array();
  let book: RegistryBook;
  try {
    book = createRegistryBook(fromBinary(RegistrySchema, snapshot));
  } catch (err) {
    throw new Error(
      `the registry ${snapshotFile} cannot be read (${reason(err)}); restore it from a backup or move it away to start empty`,
    );
  }
  const digest = snapshotDigest(snapshot);
  const log = existsSync(logFile) ? readFileSync(logFile) : undefined;
  const contents = log === undefined ? { kind: "stale" as const } : readLog(log, digest);
  switch (contents.kind) {
    case "corrupt":
      throw new Error(
        `the registry log ${logFile} cannot be read (${contents.reason}); restore the work dir from a backup, or move the log away to start from ${SNAPSHOT_FILE} alone (losing the changes since it was written)`,
      );
    case "stale": {
      const header = encodeLogHeader(digest);
      writeFileDurably(logFile, header);
      return { book, snapshotBytes: snapshot.length, logBytes: header.length, logEntries: 0 };
    }
    case "records":
      for (const operation of contents.operations) book.apply(operation);
      if (log !== undefined && contents.end < log.length) truncateDurably(logFile, contents.end);
      return {
        book,
        snapshotBytes: snapshot.length,
        logBytes: contents.end,
        logEntries: contents.operations.length,
      };
  }
}
