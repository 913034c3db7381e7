/**
 * Messages between an agent and its executor host, over the host's IPC
 * channel. This is local process control (start, stop, exited), not a
 * second cluster protocol: each hosted executor talks to the agent over the
 * unified stream like any other executor.
 */

/** Everything a hosted command executor needs to start. */
export interface HostedLaunch {
  frameworkId: string;
  executorId: string;
  sandbox: string;
  /** host:port of the agent's unified stream. */
  agent: string;
  /**
   * The agent's executor socket (src/agent/executor-socket.ts): the host
   * carries its executors there, on one connection, instead of a stream
   * each to `agent`.
   */
  socket?: string;
  /** MESOS_* variables for the task. */
  env: Record<string, string>;
}

/** Agent to executor host. */
export type AgentToHost =
  | { type: "launch"; launch: HostedLaunch }
  | { type: "stop"; frameworkId: string; executorId: string; graceMs: number }
  /** The agent is stopping and takes its tasks down with it. */
  | { type: "shutdown" };

/** Executor host to agent. */
export type HostToAgent =
  | { type: "exited"; frameworkId: string; executorId: string; waitStatus: number; description: string }
  /**
   * The host has had no executors for a while. The agent answers with
   * "shutdown" unless it has just sent a launch (the agent decides, so no
   * launch races the host's exit).
   */
  | { type: "idle" };
