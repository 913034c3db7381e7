import type { LogLevel } from "../log.js";

/** Flags of `plateau master` (kebab-case on the command line). */
export interface MasterOptions {
  /** Address to bind; loopback by default. */
  ip: string;
  /** 0 picks a free port; the daemon logs and reports the one it bound. */
  port: number;
  /** Directory of the embedded registry; without it the registry lives in memory. */
  workDir?: string;
  /**
   * `etcd://host:port[,host:port]/prefix`: campaign for leadership and keep
   * the registry in etcd (several masters); absent: the embedded registry.
   */
  registry?: string;
  /** The campaign lease's TTL in seconds (etcd only). */
  electionTtlSeconds: number;
  /** Client certificate files for etcd over TLS. */
  etcdTls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Seconds between allocation passes (Mesos --allocation_interval). */
  allocationIntervalSeconds: number;
  /** Seconds between HEARTBEAT events to subscribers. */
  heartbeatIntervalSeconds: number;
  /** Seconds a restarted master waits for the agents of its registry to re-register. */
  agentReregisterTimeoutSeconds: number;
  /** Seconds between pings to each agent (Mesos --agent_ping_timeout). */
  agentPingTimeoutSeconds: number;
  /** Pings an agent may miss (or be disconnected for) before it is marked unreachable. */
  maxAgentPingTimeouts: number;
  /** Offers held longer than this are rescinded; undefined: never. */
  offerTimeoutSeconds?: number;
  /** Mesos' --min_allocatable_resources, e.g. `cpus:0.01|mem:32`. */
  minAllocatableResources?: string;
  /** Mesos' --weights, e.g. `eng=2,ops=0.5`. */
  weights?: string;
  /** Removed frameworks the views remember (Mesos --max_completed_frameworks). */
  maxCompletedFrameworks: number;
  /** Ended tasks remembered per framework (Mesos --max_completed_tasks_per_framework). */
  maxCompletedTasksPerFramework: number;
  /** Tasks on unreachable agents remembered per framework (Mesos --max_unreachable_tasks_per_framework). */
  maxUnreachableTasksPerFramework: number;
  /** Unreachable and gone agents older than this are forgotten by the registry (Mesos --registry_max_agent_age). */
  registryMaxAgentAgeSeconds: number;
  /** At most this many unreachable, and as many gone, agents stay in the registry (Mesos --registry_max_agent_count). */
  registryMaxAgentCount: number;
  /** Seconds between prunings of the registry's unreachable and gone agents (Mesos --registry_gc_interval). */
  registryGcIntervalSeconds: number;
  hostname: string;
  logLevel: LogLevel;
}

export const defaultMasterOptions: MasterOptions = {
  ip: "127.0.0.1",
  port: 5050,
  allocationIntervalSeconds: 1,
  // Under 10 s: some v1 client libraries time their event stream out after 10 s of silence.
  heartbeatIntervalSeconds: 5,
  agentReregisterTimeoutSeconds: 600,
  agentPingTimeoutSeconds: 15,
  electionTtlSeconds: 10,
  maxAgentPingTimeouts: 5,
  maxCompletedFrameworks: 50,
  maxCompletedTasksPerFramework: 1000,
  maxUnreachableTasksPerFramework: 1000,
  // Mesos' defaults.
  registryMaxAgentAgeSeconds: 14 * 24 * 3600,
  registryMaxAgentCount: 100 * 1024,
  registryGcIntervalSeconds: 15 * 60,
  hostname: "localhost",
  logLevel: "info",
};
