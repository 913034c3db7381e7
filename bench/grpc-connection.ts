/**
 * One HTTP/2 connection to a master carrying many simulated agents' unified
 * streams as plain gRPC calls, on `node:http2` with nothing between: a
 * profile of the fleet on connect-node showed its per-stream machinery
 * (async iterables, AbortSignals, an error object per agent per failed
 * reconnect, the session manager) taking a core through a failover.
 *
 *   connecting ──SETTINGS──► ready ──GOAWAY──► retired (its calls go on, no new ones)
 *       │                     │                  │
 *       └──error/close────────┴──────────────────┴──► gone: every call ends, once, with one reason
 *
 * Calls asked for while it connects wait in a list, so a connection that
 * fails costs one error, not one stream and one error per agent.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { CONNECT_PATH, FrameReader, type GrpcStatus, statusOf } from "./grpc-frames.js";

/** How a call ended. */
export type CallEnd =
  /** The server ended it with a status (0: cleanly). */
  | { kind: "status"; status: GrpcStatus }
  /** The stream failed, or what came on it was not gRPC we can read. */
  | { kind: "broken"; reason: string }
  /** The connection under it failed or closed. */
  | { kind: "unreachable"; reason: string }
  /** Its connection was dropped on purpose: another master leads. */
  | { kind: "moved"; reason: string }
  /** Its owner cancelled it (a heartbeat timeout, a crash, closing). */
  | { kind: "cancelled"; reason: string };

/** One handler for every call of a fleet; `owner` says whose call it is. */
export interface CallHandler<T> {
  /** The first message, built when the stream opens (after the connection is up), so it carries the owner's latest state. */
  hello(owner: T): Uint8Array;
  onMessage(owner: T, bytes: Uint8Array, call: GrpcCall<T>): void;
  /** Exactly once per call. */
  onEnd(owner: T, end: CallEnd, call: GrpcCall<T>): void;
}

export interface GrpcCall<T> {
  readonly owner: T;
  /** Queues a framed message; false until the hello is written, and once the call ended. */
  write(framed: Uint8Array): boolean;
  /** Half-closes: the server then ends the call with its status. */
  end(): void;
  /** Resets the stream; the call ends at once as cancelled. */
  cancel(reason: string): void;
}

const REQUEST_HEADERS: http2.OutgoingHttpHeaders = {
  ":method": "POST",
  ":path": CONNECT_PATH,
  "content-type": "application/grpc+proto",
  te: "trailers",
};

/** As the master's own server: many streams share one connection's window. */
const SESSION_WINDOW = 16 * 1024 * 1024;
const SESSION_OPTIONS: http2.ClientSessionOptions = {
  settings: { enablePush: false, initialWindowSize: 1024 * 1024 },
  maxSessionMemory: 64,
  // Small writes (heartbeats, acknowledgements) go out at once, as the master's own sockets do.
  createConnection: (authority: URL) =>
    net.connect({
      host: authority.hostname.replace(/^\[|\]$/g, ""),
      port: Number(authority.port || 80),
      noDelay: true,
    }),
};

const CALL = Symbol("grpc call");
type TaggedStream = http2.ClientHttp2Stream & { [CALL]?: Call<unknown> };

// Listeners shared by every stream (`this` is the stream), not closures per stream.
function onResponse(this: TaggedStream, headers: http2.IncomingHttpHeaders): void {
  this[CALL]?.response(headers);
}
function onData(this: TaggedStream, chunk: Buffer): void {
  this[CALL]?.data(chunk);
}
function onTrailers(this: TaggedStream, trailers: http2.IncomingHttpHeaders): void {
  this[CALL]?.trailers(trailers);
}
function onEnd(this: TaggedStream): void {
  this[CALL]?.ended();
}
function onError(this: TaggedStream, err: Error): void {
  this[CALL]?.error(err);
}
function onClose(this: TaggedStream): void {
  this[CALL]?.closed(this.rstCode);
}

class Call<T> implements GrpcCall<T> {
  private stream: TaggedStream | undefined;
  private readonly reader = new FrameReader();
  private status: GrpcStatus | undefined;
  /** Why what came is unreadable, or how the stream failed. */
  private problem: string | undefined;
  done = false;
  private readonly deliver = (bytes: Uint8Array): void => {
    if (!this.done) this.handler.onMessage(this.owner, bytes, this);
  };

  constructor(
    readonly owner: T,
    private readonly handler: CallHandler<T>,
    private readonly connection: GrpcConnection,
  ) {}

  open(session: http2.ClientHttp2Session): void {
    if (this.done) return;
    let stream: TaggedStream;
    try {
      stream = session.request(REQUEST_HEADERS, { endStream: false });
    } catch (err) {
      this.finish({ kind: "unreachable", reason: err instanceof Error ? err.message : String(err) });
      return;
    }
    stream[CALL] = this as Call<unknown>;
    stream.on("response", onResponse);
    stream.on("data", onData);
    stream.on("trailers", onTrailers);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.on("close", onClose);
    stream.write(this.handler.hello(this.owner));
    this.stream = stream;
  }

  write(framed: Uint8Array): boolean {
    if (this.done || this.stream === undefined) return false;
    this.stream.write(framed);
    return true;
  }

  end(): void {
    if (this.stream === undefined) this.cancel("closed before it was opened");
    else if (!this.done) this.stream.end();
  }

  cancel(reason: string): void {
    this.finish({ kind: "cancelled", reason }, http2.constants.NGHTTP2_CANCEL);
  }

  response(headers: http2.IncomingHttpHeaders): void {
    // A number at run time, whatever the typings say.
    const httpStatus = Number(headers[":status"]);
    const type = headers["content-type"];
    if (httpStatus !== 200) this.problem ??= `HTTP status ${httpStatus}`;
    else if (type === undefined || !type.startsWith("application/grpc")) this.problem ??= `content-type '${type}'`;
    else this.take(statusOf(headers), false);
  }

  data(chunk: Buffer): void {
    if (this.problem !== undefined) return;
    const problem = this.reader.push(chunk, this.deliver);
    if (problem !== undefined) this.finish({ kind: "broken", reason: problem }, http2.constants.NGHTTP2_CANCEL);
  }

  trailers(trailers: http2.IncomingHttpHeaders): void {
    this.take(statusOf(trailers), true);
  }

  /** The server's side is over: its status decides how the call ended. */
  ended(): void {
    if (this.problem !== undefined) this.finish({ kind: "broken", reason: this.problem });
    else if (this.reader.partial > 0)
      this.finish({ kind: "broken", reason: `the stream ended inside a message (${this.reader.partial} bytes)` });
    else if (this.status !== undefined) this.finish({ kind: "status", status: this.status });
    else if (this.sessionGone()) this.finish({ kind: "unreachable", reason: "the connection closed" });
    else this.finish({ kind: "broken", reason: "the stream ended without a grpc-status" });
  }

  error(err: Error): void {
    this.problem ??= err.message;
  }

  closed(rstCode: number): void {
    // Streams close before their session reports why it went.
    if (this.sessionGone()) this.finish({ kind: "unreachable", reason: this.problem ?? "the connection closed" });
    else this.finish({ kind: "broken", reason: this.problem ?? `the stream was reset (HTTP/2 code ${rstCode})` });
  }

  /** Once: releases the stream, then tells the owner. */
  finish(end: CallEnd, rstCode: number = http2.constants.NGHTTP2_NO_ERROR): void {
    if (this.done) return;
    this.done = true;
    this.connection.forget(this as Call<unknown>);
    const stream = this.stream;
    if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(rstCode);
    this.handler.onEnd(this.owner, end, this);
  }

  private sessionGone(): boolean {
    const session = this.stream?.session;
    return session === undefined || session.destroyed || session.closed;
  }

  private take(status: GrpcStatus | string | undefined, required: boolean): void {
    if (typeof status === "string") this.problem ??= status;
    else if (status !== undefined) this.status = status;
    else if (required) this.problem ??= "trailers without a grpc-status";
  }
}

export class GrpcConnection {
  private readonly session: http2.ClientHttp2Session;
  private connected = false;
  /** Why it takes no new calls; set once. */
  private goneReason: string | undefined;
  /** When it stopped taking calls (performance.now()). */
  goneAt: number | undefined;
  private readonly waiting = new Set<Call<unknown>>();
  private readonly calls = new Set<Call<unknown>>();

  constructor(readonly baseUrl: string) {
    this.session = http2.connect(baseUrl, SESSION_OPTIONS);
    // Streams open once the master's SETTINGS arrive, not when TCP connects:
    // a socket accepted and then dropped (or one to a frozen process) costs
    // one failure, not a stream per waiting call.
    this.session.once("remoteSettings", () => this.onConnect());
    this.session.on("error", (err: Error) => this.lose(err.message));
    this.session.once("goaway", () => this.retire("the master sent GOAWAY"));
    this.session.once("close", () => this.lose("the connection closed"));
  }

  /** Takes new calls (not failed, closed or told to go away). */
  get usable(): boolean {
    return this.goneReason === undefined;
  }

  /** Calls open or waiting for the connection. */
  get load(): number {
    return this.calls.size + this.waiting.size;
  }

  /** A call for `owner`; `handler` writes its hello once the stream opens. */
  call<T>(owner: T, handler: CallHandler<T>): GrpcCall<T> {
    const call = new Call(owner, handler, this);
    const gone = this.goneReason;
    if (gone !== undefined) {
      // Recently failed: every caller gets that failure, without a socket of its own.
      process.nextTick(() => call.finish({ kind: "unreachable", reason: gone }));
      return call;
    }
    this.calls.add(call as Call<unknown>);
    if (this.connected) call.open(this.session);
    else this.waiting.add(call as Call<unknown>);
    return call;
  }

  /** Ends every call with `end` and closes the connection. */
  drop(end: CallEnd): void {
    this.retire(end.kind === "status" ? "dropped" : end.reason);
    this.waiting.clear();
    for (const call of [...this.calls]) call.finish(end, http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }

  forget(call: Call<unknown>): void {
    this.calls.delete(call);
    this.waiting.delete(call);
  }

  private onConnect(): void {
    this.connected = true;
    this.session.setLocalWindowSize(SESSION_WINDOW);
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const call of waiting) call.open(this.session);
  }

  private retire(reason: string): void {
    if (this.goneReason !== undefined) return;
    this.goneReason = reason;
    this.goneAt = performance.now();
  }

  /** The connection failed or closed: one reason for all its calls. */
  private lose(reason: string): void {
    this.retire(reason);
    if (this.calls.size > 0) this.drop({ kind: "unreachable", reason: this.goneReason ?? reason });
    else this.session.destroy();
  }
}
