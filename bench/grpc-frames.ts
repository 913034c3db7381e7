/**
 * The bytes of plain gRPC over HTTP/2, as the simulated agents speak it
 * without a client library: 5-byte length-prefixed messages (a flag byte,
 * then the length, big-endian) and a status in the `grpc-status` and
 * `grpc-message` trailers (or in the headers of a trailers-only answer).
 * Wire facts from gRPC's PROTOCOL-HTTP2 document.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { MesosService } from "../gen/mesos/v2/mesos_pb.js";
import { LEADER_HEADER } from "../src/wire/masters.js";

/** The unified stream's method, as gRPC names it on the wire. */
export const CONNECT_PATH = `/${MesosService.typeName}/${MesosService.method.connect.name}`;

/** gRPC's UNAVAILABLE: what a standby (or a master still recovering) answers. */
export const GRPC_UNAVAILABLE = 14;

/** gRPC's default limit on one received message; a peer sending more is not one we can read. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const PREFIX_BYTES = 5;

/** One message in its envelope, ready to write (encode once, write as often as needed). */
export function frame(message: Uint8Array, prefix?: Uint8Array): Buffer {
  const length = (prefix?.length ?? 0) + message.length;
  const out = Buffer.allocUnsafe(PREFIX_BYTES + length);
  out[0] = 0;
  out.writeUInt32BE(length, 1);
  let at = PREFIX_BYTES;
  if (prefix !== undefined) {
    out.set(prefix, at);
    at += prefix.length;
  }
  out.set(message, at);
  return out;
}

/**
 * Cuts a stream of DATA chunks into messages. A message that spans chunks
 * is gathered once it is complete, not re-copied per chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next message (or its prefix) can be read. */
  private need = PREFIX_BYTES;

  /** Calls `onMessage` per complete message; returns why the bytes are unreadable, if they are. */
  push(chunk: Buffer, onMessage: (bytes: Uint8Array) => void): string | undefined {
    let buf: Buffer;
    if (this.chunks.length === 0) buf = chunk;
    else {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.need) return undefined;
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    }
    let at = 0;
    while (buf.length - at >= PREFIX_BYTES) {
      const flags = buf[at] as number;
      const length = buf.readUInt32BE(at + 1);
      // We never send grpc-accept-encoding, so a compressed message is a peer's bug.
      if (flags !== 0) return `a message with flags ${flags} (compression was not offered)`;
      if (length > MAX_MESSAGE_BYTES) return `a message of ${length} bytes (over gRPC's ${MAX_MESSAGE_BYTES})`;
      if (buf.length - at - PREFIX_BYTES < length) {
        this.need = PREFIX_BYTES + length;
        break;
      }
      onMessage(buf.subarray(at + PREFIX_BYTES, at + PREFIX_BYTES + length));
      at += PREFIX_BYTES + length;
      this.need = PREFIX_BYTES;
    }
    if (at < buf.length) {
      const rest = buf.subarray(at);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
    return undefined;
  }

  /** Bytes of an unfinished message: a stream ending now was cut short. */
  get partial(): number {
    return this.buffered;
  }
}

/** What the server said about the call. */
export interface GrpcStatus {
  code: number;
  message: string;
  /** The leading master a standby named (the `plateau-leader` trailer). */
  leader: string | undefined;
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Not percent-encoded as the protocol asks: show it as it came.
    return text;
  }
}

/**
 * The status in trailers (or trailers-only headers): undefined when there
 * is none, a string saying what is wrong when it is unreadable.
 */
export function statusOf(headers: IncomingHttpHeaders): GrpcStatus | string | undefined {
  const raw = single(headers["grpc-status"]);
  if (raw === undefined) return undefined;
  if (!/^\d{1,2}$/.test(raw)) return `an unreadable grpc-status '${raw.slice(0, 40)}'`;
  const leader = single(headers[LEADER_HEADER]);
  return {
    code: Number(raw),
    message: percentDecoded(single(headers["grpc-message"]) ?? ""),
    leader: leader === "" ? undefined : leader,
  };
}
