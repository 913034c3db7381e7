/**
 * One TCP port, two protocols. Each accepted socket is sniffed: the HTTP/2
 * preface sends it to an HTTP/2 cleartext server (gRPC), anything else to an
 * HTTP/1.1 server (Connect protocol, v1 gateway, /health, web UI). Neither
 * inner server listens itself; they only ever receive sockets from here.
 *
 *   net.Server ──accept──► sniff ──"PRI * HTTP/2.0…"──► http2 server ──┐
 *                               └──anything else──────► http server ──┴─► request handler
 *
 * Lifecycle: created ──listen()──► listening ──close()──► closed
 * close() stops accepting, sends GOAWAY to HTTP/2 sessions and ends idle
 * HTTP/1 sockets, waits `closeGraceMs` for open requests (a long-lived bidi
 * stream never finishes by itself), destroys what is left, and resolves once
 * every socket is closed.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { DescFile } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Logger } from "../log.js";
import type { GrpcStreamRoute } from "./grpc-stream.js";
import { createRequestHandlers, type HttpHook } from "./handler.js";
import { registerReflection } from "./reflection.js";
import { sniffProtocol } from "./sniff.js";

/** What a daemon serves on its one port. */
export interface ServerOptions {
  /** Interface to bind, e.g. "127.0.0.1". */
  host: string;
  /** Port to bind; 0 picks an ephemeral one (see `PlateauServer.port`). */
  port: number;
  /** Registers the RPC services (the daemon registers MesosService here). */
  routes: (router: ConnectRouter) => void;
  /**
   * Plain HTTP/1.1 endpoints (/api/v1/..., /master/state, ...), consulted
   * before /health and the RPC routes. Return true if the request was handled.
   */
  http?: HttpHook;
  /** Bidi methods whose plain gRPC streams skip connect-node (see grpc-stream.ts), by path. */
  streams?: ReadonlyMap<string, GrpcStreamRoute>;
  /** Files whose services gRPC reflection lists; omitted = no reflection. */
  reflection?: DescFile[];
  /** How long close() lets open requests and streams finish; default 1000 ms. */
  closeGraceMs?: number;
  /** Where failures of the `http` hook are reported; default: dropped after a 500. */
  logger?: Logger;
}

/** A bound (or bindable) daemon port. */
export interface PlateauServer {
  /** Binds and starts accepting; resolves with the address actually bound. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting and closes every connection (see file comment). Idempotent. */
  close(): Promise<void>;
  /** The bound port after listen(), else the configured one. */
  readonly port: number;
}

/** How long a new socket may take to send its first bytes. */
const SNIFF_TIMEOUT_MS = 10_000;
/** TCP keepalive probes find peers that vanished without a FIN, such as an agent host that lost power. */
const TCP_KEEPALIVE_DELAY_MS = 30_000;
/** Connection-level flow-control window: many streams share one session, so a larger window keeps one busy stream from stalling the others. */
const H2_SESSION_WINDOW = 16 * 1024 * 1024;

/** Creates the server; nothing is bound until `listen()`. */
export function createServer(options: ServerOptions): PlateauServer {
  const routes = (router: ConnectRouter): void => {
    options.routes(router);
    if (options.reflection !== undefined) registerReflection(router, options.reflection);
  };
  const handlers = createRequestHandlers({
    routes,
    http: options.http,
    logger: options.logger,
    streams: options.streams,
  });
  // Node loads its fetch classes (Headers, which every gRPC call uses) on
  // first use, ~40 ms: pay that now rather than in the first burst of calls,
  // e.g. a fleet re-registering with a new leader.
  void new Headers();
  const graceMs = options.closeGraceMs ?? 1000;

  const h1 = http.createServer(handlers.http1);
  const h2 = http2.createServer(
    {
      settings: { maxConcurrentStreams: 1000, initialWindowSize: 1024 * 1024 },
      // The default (10 MB) is tight for many concurrent streams on one session.
      maxSessionMemory: 64,
    },
    handlers.http2,
  );
  // Streams of the v2 API live as long as the client: never time a session out.
  h2.setTimeout(0);

  /**
   * Every open socket and who owns it. For HTTP/1 sockets the in-flight
   * request count lets close() end idle keep-alive sockets at once.
   */
  const sockets = new Map<net.Socket, Connection>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** Set first thing in close(), so every later event sees it. */
  let stopping = false;
  let closed: Promise<void> | undefined;

  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.once("connect", () => session.setLocalWindowSize(H2_SESSION_WINDOW));
    if (stopping) session.close();
  });
  // A session that fails (e.g. a peer's bad frame) is the peer's problem: the
  // session is destroyed either way, so a debug line is all it deserves.
  h2.on("sessionError", (err: Error) => options.logger?.debug({ err }, "http2 session error"));

  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const connection = sockets.get(req.socket);
    if (connection?.kind !== "http1") return;
    connection.busy++;
    res.once("close", () => {
      connection.busy--;
      if (connection.busy === 0 && stopping) req.socket.end();
    });
  });

  const tcp = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS });
  tcp.on("connection", (socket: net.Socket) => {
    sockets.set(socket, { kind: "sniffing" });
    socket.once("close", () => sockets.delete(socket));
    if (stopping) {
      socket.destroy();
      return;
    }
    void sniffProtocol(socket, SNIFF_TIMEOUT_MS).then((protocol) => {
      if (protocol === undefined || stopping || socket.destroyed) socket.destroy();
      else if (protocol === "h2") {
        sockets.set(socket, { kind: "h2" });
        // The session drains the bytes the sniffer put back (socket.read())
        // before it takes over the socket's handle.
        h2.emit("connection", socket);
      } else {
        sockets.set(socket, { kind: "http1", busy: 0 });
        h1.emit("connection", socket);
        // The sniffer left the socket paused, and the HTTP/1 server only
        // adds a 'data' listener, which does not resume a paused stream.
        socket.resume();
      }
    });
  });

  let boundPort = options.port;

  const closeAll = async (): Promise<void> => {
    stopping = true;
    const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    for (const session of sessions) session.close();
    for (const [socket, connection] of sockets) {
      if (connection.kind === "sniffing") socket.destroy();
      else if (connection.kind === "http1" && connection.busy === 0) socket.end();
    }
    await waitUntil(() => sockets.size === 0, graceMs);
    for (const session of sessions) session.destroy();
    for (const socket of sockets.keys()) socket.destroy();
    await tcpClosed;
    // The inner servers never listened; close() only drops their timers.
    h1.close();
    h2.close();
  };

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host: options.host, port: options.port }, () => {
          tcp.off("error", reject);
          // Later errors come from accept (e.g. EMFILE); unhandled they would
          // crash the daemon, while the server itself keeps listening.
          tcp.on("error", (err) => options.logger?.error({ err }, "accept failed"));
          const address = tcp.address() as net.AddressInfo;
          boundPort = address.port;
          // The HTTP/1 server starts its connection tracking on 'listening',
          // which it never sees since it never binds. Without it
          // headersTimeout and requestTimeout are not enforced (a slowloris
          // client holds a socket forever); h1.close() stops that timer.
          h1.emit("listening");
          resolve({ host: address.address, port: address.port });
        });
      }),
    close: () => (closed ??= closeAll()),
    get port() {
      return boundPort;
    },
  };
}

/** Who owns an accepted socket. */
type Connection = { kind: "sniffing" } | { kind: "h2" } | { kind: "http1"; busy: number };

/** Polls `done` every 20 ms for at most `ms`; close() is rare, so polling beats wiring events. */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
