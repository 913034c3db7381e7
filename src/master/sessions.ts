import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import type { ConnectRequest, ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import type { Effect } from "../core/master/master-core.js";
import { ErrorCode, errorEvent, type CallError } from "../core/master/events.js";
import type { SessionId } from "../core/master/state.js";
import type { Logger } from "../log.js";
import { createAsyncQueue, type AsyncQueue } from "../util/async-queue.js";

const codes: Record<number, Code> = {
  [ErrorCode.INVALID_ARGUMENT]: Code.InvalidArgument,
  [ErrorCode.FAILED_PRECONDITION]: Code.FailedPrecondition,
  [ErrorCode.NOT_FOUND]: Code.NotFound,
  [ErrorCode.UNIMPLEMENTED]: Code.Unimplemented,
  [ErrorCode.UNAVAILABLE]: Code.Unavailable,
  [ErrorCode.INTERNAL]: Code.Internal,
};

/** The gRPC status that goes with an expected rejection. */
export function toConnectError(error: CallError): ConnectError {
  return new ConnectError(error.message, codes[error.code] ?? Code.Unknown);
}

export interface SessionHandlers {
  request(session: SessionId, request: ConnectRequest): Effect[];
  closed(session: SessionId): Effect[];
  /** The core asked for an allocation pass outside the interval. */
  allocateSoon(): void;
}

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

/**
 * Owns the live sessions (Connect streams, and sinks such as the v1 HTTP
 * gateway's streams): turns each into a session id for the core, queues the
 * core's events per session, and ends sessions when told to.
 */
export interface SessionTable {
  /** The Connect handler body for one stream. */
  serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse>;
  /**
   * Opens a session whose events go to `sink` instead of a Connect stream.
   * The caller feeds it with `request` and must `close` it when its
   * connection goes away, which the core sees exactly like a dropped stream.
   */
  open(sink: SessionSink): SessionId;
  /** One call on a session opened with `open`; ignored once the session is gone. */
  request(session: SessionId, request: ConnectRequest): void;
  /** The client side of an `open`ed session went away. Idempotent. */
  close(session: SessionId): void;
  /** Whether the session is still live (the core has not ended it, nor its client). */
  has(session: SessionId): boolean;
  apply(effects: Effect[]): void;
  /** Ends every stream (daemon shutdown). */
  endAll(error?: ConnectError): void;
  readonly size: number;
}

/**
 * Events queued for one stream before it counts as not reading: the master
 * drops such a stream rather than buffer without bound (its framework then
 * goes through the usual disconnect and failover timeout).
 */
export const DEFAULT_MAX_QUEUED_EVENTS = 100_000;

export function createSessionTable(
  handlers: SessionHandlers,
  logger: Logger,
  limits: { maxQueuedEvents?: number } = {},
): SessionTable {
  const outboxes = new Map<SessionId, Outbox>();
  const maxQueued = limits.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
  let counter = 0;
  let sinkCounter = 0;

  const dropSlow = (session: SessionId, outbox: Outbox): void => {
    logger.warn({ session, queued: outbox.size }, "dropping a stream whose client does not read its events");
    outboxes.delete(session);
    outbox.end(
      { code: ErrorCode.UNAVAILABLE, message: `stream dropped: the client left ${outbox.size} events unread` },
      new ConnectError(`stream dropped: the client left ${outbox.size} events unread`, Code.ResourceExhausted),
    );
    apply(handlers.closed(session));
  };

  const apply = (effects: Effect[]): void => {
    for (const effect of effects) {
      if (effect.kind === "allocate") {
        handlers.allocateSoon();
        continue;
      }
      // Registry writes are the daemon's: it stores them before handing over the effects that follow.
      if (effect.kind === "persist") continue;
      const outbox = outboxes.get(effect.session);
      if (outbox === undefined) continue;
      if (effect.kind === "send") {
        if (outbox.size >= maxQueued) dropSlow(effect.session, outbox);
        else outbox.push(effect.response);
      } else {
        // Forget the stream first so its closing does not reach the core as
        // a disconnect: the core already decided what ending it means.
        outboxes.delete(effect.session);
        outbox.end(effect.error);
      }
    }
  };

  const close = (session: SessionId): void => {
    const outbox = outboxes.get(session);
    if (outbox === undefined) return;
    outboxes.delete(session);
    outbox.end();
    apply(handlers.closed(session));
  };

  async function* serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncGenerator<ConnectResponse> {
    const session = `stream-${++counter}`;
    const outbox = createAsyncQueue<ConnectResponse>();
    outboxes.set(session, queueOutbox(outbox));
    logger.debug({ session }, "stream opened");
    const reader = (async () => {
      try {
        for await (const request of requests) {
          if (!outboxes.has(session)) break;
          apply(handlers.request(session, request));
        }
      } catch (err) {
        if (!context.signal.aborted && outboxes.has(session)) {
          // Undecodable input: say what was wrong, then end this stream only.
          const error: CallError = {
            code: ErrorCode.INVALID_ARGUMENT,
            message: `Malformed request: ${ConnectError.from(err).rawMessage}`,
            fatal: true,
          };
          outbox.push(errorEvent(error));
          outboxes.delete(session);
          outbox.end(toConnectError(error));
          apply(handlers.closed(session));
        }
      } finally {
        close(session);
      }
    })();
    try {
      yield* outbox;
    } finally {
      close(session);
      void reader;
      logger.debug({ session }, "stream closed");
    }
  }

  return {
    serve,
    open(sink) {
      const session = `sink-${++sinkCounter}`;
      outboxes.set(session, sinkOutbox(sink));
      logger.debug({ session }, "session opened");
      return session;
    },
    request(session, request) {
      if (outboxes.has(session)) apply(handlers.request(session, request));
    },
    close,
    has: (session) => outboxes.has(session),
    apply,
    endAll(error) {
      for (const [session, outbox] of [...outboxes]) {
        outboxes.delete(session);
        outbox.end(error === undefined ? undefined : { code: ErrorCode.UNAVAILABLE, message: error.rawMessage }, error);
      }
    },
    get size() {
      return outboxes.size;
    },
  };
}

/** One session's way out, whatever carries it. */
interface Outbox {
  push(response: ConnectResponse): void;
  /** `grpc` overrides the status a Connect stream ends with. */
  end(error?: CallError, grpc?: ConnectError): void;
  readonly size: number;
}

function queueOutbox(queue: AsyncQueue<ConnectResponse>): Outbox {
  return {
    push: (response) => void queue.push(response),
    end: (error, grpc) => queue.end(grpc ?? (error === undefined ? undefined : toConnectError(error))),
    get size() {
      return queue.size;
    },
  };
}

function sinkOutbox(sink: SessionSink): Outbox {
  return {
    push: (response) => sink.send(response),
    end: (error) => sink.end(error),
    get size() {
      return sink.backlog ?? 0;
    },
  };
}
