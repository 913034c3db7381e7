/**
 * The agent's executor socket: a Unix socket in the work dir where executor
 * hosts reach the agent, every hosted executor's session multiplexed on the
 * host's one connection (frames: src/executor/socket-frames.ts). Each
 * session is an executor session like a v1 HTTP executor's
 * (`ExecutorSessions.open`), so the core sees hosted executors exactly as it
 * sees custom ones on their own streams.
 *
 * The socket lives at a fixed path in the work dir, and hosts re-dial it
 * when their connection drops, so a host is not tied to one agent process:
 * an agent started again on the same work dir serves it at the same path.
 *
 * Ownership: `close()` stops listening, drops every connection (ending
 * their sessions) and removes the socket file.
 */

import { unlinkSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectRequestSchema, ConnectResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { createFrameReader, createFrameWriter, encodeFrame, type Frame, FrameKind } from "../executor/socket-frames.js";
import type { ExecutorSession, ExecutorSessions } from "../gateway/executor-sessions.js";
import type { Logger } from "../log.js";

/** The longest path a Unix socket address holds on Linux (sun_path, less its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

export interface ExecutorSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `path` (a stale socket file left by an earlier agent is
 * replaced). Resolves once listening.
 */
export async function serveExecutorSocket(
  path: string,
  sessions: ExecutorSessions,
  logger: Logger,
): Promise<ExecutorSocket> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES)
    throw new Error(`executor socket path is too long for a Unix socket: ${path}`);
  removeFile(path);
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    serveConnection(socket, sessions, logger);
    socket.once("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    path,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await closed;
      removeFile(path);
    },
  };
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

/** One host's connection: its sessions by number, all ended when it drops. */
function serveConnection(socket: Socket, sessions: ExecutorSessions, logger: Logger): void {
  const open = new Map<number, ExecutorSession>();
  const writer = createFrameWriter((bytes) => {
    if (!socket.destroyed) socket.write(bytes);
  });

  const onFrame = (frame: Frame): void => {
    switch (frame.kind) {
      case FrameKind.OPEN: {
        const number = frame.session;
        if (open.has(number)) return;
        const session = sessions.open({
          send: (response) =>
            writer.push(encodeFrame(FrameKind.EVENT, number, toBinary(ConnectResponseSchema, response))),
          end: () => {
            if (open.delete(number)) writer.push(encodeFrame(FrameKind.END, number));
          },
        });
        open.set(number, session);
        return;
      }
      case FrameKind.CALL:
        open.get(frame.session)?.request(fromBinary(ConnectRequestSchema, frame.payload));
        return;
      case FrameKind.CLOSE: {
        const session = open.get(frame.session);
        // Forget it first: the session's own end must not answer with END.
        open.delete(frame.session);
        session?.close();
        return;
      }
      default:
        throw new Error(`unexpected executor socket frame kind ${frame.kind}`);
    }
  };

  const reader = createFrameReader(onFrame);
  socket.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      logger.warn({ err: String(err) }, "dropping an executor host's connection");
      socket.destroy();
    }
  });
  socket.on("error", (err) => logger.debug({ err: String(err) }, "executor socket connection failed"));
  socket.once("close", () => {
    const ending = [...open.values()];
    open.clear();
    for (const session of ending) session.close();
  });
}
