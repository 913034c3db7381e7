/**
 * What a master says about itself: its MasterInfo, the ids it hands out, and
 * its flags as GET_FLAGS shows them.
 */
import { create } from "@bufbuild/protobuf";
import { type MasterInfo, MasterInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { IdSource } from "../core/clock.js";
import { VERSION } from "../version.js";
import { masterEndpoint } from "../wire/masters.js";
import type { MasterOptions } from "./options.js";

/** Mesos encodes MasterInfo.ip as an IPv4 address in network byte order. */
function ipToUint32(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return 0;
  const [a = 0, b = 0, c = 0, d = 0] = parts;
  return ((d << 24) | (c << 16) | (b << 8) | a) >>> 0;
}

/** This master's MasterInfo before it knows its port (`bindPort` fills that in). */
export function masterInfoOf(id: string, options: MasterOptions): MasterInfo {
  return create(MasterInfoSchema, {
    id,
    ip: ipToUint32(options.ip),
    port: options.port,
    hostname: options.hostname,
    version: VERSION,
    pid: `master@${options.ip}:${options.port}`,
    address: { hostname: options.hostname, ip: options.ip, port: options.port },
  });
}

/** The port may have been 0: clients must be told the one actually bound. */
export function bindPort(info: MasterInfo, ip: string, port: number): void {
  info.port = port;
  info.pid = `master@${ip}:${port}`;
  if (info.address !== undefined) info.address.port = port;
}

/** host:port of a master, as clients dial it. */
export function masterAddress(info: MasterInfo): string {
  const { host, port } = masterEndpoint(info);
  return `${host}:${port}`;
}

/** Ids shaped like Mesos' (`<master>-0001`, `<master>-S1`, `<master>-O1`). */
export function masterIds(masterId: string): IdSource {
  const counters = new Map<string, number>();
  const prefix: Record<string, string> = { framework: "", agent: "S", offer: "O" };
  return {
    next(kind) {
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      const p = prefix[kind] ?? `${kind}-`;
      return `${masterId}-${p}${p === "" ? String(n).padStart(4, "0") : n}`;
    },
  };
}

/** The flags as the operator's GET_FLAGS and /master/flags show them. */
export function flagsOf(options: MasterOptions): Record<string, string> {
  return {
    ip: options.ip,
    port: String(options.port),
    hostname: options.hostname,
    work_dir: options.workDir ?? "",
    registry: options.registry ?? "embedded",
    election_ttl: `${options.electionTtlSeconds}secs`,
    allocation_interval: `${options.allocationIntervalSeconds}secs`,
    heartbeat_interval: `${options.heartbeatIntervalSeconds}secs`,
    agent_reregister_timeout: `${options.agentReregisterTimeoutSeconds}secs`,
    agent_ping_timeout: `${options.agentPingTimeoutSeconds}secs`,
    max_agent_ping_timeouts: String(options.maxAgentPingTimeouts),
    offer_timeout: options.offerTimeoutSeconds === undefined ? "" : `${options.offerTimeoutSeconds}secs`,
    min_allocatable_resources: options.minAllocatableResources ?? "cpus:0.01|mem:32",
    weights: options.weights ?? "",
    max_completed_frameworks: String(options.maxCompletedFrameworks),
    max_completed_tasks_per_framework: String(options.maxCompletedTasksPerFramework),
    max_unreachable_tasks_per_framework: String(options.maxUnreachableTasksPerFramework),
    registry_max_agent_age: `${options.registryMaxAgentAgeSeconds}secs`,
    registry_max_agent_count: String(options.registryMaxAgentCount),
    registry_gc_interval: `${options.registryGcIntervalSeconds}secs`,
    log_level: options.logLevel,
  };
}
