/**
 * An executor's client on a unified stream of its own to its agent (see
 * executor-over.ts for the calls and the reliable status update delivery,
 * whatever carries them).
 */
import type { Http2SessionManager } from "@connectrpc/connect-node";
import type { Logger } from "../log.js";
import {
  createExecutorOver,
  type ExecutorClient,
  type ExecutorIdentity,
  type ExecutorTransport,
} from "./executor-over.js";
import { openStream, type ReconnectPolicy } from "./stream.js";

export type { ExecutorClient, ExecutorStream, ExecutorStreamOptions, ExecutorTransport } from "./executor-over.js";

/** Options of `createExecutor`. */
export interface ExecutorOptions extends ExecutorIdentity {
  /** The agent's "host:port" or URL (MESOS_AGENT_ENDPOINT). */
  agent: string;
  /** Drop the stream when the agent is silent this long (it sends HEARTBEATs). */
  heartbeatTimeoutMs?: number;
  reconnect?: ReconnectPolicy | false;
  /** An HTTP/2 connection to the agent shared with other executors (see StreamOptions). */
  sessionManager?: Http2SessionManager;
  /** Carries the executor instead of a stream of its own to `agent`. */
  transport?: ExecutorTransport;
  logger?: Logger;
}

/** Reads the Mesos executor environment the agent sets for its executors. */
export function executorEnvironment(env: NodeJS.ProcessEnv = process.env): {
  agent: string;
  frameworkId: string;
  executorId: string;
} {
  const get = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  return {
    agent: get("MESOS_AGENT_ENDPOINT"),
    frameworkId: get("MESOS_FRAMEWORK_ID"),
    executorId: get("MESOS_EXECUTOR_ID"),
  };
}

/** Creates an executor client; it connects and subscribes in the background. */
export function createExecutor(options: ExecutorOptions): ExecutorClient {
  const transport: ExecutorTransport =
    options.transport ??
    ((callbacks) =>
      openStream({
        ...callbacks,
        baseUrl: options.agent,
        heartbeatTimeoutMs: () => options.heartbeatTimeoutMs,
        reconnect: options.reconnect,
        sessionManager: options.sessionManager,
        logger: options.logger,
      }));
  return createExecutorOver(transport, options);
}
