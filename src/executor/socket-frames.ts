/**
 * Frames of the executor socket: the Unix socket an executor host dials to
 * reach its agent, carrying the unified stream's messages of every executor
 * it hosts on one connection (see src/agent/executor-socket.ts and
 * src/executor/agent-socket.ts).
 *
 * Why not one gRPC stream per executor: launching 1,000 `true` tasks, the
 * CPU per task of the executor host and of the agent went mostly to opening,
 * driving and closing one Connect stream per executor (promises and async
 * iterables per message, HTTP/2 headers per stream), not to the messages.
 * The payloads stay the v2 `ConnectRequest` / `ConnectResponse`, so the
 * agent handles a hosted executor's calls exactly as a stream's.
 *
 *   frame = length (u32 BE, of what follows) · kind (u8) · session (u32 BE) · payload
 *
 *   host ──OPEN s──► agent      a new executor session numbered s (no payload)
 *   host ──CALL s──► agent      a ConnectRequest of session s
 *   host ──CLOSE s─► agent      the executor is done with s
 *   host ◄─EVENT s── agent      a ConnectResponse for session s
 *   host ◄─END s──── agent      the agent ended s (refused, replaced, agent stopping)
 *
 * A session number is never reused on one connection; a lost connection
 * ends all of its sessions, and the host opens new ones once it re-dials.
 */

export const FrameKind = {
  OPEN: 1,
  CALL: 2,
  CLOSE: 3,
  EVENT: 4,
  END: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** One decoded frame; `payload` is a view into the bytes received. */
export interface Frame {
  kind: FrameKind;
  session: number;
  payload: Uint8Array;
}

const HEADER_BYTES = 9;
/** Far above any executor message; a larger length means the stream is corrupt. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** The bytes of one frame. */
export function encodeFrame(kind: FrameKind, session: number, payload?: Uint8Array): Buffer {
  const size = payload?.length ?? 0;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + size);
  frame.writeUInt32BE(5 + size, 0);
  frame.writeUInt8(kind, 4);
  frame.writeUInt32BE(session, 5);
  if (payload !== undefined) frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * Cuts a byte stream into frames, whatever the chunks' boundaries. Throws on
 * a length no sender writes (the connection is then dropped by its owner).
 */
export function createFrameReader(onFrame: (frame: Frame) => void): { push(chunk: Buffer): void } {
  let rest: Buffer | undefined;
  return {
    push(chunk) {
      let buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      rest = undefined;
      let at = 0;
      while (buf.length - at >= 4) {
        const length = buf.readUInt32BE(at);
        if (length < 5 || length > MAX_FRAME_BYTES) throw new Error(`bad executor socket frame length ${length}`);
        if (buf.length - at < 4 + length) break;
        const kind = buf.readUInt8(at + 4) as FrameKind;
        const session = buf.readUInt32BE(at + 5);
        onFrame({ kind, session, payload: buf.subarray(at + HEADER_BYTES, at + 4 + length) });
        at += 4 + length;
      }
      if (at < buf.length) {
        // Copy the tail: keeping a view would pin the whole chunk.
        buf = buf.subarray(at);
        rest = Buffer.from(buf);
      }
    },
  };
}

/**
 * Gathers the frames written during one turn of the event loop into one
 * socket write: a burst of launches then costs a write per turn, not per
 * message.
 */
export function createFrameWriter(write: (bytes: Buffer) => void): {
  push(frame: Buffer): void;
  /** Writes what is gathered now (e.g. before closing). */
  flush(): void;
} {
  let gathered: Buffer[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (gathered.length === 0) return;
    const bytes = gathered.length === 1 ? (gathered[0] as Buffer) : Buffer.concat(gathered);
    gathered = [];
    write(bytes);
  };
  return {
    push(frame) {
      gathered.push(frame);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
