/**
 * The single-value registry of old at `<prefix>/registry`: gzip of the
 * binary plateau.registry.v1.Registry. Masters now store one key per entry
 * (registry-layout.ts) and only read this form, to convert it; tests and
 * benchmarks write it to stand for a registry an older version stored.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import type { Registry } from "../../core/registry/registry.js";
import { gzipStored } from "./gzip-stored.js";

/** Below this many bytes deflate gains next to nothing and costs more than the rest of a write (gzip-stored.ts). */
const STORED_BELOW_BYTES = 512;

/**
 * etcd refuses a request larger than --max-request-bytes (1.5 MiB by
 * default). gzip keeps a registry of many agents and quotas well under it:
 * role names and agent ids repeat a lot. A small registry is stored in a
 * gzip member without compression, which decodes the same way.
 */
export function encodeRegistry(registry: Registry): Buffer {
  const bytes = toBinary(RegistrySchema, registry);
  return bytes.length < STORED_BELOW_BYTES ? gzipStored(bytes) : gzipSync(bytes);
}

export function decodeRegistry(value: Buffer, key: string): Registry {
  try {
    return fromBinary(RegistrySchema, gunzipSync(value));
  } catch (err) {
    throw new Error(
      `the registry at ${key} in etcd cannot be read (${err instanceof Error ? err.message : String(err)}); restore it from a backup or delete the key to start empty`,
    );
  }
}
