import type { LogLevel } from "../log.js";

/** Flags of `plateau agent` (kebab-case on the command line). */
export interface AgentOptions {
  /** The master's host:port (or http://host:port). */
  master: string;
  ip: string;
  /** 0 picks a free port. */
  port: number;
  /** Sandboxes, checkpoints and the agent id live here. */
  workDir: string;
  /** Mesos resource syntax; detected from the host when absent. */
  resources?: string;
  /** Mesos attribute syntax, e.g. `rack:a;zone:west`. */
  attributes?: string;
  hostname: string;
  /**
   * Which changes of its resources, attributes, hostname or domain the
   * master may accept when the agent registers again under its id (Mesos'
   * --reconfiguration_policy): `equal` (the default) none, `additive`
   * additions and growth only.
   */
  reconfigurationPolicy?: "equal" | "additive";
  logLevel: LogLevel;
  /**
   * First resend interval of unacknowledged status updates, doubling up to
   * 10 minutes; default 10 s as in Mesos. Tests shorten it.
   */
  statusUpdateRetryMs?: number;
  /** Exited executors remembered per framework for /state (Mesos --max_completed_executors_per_framework). */
  maxCompletedExecutorsPerFramework?: number;
}

export const defaultAgentOptions: Omit<AgentOptions, "workDir"> & { maxCompletedExecutorsPerFramework: number } = {
  master: "127.0.0.1:5050",
  ip: "127.0.0.1",
  port: 5051,
  hostname: "localhost",
  logLevel: "info",
  maxCompletedExecutorsPerFramework: 150,
};
