/**
 * Hosted executors on streams of their own to the agent's port, for an
 * agent that serves no executor socket (its work dir's path is too long for
 * one). Loaded by the host only then: Connect is about half of its start-up.
 */
import { Http2SessionManager } from "@connectrpc/connect-node";
import type { ExecutorTransport } from "../client/executor-over.js";
import { normalizeBaseUrl, openStream } from "../client/stream.js";
import type { Logger } from "../log.js";

export interface StreamTransports {
  /** Streams to `agent` ("host:port"), all on one HTTP/2 connection. */
  to(agent: string): ExecutorTransport;
  /** Drops the connections (the host is exiting). */
  close(): void;
}

export function createStreamTransports(logger: Logger): StreamTransports {
  // One HTTP/2 connection per agent endpoint: a burst of launches then costs streams, not TCP connections.
  const connections = new Map<string, Http2SessionManager>();
  const connectionTo = (agent: string): Http2SessionManager => {
    const url = normalizeBaseUrl(agent);
    let manager = connections.get(url);
    if (manager === undefined) {
      manager = new Http2SessionManager(url);
      connections.set(url, manager);
    }
    return manager;
  };
  return {
    to: (agent) => (callbacks) =>
      openStream({
        ...callbacks,
        baseUrl: agent,
        reconnect: { initialMs: 100, maxMs: 5_000 },
        sessionManager: connectionTo(agent),
        logger,
      }),
    close() {
      for (const manager of connections.values()) manager.abort();
    },
  };
}
