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
 * Owns the live Connect streams: turns each into a session id for the core,
 * queues the core's events per stream, and ends streams when told to.
 */
export interface SessionTable {
  /** The Connect handler body for one stream. */
  serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse>;
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
  const outboxes = new Map<SessionId, AsyncQueue<ConnectResponse>>();
  const maxQueued = limits.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
  let counter = 0;

  const dropSlow = (session: SessionId, outbox: AsyncQueue<ConnectResponse>): void => {
    logger.warn({ session, queued: outbox.size }, "dropping a stream whose client does not read its events");
    outboxes.delete(session);
    outbox.end(new ConnectError(`stream dropped: the client left ${outbox.size} events unread`, Code.ResourceExhausted));
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
        outbox.end(effect.error === undefined ? undefined : toConnectError(effect.error));
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
    outboxes.set(session, outbox);
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
    apply,
    endAll(error) {
      for (const [session, outbox] of [...outboxes]) {
        outboxes.delete(session);
        outbox.end(error);
      }
    },
    get size() {
      return outboxes.size;
    },
  };
}
