/**
 * The embedded registry's log, as bytes: a header naming the snapshot it
 * continues, then one record per stored operation.
 *
 *   header  "PLTRLOG1" (8 bytes) · SHA-256 of the snapshot file's bytes (32)
 *   record  payload length (u32 LE) · CRC-32 of the payload (u32 LE) · payload
 *           (a plateau.registry.v1.Operation, binary)
 *
 * Why the header: compaction replaces the snapshot first and the log
 * second, so a crash in between leaves a log whose operations are already
 * in the snapshot; replaying them again would count a `start-term` twice.
 * A log whose digest is not the snapshot's is stale and ignored.
 *
 * Why the CRC: a crash during an append may leave the last record short or
 * holding garbage (a file may grow before its data lands). A bad record at
 * the end is such a torn write and is dropped; a bad record with intact
 * data after it cannot come from a crash, and is an error.
 *
 * Pure: the shell reads and writes the bytes (src/master/registry.ts).
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { OperationSchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { decodeRegistryOperation, encodeRegistryOperation } from "./operation-codec.js";
import type { RegistryOperation } from "./registry.js";

const MAGIC = new TextEncoder().encode("PLTRLOG1");
const DIGEST_BYTES = 32;
/** Bytes before the first record. */
export const LOG_HEADER_BYTES = MAGIC.length + DIGEST_BYTES;
const RECORD_PREFIX = 8;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib's), which Node 20's zlib does not export yet. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The header of an empty log after the snapshot whose SHA-256 is `snapshotDigest`. */
export function encodeLogHeader(snapshotDigest: Uint8Array): Uint8Array {
  if (snapshotDigest.length !== DIGEST_BYTES) throw new Error(`a snapshot digest has ${DIGEST_BYTES} bytes`);
  const header = new Uint8Array(LOG_HEADER_BYTES);
  header.set(MAGIC, 0);
  header.set(snapshotDigest, MAGIC.length);
  return header;
}

/** One operation as a log record. */
export function encodeLogRecord(operation: RegistryOperation): Uint8Array {
  const payload = toBinary(OperationSchema, encodeRegistryOperation(operation));
  const record = new Uint8Array(RECORD_PREFIX + payload.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  record.set(payload, RECORD_PREFIX);
  return record;
}

export type LogContents =
  /** The operations to replay; `end` is where the valid records stop (less than the length after a torn write). */
  | { kind: "records"; operations: RegistryOperation[]; end: number }
  /** No complete header (a crash while the log was being made), or a log of an earlier snapshot: start a new one. */
  | { kind: "stale" }
  /** Not a log this master can replay. */
  | { kind: "corrupt"; reason: string };

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Why the record at `at` is bad, or its operation and length. */
function readRecord(bytes: Uint8Array, at: number): { operation: RegistryOperation; length: number } | string {
  if (bytes.length - at < RECORD_PREFIX) return "a record shorter than its length prefix";
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, RECORD_PREFIX);
  const length = view.getUint32(0, true);
  if (length === 0) return "a record of no bytes";
  if (bytes.length - at - RECORD_PREFIX < length) return "a record shorter than its length";
  const payload = bytes.subarray(at + RECORD_PREFIX, at + RECORD_PREFIX + length);
  if (crc32(payload) !== view.getUint32(4, true)) return "a record whose checksum does not match";
  let operation: ReturnType<typeof decodeRegistryOperation>;
  try {
    operation = decodeRegistryOperation(fromBinary(OperationSchema, payload));
  } catch (err) {
    return `a record that does not decode (${err instanceof Error ? err.message : String(err)})`;
  }
  if ("error" in operation) return `a record holding ${operation.error}`;
  return { operation, length: RECORD_PREFIX + length };
}

/**
 * Whether a bad record at `at` is a torn write: nothing readable follows
 * it (it runs to the end of the file, or only zeros, space the file system
 * allotted before the data came, do). The price: a flipped bit in a length
 * field that then points past the end reads as a torn tail too, and the
 * records after it are dropped; every other bad byte fails the CRC.
 */
function isTornTail(bytes: Uint8Array, at: number): boolean {
  if (bytes.length - at < RECORD_PREFIX) return true;
  const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
  if (at + RECORD_PREFIX + length >= bytes.length) return true;
  return bytes.subarray(at).every((b) => b === 0);
}

/** The log `bytes` as the continuation of the snapshot whose SHA-256 is `snapshotDigest`. */
export function readLog(bytes: Uint8Array, snapshotDigest: Uint8Array): LogContents {
  if (bytes.length < LOG_HEADER_BYTES) return { kind: "stale" };
  if (!sameBytes(bytes.subarray(0, MAGIC.length), MAGIC))
    return { kind: "corrupt", reason: "it does not start as a registry log" };
  if (!sameBytes(bytes.subarray(MAGIC.length, LOG_HEADER_BYTES), snapshotDigest)) return { kind: "stale" };
  const operations: RegistryOperation[] = [];
  let at = LOG_HEADER_BYTES;
  while (at < bytes.length) {
    const record = readRecord(bytes, at);
    if (typeof record === "string") {
      if (isTornTail(bytes, at)) break;
      return { kind: "corrupt", reason: `${record} at byte ${at}, with ${bytes.length - at} bytes after it` };
    }
    operations.push(record.operation);
    at += record.length;
  }
  return { kind: "records", operations, end: at };
}
