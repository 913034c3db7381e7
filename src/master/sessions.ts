import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { type CallError, ErrorCode, errorEvent } from "../core/master/events.js";
import type { Effect } from "../core/master/master-core.js";
import type { SessionId } from "../core/master/state.js";
import type { GatewaySessions, SessionSink } from "../gateway/sessions.js";
import type { Logger } from "../log.js";
import type { GrpcStream, GrpcStreamHandler } from "../transport/grpc-stream.js";
import { type AsyncQueue, createAsyncQueue } from "../util/async-queue.js";
import { readUntilAborted } from "../util/read-until.js";
import { connectPieces, wantsJson } from "./answer-pieces.js";

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

/** Where the table hands calls and ends (the term's effect runner). */
export interface SessionHandlers {
  /** A call from a Connect stream: its outcome (events, an Error with its id) goes back on the stream. */
  dispatch(session: SessionId, request: ConnectRequest): void;
  /** A call whose caller awaits the refusals that carry its id (sessions opened with `open`). */
  call(session: SessionId, request: ConnectRequest): Promise<CallError[]>;
  /**
   * The session's client went away, or the table dropped it. A promise
   * settles once the effects of the session's earlier calls are delivered.
   */
  closed(session: SessionId): Promise<void> | undefined;
}

/**
 * Owns the live sessions (Connect streams, and sinks such as the v1 HTTP
 * gateway's streams): turns each into a session id for the core, queues the
 * core's events per session, and ends sessions when told to.
 */
export interface SessionTable extends GatewaySessions {
  /** The Connect handler body for one stream. */
  serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse>;
  /** The same for a plain gRPC stream carried by hand (src/transport/grpc-stream.ts). */
  serveGrpc(stream: GrpcStream): GrpcStreamHandler;
  /** Carries out sends and ends (the term's runner calls it; `persist` effects are not the table's). */
  apply(effects: Effect[]): void;
  /** Ends every stream (the term is over), and resolves once every stream's reader has finished. */
  endAll(error?: ConnectError): Promise<void>;
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
    void handlers.closed(session);
  };

  const apply = (effects: Effect[]): void => {
    for (const effect of effects) {
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

  /** Sessions whose end the core has been told of, waiting for their earlier calls' answers to go out. */
  const closing = new Set<SessionId>();

  const close = (session: SessionId): void => {
    const outbox = outboxes.get(session);
    if (outbox === undefined) return;
    outboxes.delete(session);
    outbox.end();
    if (!closing.delete(session)) void handlers.closed(session);
  };

  /**
   * The client closed its side: a disconnect, but answers to the calls it
   * made before (a SUBSCRIBED waiting for its registry write) still reach it.
   */
  const closeAfterCalls = (session: SessionId): void => {
    const outbox = outboxes.get(session);
    if (outbox === undefined || closing.has(session)) return;
    closing.add(session);
    const end = (): void => {
      closing.delete(session);
      if (outboxes.get(session) !== outbox) return;
      outboxes.delete(session);
      outbox.end();
    };
    const delivered = handlers.closed(session);
    if (delivered === undefined) end();
    else delivered.then(end, end);
  };

  /** Undecodable input: say what was wrong, then end this stream only. */
  const malformed = (session: SessionId, err: unknown): void => {
    const outbox = outboxes.get(session);
    if (outbox === undefined) return;
    const error: CallError = {
      code: ErrorCode.INVALID_ARGUMENT,
      message: `Malformed request: ${ConnectError.from(err).rawMessage}`,
      fatal: true,
    };
    outbox.push(errorEvent(error));
    outboxes.delete(session);
    outbox.end(error);
    void handlers.closed(session);
  };

  /** The request readers of live streams: each stops once its session is over. */
  const readers = new Set<Promise<void>>();

  const read = async (
    session: SessionId,
    requests: AsyncIterable<ConnectRequest>,
    stop: AbortSignal,
  ): Promise<void> => {
    try {
      await readUntilAborted(requests, stop, (request) => {
        if (!outboxes.has(session)) return;
        logger.trace({ session, callId: request.id, call: request.call.case }, "call");
        handlers.dispatch(session, request);
      });
    } catch (err) {
      if (!stop.aborted) malformed(session, err);
    } finally {
      closeAfterCalls(session);
    }
  };

  /**
   * Not an async generator: the outbox's own iterator goes to Connect, so
   * each event costs no extra promise hops, and the session's teardown runs
   * as the outbox's `onFinish`, before Connect learns the stream is over
   * (as a generator's `finally` would).
   */
  const serve = (requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse> => ({
    [Symbol.asyncIterator]() {
      const session = `stream-${++counter}`;
      // Whatever ends the session (the core, the client, a slow reader, the
      // term) stops its reader too; so does Connect once this handler returns.
      const stop = new AbortController();
      const onHandlerDone = (): void => stop.abort();
      let reader: Promise<void> = Promise.resolve();
      const outbox = createAsyncQueue<ConnectResponse>({
        onFinish: async () => {
          close(session);
          stop.abort();
          context.signal.removeEventListener("abort", onHandlerDone);
          await reader;
          readers.delete(reader);
          logger.debug({ session }, "stream closed");
        },
      });
      outboxes.set(session, queueOutbox(outbox, stop, wantsJson(context.requestHeader.get("content-type"))));
      context.signal.addEventListener("abort", onHandlerDone, { once: true });
      logger.debug({ session }, "stream opened");
      reader = read(session, requests, stop.signal);
      readers.add(reader);
      return outbox[Symbol.asyncIterator]();
    },
  });

  const serveGrpc = (stream: GrpcStream): GrpcStreamHandler => {
    const session = `stream-${++counter}`;
    outboxes.set(session, grpcOutbox(stream));
    logger.debug({ session }, "stream opened");
    return {
      message(bytes) {
        if (!outboxes.has(session)) return;
        let request: ConnectRequest;
        try {
          request = fromBinary(ConnectRequestSchema, bytes);
        } catch (err) {
          malformed(session, err);
          return;
        }
        logger.trace({ session, callId: request.id, call: request.call.case }, "call");
        handlers.dispatch(session, request);
      },
      closed(error) {
        // The client went away or broke the framing: a disconnect, and nobody left to answer.
        if (error !== undefined) {
          if (outboxes.has(session)) stream.end(error);
          close(session);
        } else closeAfterCalls(session);
        logger.debug({ session }, "stream closed");
      },
    };
  };

  return {
    serve,
    serveGrpc,
    open(sink) {
      const session = `sink-${++sinkCounter}`;
      outboxes.set(session, sinkOutbox(sink));
      logger.debug({ session }, "session opened");
      return session;
    },
    request(session, request) {
      return outboxes.has(session) ? handlers.call(session, request) : Promise.resolve([]);
    },
    close,
    has: (session) => outboxes.has(session),
    apply,
    async endAll(error) {
      for (const [session, outbox] of [...outboxes]) {
        outboxes.delete(session);
        outbox.end(error === undefined ? undefined : { code: ErrorCode.UNAVAILABLE, message: error.rawMessage }, error);
      }
      await Promise.all(readers);
    },
    get size() {
      return outboxes.size;
    },
  };
}

/** A hand-carried gRPC stream's way out: each event encoded once and written at once. */
function grpcOutbox(stream: GrpcStream): Outbox {
  return {
    push: (response) => {
      let pieces: ConnectResponse[];
      try {
        pieces = connectPieces(response, false);
      } catch {
        pieces = [response];
      }
      for (const piece of pieces) stream.send(toBinary(ConnectResponseSchema, piece));
    },
    end: (error, grpc) => stream.end(grpc ?? (error === undefined ? undefined : toConnectError(error))),
    get size() {
      return stream.backlog;
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

/** A Connect stream's way out; large operator answers go out in pieces (answer-pieces.ts). */
function queueOutbox(queue: AsyncQueue<ConnectResponse>, reader: AbortController, json: boolean): Outbox {
  return {
    push: (response) => {
      let pieces: ConnectResponse[];
      try {
        pieces = connectPieces(response, json);
      } catch {
        // One item alone over the limit: sent whole, for a client whose limit allows it.
        pieces = [response];
      }
      for (const piece of pieces) queue.push(piece);
    },
    end: (error, grpc) => {
      queue.end(grpc ?? (error === undefined ? undefined : toConnectError(error)));
      reader.abort();
    },
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
