/**
 * A bidirectional gRPC stream carried by hand, for the one route where the
 * transport's cost per stream decides a figure users see: the unified
 * Connect stream, which every agent of a fleet opens again at once when a
 * new master leads. Through connect-node each such stream cost about twice
 * what the master's own handling of the agent did (abort signals, header
 * objects, several async iterables per message: profile in bench/RESULTS.md).
 *
 * Only plain gRPC takes this road: `application/grpc` or `+proto`, no
 * message compression (a deadline is kept: DEADLINE_EXCEEDED when it
 * passes). Everything else (the Connect protocol, JSON, gzip, gRPC-Web) is
 * declined and served by connect-node as before, so every client keeps
 * working and only the common case changes.
 *
 *   request body ──5-byte envelopes──► handler.message(bytes) (in order)
 *   end of body ──────────────────────► handler.closed()          (client half-closed)
 *   reset / socket gone ──────────────► handler.closed(Canceled)
 *   stream.send(bytes) ──► written now, or held while the client's window is full
 *   stream.end(error?) ──► trailers: grpc-status, grpc-message, error metadata
 */
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/** The server's side of one stream. */
export interface GrpcStream {
  /** Sends one encoded message; held back (in order) while the client is not reading. */
  send(message: Uint8Array): void;
  /** Messages held back because the client's flow-control window is full. */
  readonly backlog: number;
  /** Ends the stream with OK, or with the error's code, message and metadata. Later calls do nothing. */
  end(error?: ConnectError): void;
  readonly ended: boolean;
}

/** What the route does with a stream's input. */
export interface GrpcStreamHandler {
  /** One message, undecoded. */
  message(bytes: Uint8Array): void;
  /** The input is over: the client half-closed (no error), went away, or broke the framing. */
  closed(error?: ConnectError): void;
}

/**
 * Takes a stream, or returns undefined to leave it to connect-node (a
 * master that does not lead lets Connect answer with its usual refusal).
 */
export type GrpcStreamRoute = (stream: GrpcStream, headers: IncomingHttpHeaders) => GrpcStreamHandler | undefined;

/** A client may send one message at most this large (gRPC's default is 4 MiB; Mesos' largest calls are well under). */
export const MAX_REQUEST_MESSAGE_BYTES = 64 * 1024 * 1024;

const HEADER_BYTES = 5;
const COMPRESSED = 0x01;

/** Whether the request is plain binary gRPC that this module can carry. */
export function isPlainGrpc(headers: IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
  const encoding = headers["grpc-encoding"];
  const timeout = headers["grpc-timeout"];
  return (
    (encoding === undefined || encoding === "identity") && (timeout === undefined || deadlineMs(timeout) !== undefined)
  );
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** gRPC's grpc-timeout (up to 8 digits and a unit) in ms; undefined when malformed (connect-node then answers it). */
export function deadlineMs(header: string | string[]): number | undefined {
  const match = typeof header === "string" ? /^(\d{1,8})([HMSmun])$/.exec(header) : null;
  if (match === null) return undefined;
  return Number(match[1]) * (TIMEOUT_UNITS[match[2] as string] as number);
}

/** Serves `req` as a gRPC stream if `route` takes it; false when declined. */
export function serveGrpcStream(req: Http2ServerRequest, res: Http2ServerResponse, route: GrpcStreamRoute): boolean {
  const stream = responder(req, res);
  const handler = route(stream, req.headers);
  if (handler === undefined) return false;
  const reader = envelopeReader(handler.message);
  let over = false;
  const finish = (error?: ConnectError): void => {
    if (over) return;
    over = true;
    handler.closed(error);
  };
  req.on("data", (chunk: Buffer) => {
    if (over) return;
    const broken = reader.push(chunk);
    if (broken === undefined) return;
    finish(broken);
    stream.end(broken);
  });
  const gone = (): void => finish(new ConnectError("the client went away", Code.Canceled));
  // A reset may end the request body before it says 'aborted': the route
  // then hears a half-close, and whatever it sends after goes nowhere.
  req.once("end", () => {
    const broken = reader.leftover();
    finish(broken);
    if (broken !== undefined) stream.end(broken);
  });
  // A reset or a dropped session: there is no one left to answer.
  req.once("aborted", gone);
  res.once("close", gone);
  const timeout = req.headers["grpc-timeout"];
  const ms = timeout === undefined ? undefined : deadlineMs(timeout);
  // Past a timer's range (about 24.8 days) a deadline is as good as none.
  if (ms !== undefined && ms <= MAX_TIMER_MS) {
    const deadline = setTimeout(() => {
      const error = new ConnectError(`the call's deadline of ${timeout} passed`, Code.DeadlineExceeded);
      finish(error);
      stream.end(error);
    }, ms);
    res.once("close", () => clearTimeout(deadline));
  }
  req.on("error", () => undefined);
  res.on("error", () => undefined);
  return true;
}

/** Splits the request body into messages; returns the framing error that ends the stream, if any. */
function envelopeReader(deliver: (message: Uint8Array) => void) {
  let pending: Buffer | undefined;
  return {
    push(chunk: Buffer): ConnectError | undefined {
      let data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      pending = undefined;
      while (data.length >= HEADER_BYTES) {
        const flags = data[0] as number;
        const length = data.readUInt32BE(1);
        if (flags & COMPRESSED)
          return new ConnectError("received a compressed message without grpc-encoding", Code.Internal);
        if (flags !== 0) return new ConnectError(`received a message with unknown flags ${flags}`, Code.Internal);
        if (length > MAX_REQUEST_MESSAGE_BYTES)
          return new ConnectError(
            `message of ${length} bytes is over the limit of ${MAX_REQUEST_MESSAGE_BYTES}`,
            Code.ResourceExhausted,
          );
        if (data.length < HEADER_BYTES + length) break;
        deliver(data.subarray(HEADER_BYTES, HEADER_BYTES + length));
        data = data.subarray(HEADER_BYTES + length);
      }
      if (data.length > 0) pending = Buffer.from(data);
      return undefined;
    },
    leftover(): ConnectError | undefined {
      return pending === undefined
        ? undefined
        : new ConnectError(`the request ended inside a message (${pending.length} bytes left over)`, Code.Internal);
    },
  };
}

function responder(req: Http2ServerRequest, res: Http2ServerResponse): GrpcStream {
  const contentType = req.headers["content-type"] as string;
  let started = false;
  let ended = false;
  let blocked = false;
  const held: Buffer[] = [];

  const start = (): void => {
    if (started) return;
    started = true;
    res.writeHead(200, { "content-type": contentType });
  };
  const write = (envelope: Buffer): void => {
    if (!res.write(envelope)) blocked = true;
  };
  res.on("drain", () => {
    blocked = false;
    while (!blocked && held.length > 0) write(held.shift() as Buffer);
  });

  return {
    send(message) {
      if (ended) return;
      start();
      const envelope = Buffer.allocUnsafe(HEADER_BYTES + message.byteLength);
      envelope[0] = 0;
      envelope.writeUInt32BE(message.byteLength, 1);
      envelope.set(message, HEADER_BYTES);
      if (blocked) held.push(envelope);
      else write(envelope);
    },
    get backlog() {
      return held.length;
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (res.destroyed || res.stream.closed) return;
      const trailers = statusTrailers(error);
      if (!started) {
        // Nothing sent yet: a trailers-only response, as gRPC servers answer a refused call.
        // It must be one HEADERS frame with END_STREAM. The compat API's
        // writeHead() + end() sends the headers without END_STREAM and then
        // an empty DATA frame: gRPC's C core (grpcio) then finds no status
        // and reports UNKNOWN "Stream removed".
        res.stream.respond({ ":status": 200, "content-type": contentType, ...trailers }, { endStream: true });
        return;
      }
      // Held messages go first; the trailers follow them.
      for (const envelope of held.splice(0)) res.write(envelope);
      res.addTrailers(trailers);
      res.end();
    },
    get ended() {
      return ended;
    },
  };
}

/** gRPC's status trailers for an outcome; an error's metadata rides along. */
export function statusTrailers(error: ConnectError | undefined): Record<string, string> {
  if (error === undefined) return { "grpc-status": "0" };
  const trailers: Record<string, string> = {};
  error.metadata.forEach((value, key) => {
    trailers[key] = value;
  });
  trailers["grpc-status"] = String(error.code);
  trailers["grpc-message"] = percentEncode(error.rawMessage);
  return trailers;
}

/** gRPC's grpc-message encoding: printable ASCII but '%' as is, every other UTF-8 byte as %XX. */
export function percentEncode(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
