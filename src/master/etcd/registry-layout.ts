/**
 * How the registry lies in etcd (src/etcd/keys.ts has the whole layout):
 * one key per entry (registry-entries.ts) under `<registry key>/`, each
 * value a gzip member of a binary `plateau.registry.v1.Registry` holding
 * that one entry:
 *
 *   <prefix>/registry/agents/<agent id>     admitted, unreachable or gone
 *   <prefix>/registry/frameworks/<id>
 *   <prefix>/registry/weights/<role>
 *   <prefix>/registry/quotas/<role>
 *   <prefix>/registry/terms
 *   <prefix>/registry/maintenance
 *   <prefix>/registry                       TOMBSTONE once the entries hold
 *                                           the registry
 *
 * Before this layout `<prefix>/registry` held the whole registry as one
 * value (registry-value.ts). Such a value is still read, and the first
 * write turns it into entries and puts TOMBSTONE there, which a master of
 * the old version refuses to read: it cannot start on an empty registry
 * over a cluster it does not see.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Registry, RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { prefixEnd } from "../../etcd/keys.js";
import { gunzipStored, gzipStored, MAX_STORED_BYTES } from "./gzip-stored.js";

/** Not gzip, so an older master's decoder fails on it and says where. */
export const TOMBSTONE = Buffer.from(
  "plateau: this registry is stored one key per entry under this key followed by '/'; a newer master reads it\n",
);

export interface RegistryLayout {
  /** `<prefix>/registry`: the single-value registry of old, or TOMBSTONE. */
  readonly legacyKey: string;
  /** `<prefix>/registry/`: every entry's key starts with it. */
  readonly entryPrefix: string;
  /** The range end covering every entry key. */
  readonly entryRangeEnd: Buffer;
  keyOf(path: string): string;
  pathOf(key: string): string;
}

export function registryLayout(legacyKey: string): RegistryLayout {
  const entryPrefix = `${legacyKey}/`;
  return {
    legacyKey,
    entryPrefix,
    entryRangeEnd: prefixEnd(entryPrefix),
    keyOf: (path) => entryPrefix + path,
    pathOf: (key) => key.slice(entryPrefix.length),
  };
}

/**
 * An entry is a few hundred bytes: a stored gzip member (no deflate) costs
 * a CRC where deflate would cost its setup per value and save little;
 * a large one (a big maintenance schedule) is deflated.
 */
export function encodeFragment(fragment: Registry): Buffer {
  const bytes = toBinary(RegistrySchema, fragment);
  return bytes.length <= MAX_STORED_BYTES ? gzipStored(bytes) : gzipSync(bytes);
}

export function decodeFragment(value: Uint8Array, key: string): Registry {
  try {
    return fromBinary(RegistrySchema, gunzipStored(value) ?? gunzipSync(value));
  } catch (err) {
    throw new Error(
      `the registry entry at ${key} in etcd cannot be read (${err instanceof Error ? err.message : String(err)}); restore the registry from a backup`,
    );
  }
}
