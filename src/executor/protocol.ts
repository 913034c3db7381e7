/**
 * Messages between an agent and its executor host, over the host's IPC
 * channel. This is local process control (start, stop, exited), not a
 * second cluster protocol: each hosted executor talks to the agent over the
 * unified stream like any other executor.
 */

export interface HostedLaunch {
  frameworkId: string;
  executorId: string;
  sandbox: string;
  /** host:port of the agent's unified stream. */
  agent: string;
  /** MESOS_* variables for the task. */
  env: Record<string, string>;
}

export type AgentToHost =
  | { type: "launch"; launch: HostedLaunch }
  | { type: "stop"; frameworkId: string; executorId: string; graceMs: number }
  /** The agent is stopping and takes its tasks down with it. */
  | { type: "shutdown" };

export type HostToAgent = { type: "exited"; frameworkId: string; executorId: string; waitStatus: number; description: string };
