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
 *   <prefix>/registry/<entry>           the registry, one key per entry
 *                                       (agents/<id>, frameworks/<id>,
 *                                       weights/<role>, quotas/<role>, terms,
 *                                       maintenance): gzip of a binary
 *                                       plateau.registry.v1.Registry holding
 *                                       that entry (encoded by the master:
 *                                       src/master/etcd/registry-layout.ts)
 *   <prefix>/registry                   a tombstone once the entries hold
 *                                       the registry; before that layout,
 *                                       the whole registry as one value
 *                                       (src/master/etcd/registry-value.ts)
 *
 * The whole layout is written down here, below the master and its clients,
 * so that both read the same names.
 */
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { type MasterInfo, MasterInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";

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
    throw new Error(
      `the campaign key ${key} does not hold a MasterInfo: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
