/**
 * One fenced write of registry entries: a single etcd transaction that
 * puts (or deletes) only the keys that changed.
 *
 *   txn if   campaign key: create_revision == epoch and lease == ours    (fence)
 *        and <prefix>/registry: mod_revision == last seen               (CAS)
 *        and each written key:  mod_revision == last seen (0: absent)   (CAS)
 *       then put / delete each key [, put TOMBSTONE at <prefix>/registry]
 *       else get campaign key, get <prefix>/registry, get each key
 *
 * The compare on `<prefix>/registry` makes a whole registry put there
 * (an operator restoring an old backup) a conflict for every write.
 */
import type { ICompare, IKeyValue, IRequestOp, ITxnRequest, ITxnResponse } from "etcd3";
import { type Fence, fenceCompares, fenceHolds } from "./fence.js";
import { type RegistryLayout, TOMBSTONE } from "./registry-layout.js";

/** A key to put (`value`) or delete (undefined), by entry path. */
export interface EntryChange {
  readonly path: string;
  readonly value: Buffer | undefined;
}

/** What the writer knows etcd holds; each successful write brings it up to date. */
export interface WrittenState {
  legacyModRevision: string;
  readonly modRevisions: Map<string, string>;
}

/**
 * etcd's defaults: --max-txn-ops 128 (each of compares, success and
 * failure ops) and --max-request-bytes 1.5 MiB. A transaction carries the
 * three fence and legacy compares beside one compare per key, and keeps a
 * third of the byte limit spare for keys and framing.
 */
export const TXN_LIMITS = { maxOps: 128, maxBytes: 1024 * 1024 };

export type ChunkOutcome = "written" | "lost" | "conflict";

/** Splits changes, in order, into transactions within `limits`. */
export function chunkChanges(changes: readonly EntryChange[], limits = TXN_LIMITS): EntryChange[][] {
  const maxKeys = limits.maxOps - 3;
  const chunks: EntryChange[][] = [];
  let chunk: EntryChange[] = [];
  let bytes = 0;
  for (const change of changes) {
    // The key goes out three times (compare, put, failure read).
    const size = (change.value?.length ?? 0) + 3 * (change.path.length + 64);
    if (chunk.length > 0 && (chunk.length >= maxKeys || bytes + size > limits.maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(change);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export interface ChunkWriter {
  readonly fence: Fence;
  readonly layout: RegistryLayout;
  /** Sends the transaction (with a deadline, retrying transient errors while leadership lasts). */
  txn(request: ITxnRequest): Promise<ITxnResponse>;
}

/** Whether the failure branch's reads show this chunk as written: an earlier attempt committed. */
function showsOwnWrite(
  state: WrittenState,
  chunk: readonly EntryChange[],
  retireLegacy: boolean,
  response: ITxnResponse,
): boolean {
  const legacy = response.responses[1]?.response_range.kvs[0];
  const legacyAsWritten = retireLegacy
    ? legacy?.value.equals(TOMBSTONE) === true
    : (legacy?.mod_revision ?? "0") === state.legacyModRevision;
  if (!legacyAsWritten) return false;
  return chunk.every((change, i) => {
    const kv = response.responses[2 + i]?.response_range.kvs[0];
    return change.value === undefined ? kv === undefined : kv?.value.equals(change.value) === true;
  });
}

function record(state: WrittenState, chunk: readonly EntryChange[], revisionOf: (i: number) => string | undefined) {
  chunk.forEach((change, i) => {
    const revision = revisionOf(i);
    if (change.value === undefined || revision === undefined) state.modRevisions.delete(change.path);
    else state.modRevisions.set(change.path, revision);
  });
}

/**
 * Writes one chunk as one fenced transaction. "conflict": someone else
 * changed a key it compares (nothing was written); "lost": the fence
 * failed. A transaction retried after a lost answer that had committed the
 * first time is recognised by its values and counts as written.
 */
export async function writeChunk(
  writer: ChunkWriter,
  state: WrittenState,
  chunk: readonly EntryChange[],
  retireLegacy: boolean,
): Promise<ChunkOutcome> {
  const keys = chunk.map((change) => Buffer.from(writer.layout.keyOf(change.path)));
  const legacyKey = Buffer.from(writer.layout.legacyKey);
  const compare: ICompare[] = [
    ...fenceCompares(writer.fence),
    { key: legacyKey, target: "Mod", result: "Equal", mod_revision: state.legacyModRevision },
    ...chunk.map(
      (change, i): ICompare => ({
        key: keys[i],
        target: "Mod",
        result: "Equal",
        mod_revision: state.modRevisions.get(change.path) ?? "0",
      }),
    ),
  ];
  const success: IRequestOp[] = chunk.map((change, i) =>
    change.value === undefined
      ? { request_delete_range: { key: keys[i] } }
      : { request_put: { key: keys[i], value: change.value } },
  );
  if (retireLegacy) success.push({ request_put: { key: legacyKey, value: TOMBSTONE } });
  const failure: IRequestOp[] = [Buffer.from(writer.fence.key), legacyKey, ...keys].map((key) => ({
    request_range: { key },
  }));
  const response = await writer.txn({ compare, success, failure });
  if (response.succeeded) {
    record(state, chunk, () => response.header.revision);
    if (retireLegacy) state.legacyModRevision = response.header.revision;
    return "written";
  }
  const campaign: IKeyValue | undefined = response.responses[0]?.response_range.kvs[0];
  if (!fenceHolds(writer.fence, campaign)) return "lost";
  if (!showsOwnWrite(state, chunk, retireLegacy, response)) return "conflict";
  record(state, chunk, (i) => response.responses[2 + i]?.response_range.kvs[0]?.mod_revision);
  state.legacyModRevision = response.responses[1]?.response_range.kvs[0]?.mod_revision ?? "0";
  return "written";
}
