/**
 * What the agent's v1 executor endpoint needs from the agent: sessions that
 * handle an executor's calls as its v2 stream would, with events going to a
 * sink instead of a stream. Declared here, below the agent, so the gateway
 * never imports the agent; the agent's executor streams provide it
 * (src/agent/executor-streams.ts).
 */
import type { ConnectRequest, ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";

/** Where a session that is not a Connect stream (a v1 HTTP executor) gets its events. */
export interface ExecutorSink {
  send(response: ConnectResponse): void;
  /** The session ended: replaced by a newer SUBSCRIBE, refused, or the agent stopping. */
  end(): void;
}

/** A session opened with `open`: the caller feeds it calls and closes it when its client goes. */
export interface ExecutorSession {
  request(request: ConnectRequest): void;
  close(): void;
  /** The executor (`executorKey`) this session is subscribed as, if any. */
  readonly bound: string | undefined;
}

export interface ExecutorSessions {
  /** A session whose events go to `sink`: the same handling as a stream, without one. */
  open(sink: ExecutorSink): ExecutorSession;
}
