/**
 * Where Plateau keeps things in etcd, under the prefix from the URL, and how
 * the values are encoded:
 *
 *   <prefix>/election/<lease id, hex>   one per candidate master, attached
 *                                       to its lease; the value is its
 *                                       MasterInfo as JSON; the lowest create
 *                                       revision leads (etcd's election recipe)
 *   <prefix>/leader                     the leader's MasterInfo as JSON, put
 *                                       (fenced, on its lease) once it has
 *                                       recovered and serves: what clients
 *                                       and standbys follow
 *   <prefix>/registry                   gzip of the binary
 *                                       plateau.registry.v1.Registry
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { MasterInfoSchema, type MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import type { Registry } from "../../core/registry/registry.js";
import { gzipStored } from "./gzip-stored.js";

export interface EtcdKeys {
  readonly electionPrefix: string;
  readonly leader: string;
  readonly registry: string;
}

export function etcdKeys(prefix: string): EtcdKeys {
  return { electionPrefix: `${prefix}/election/`, leader: `${prefix}/leader`, registry: `${prefix}/registry` };
}

/** The range_end that makes a range request cover every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  // Our prefixes are ASCII, so the last byte is never 0xff.
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

export function encodeMasterInfo(info: MasterInfo): Buffer {
  return Buffer.from(toJsonString(MasterInfoSchema, info));
}

export function decodeMasterInfo(value: Buffer, key: string): MasterInfo {
  try {
    return fromJsonString(MasterInfoSchema, value.toString("utf8"));
  } catch (err) {
    throw new Error(`the campaign key ${key} does not hold a MasterInfo: ${err instanceof Error ? err.message : String(err)}`);
  }
}

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
    throw new Error(`the registry at ${key} in etcd cannot be read (${err instanceof Error ? err.message : String(err)}); restore it from a backup or delete the key to start empty`);
  }
}
