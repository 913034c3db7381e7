/**
 * The executor host's side of the agent's executor socket: one Unix socket
 * connection carrying a session per hosted executor (frames:
 * socket-frames.ts), each behaving as that executor's unified stream would.
 *
 *   open(session) ──► dialing ──connect──► OPEN n, CALL hello ──► attached
 *                        ▲                                          │
 *                        │ backoff                connection lost / END n
 *                        └──────────────── detached ◄───────────────┘
 *   close(session) ──► CLOSE n (if attached), forgotten
 *
 * A lost connection detaches every session; the host re-dials the same path
 * (the agent may have been restarted on its work dir meanwhile) and each
 * session opens again with a fresh `hello()`, so a SUBSCRIBE carries what
 * the agent has not acknowledged yet, as on a reconnecting stream.
 *
 * Ownership: every timer and the connection belong to the AgentSocket;
 * `close()` cancels them and ends the connection.
 */

import { connect, type Socket } from "node:net";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type ConnectRequest, ConnectRequestSchema, ConnectResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { backoffDelay, type ReconnectPolicy } from "../client/backoff.js";
import type { ExecutorStream, ExecutorStreamOptions } from "../client/executor.js";
import type { Logger } from "../log.js";
import { createFrameReader, createFrameWriter, encodeFrame, type Frame, FrameKind } from "./socket-frames.js";

export interface AgentSocket {
  /** A session for one executor; it attaches as soon as the socket is connected. */
  open(options: ExecutorStreamOptions): ExecutorStream;
  /** Ends the connection and every session; no more dialing. */
  close(): void;
}

interface Session {
  options: ExecutorStreamOptions;
  /** Its number on the current connection while attached. */
  number: number | undefined;
  closed: boolean;
  attempt: number;
  retry: NodeJS.Timeout | undefined;
}

interface Connection {
  socket: Socket;
  connected: boolean;
  writer: ReturnType<typeof createFrameWriter>;
}

const encodeCall = (number: number, request: ConnectRequest): Buffer =>
  encodeFrame(FrameKind.CALL, number, toBinary(ConnectRequestSchema, request));

/** Dials `path` when the first session opens, and again whenever the connection drops while sessions remain. */
export function dialAgentSocket(path: string, options: { logger: Logger; reconnect: ReconnectPolicy }): AgentSocket {
  const { logger } = options;
  const sessions = new Set<Session>();
  const attached = new Map<number, Session>();
  let nextNumber = 1;
  let current: Connection | undefined;
  let attempt = 0;
  let redial: NodeJS.Timeout | undefined;
  let closed = false;

  const attach = (conn: Connection, session: Session): void => {
    const number = nextNumber++;
    session.number = number;
    attached.set(number, session);
    conn.writer.push(encodeFrame(FrameKind.OPEN, number));
    conn.writer.push(encodeCall(number, session.options.hello()));
    session.options.onConnected?.();
  };

  const detach = (session: Session, error: Error | undefined): void => {
    if (session.number === undefined) return;
    attached.delete(session.number);
    session.number = undefined;
    session.options.onDisconnected?.(error);
  };

  /** The agent ended this session: open it again after a backoff, as a stream reconnects. */
  const reopenLater = (session: Session): void => {
    detach(session, undefined);
    const delay = backoffDelay(session.attempt++, options.reconnect);
    session.retry = setTimeout(() => {
      session.retry = undefined;
      if (!session.closed && current?.connected === true) attach(current, session);
    }, delay);
  };

  const onFrame = (frame: Frame): void => {
    const session = attached.get(frame.session);
    if (session === undefined) return;
    if (frame.kind === FrameKind.EVENT) {
      session.attempt = 0;
      session.options.onEvent(fromBinary(ConnectResponseSchema, frame.payload));
    } else if (frame.kind === FrameKind.END) reopenLater(session);
  };

  const dial = (): void => {
    if (closed || current !== undefined || redial !== undefined) return;
    const socket = connect(path);
    const conn: Connection = {
      socket,
      connected: false,
      writer: createFrameWriter((bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      }),
    };
    current = conn;
    const reader = createFrameReader(onFrame);
    socket.once("connect", () => {
      conn.connected = true;
      attempt = 0;
      logger.debug({ path }, "connected to the agent's executor socket");
      for (const session of sessions)
        if (session.number === undefined && session.retry === undefined) attach(conn, session);
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        logger.warn({ err: String(err) }, "dropping the agent's executor socket");
        socket.destroy();
      }
    });
    let failure: Error | undefined;
    socket.on("error", (err) => {
      failure = err;
    });
    socket.once("close", () => {
      current = undefined;
      const lost = failure ?? new Error(`the agent's executor socket ${path} closed`);
      for (const session of [...attached.values()]) detach(session, lost);
      if (closed || sessions.size === 0) return;
      const delay = backoffDelay(attempt++, options.reconnect);
      logger.debug({ delay, err: lost.message }, "re-dialing the agent's executor socket");
      redial = setTimeout(() => {
        redial = undefined;
        dial();
      }, delay);
    });
  };

  return {
    open(streamOptions) {
      const session: Session = {
        options: streamOptions,
        number: undefined,
        closed: false,
        attempt: 0,
        retry: undefined,
      };
      sessions.add(session);
      if (current?.connected === true) attach(current, session);
      else dial();
      return {
        send(request) {
          if (session.number === undefined || current === undefined) return false;
          current.writer.push(encodeCall(session.number, request));
          return true;
        },
        get connected() {
          return session.number !== undefined;
        },
        close() {
          if (session.closed) return Promise.resolve();
          session.closed = true;
          sessions.delete(session);
          if (session.retry !== undefined) clearTimeout(session.retry);
          if (session.number !== undefined) {
            current?.writer.push(encodeFrame(FrameKind.CLOSE, session.number));
            attached.delete(session.number);
            session.number = undefined;
          }
          return Promise.resolve();
        },
      };
    },
    close() {
      closed = true;
      if (redial !== undefined) clearTimeout(redial);
      for (const session of sessions) if (session.retry !== undefined) clearTimeout(session.retry);
      sessions.clear();
      attached.clear();
      if (current !== undefined) {
        current.writer.flush();
        current.socket.end();
      }
    },
  };
}
