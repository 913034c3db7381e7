/**
 * How a client reaches the leading master, as both sides must agree: the
 * master names the leader in this header when it refuses a call as a
 * standby, and the client dials the address this file reads off a
 * MasterInfo (the one etcd announces, or a standby's own).
 */
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";

/** The trailer (gRPC) or header naming the leader when a standby refuses a call. */
export const LEADER_HEADER = "plateau-leader";

/** Where clients dial a master: its address, or its hostname when it bound a wildcard (which names no host). */
export function masterEndpoint(info: MasterInfo): { host: string; port: number } {
  const ip = info.address?.ip ?? "";
  const host = ip === "" || ip === "0.0.0.0" || ip === "::" ? info.hostname : ip;
  return { host, port: info.address?.port ?? info.port };
}
