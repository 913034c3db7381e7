/**
 * What the v1 gateway needs of a master's sessions. A v1 subscriber has no
 * Connect stream: the gateway opens a session whose events go to a sink (its
 * HTTP response) and sends each later call on it, awaiting exactly that
 * call's refusals to choose its status code. The master's session table
 * (src/master/sessions.ts) provides this; the gateway never imports it.
 */
import type { ConnectRequest, ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import type { CallError } from "../core/master/events.js";
import type { SessionId } from "../core/master/state.js";

/**
 * Where a session that is not a Connect stream (a v1 HTTP subscriber) gets
 * its events. `send` must not block: the sink buffers or writes at once.
 */
export interface SessionSink {
  send(response: ConnectResponse): void;
  /** The core ended the session (after everything sent before it). */
  end(error?: CallError): void;
  /** Events the sink holds unwritten, for the slow-client limit; 0 when unknown. */
  readonly backlog?: number;
}

export interface GatewaySessions {
  /**
   * Opens a session whose events go to `sink`. The caller must `close` it
   * when its connection goes away, which the core sees exactly like a
   * dropped stream.
   */
  open(sink: SessionSink): SessionId;
  /**
   * One call on an opened session. Resolves once its effects are carried out
   * (registry writes first), with the refusals that carry its id; rejects
   * when the master stops leading first.
   */
  request(session: SessionId, request: ConnectRequest): Promise<CallError[]>;
  /** The client side went away. Idempotent. */
  close(session: SessionId): void;
  /** Whether the session is still live (the core has not ended it, nor its client). */
  has(session: SessionId): boolean;
}
