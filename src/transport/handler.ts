import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "../log.js";
import { type GrpcStreamRoute, isPlainGrpc, percentEncode, serveGrpcStream } from "./grpc-stream.js";

/**
 * A plain HTTP/1.1 endpoint set (v1 gateway, /master/state, web UI).
 * Returns (or resolves) true when it answered the request, false to let the
 * built-in endpoints and the RPC routes try.
 */
export type HttpHook = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** What the request handlers dispatch to. */
export interface HandlerOptions {
  routes: (router: ConnectRouter) => void;
  http?: HttpHook | undefined;
  logger?: Logger | undefined;
  /** Bidi methods by path ("/package.Service/Method") whose plain gRPC streams are carried by hand (grpc-stream.ts). */
  streams?: ReadonlyMap<string, GrpcStreamRoute> | undefined;
}

/** One request listener per inner server; both end in the same RPC router. */
export interface RequestHandlers {
  http1: (req: IncomingMessage, res: ServerResponse) => void;
  http2: (req: Http2ServerRequest, res: Http2ServerResponse) => void;
}

/**
 * Builds the request listeners. Order on HTTP/1.1: the `http` hook, then
 * /health, then the RPC routes (Connect protocol, gRPC-Web), then 404. On
 * HTTP/2 the hook is skipped (it is typed for HTTP/1 objects and only serves
 * HTTP/1 clients), so gRPC calls pay nothing for it.
 */
export function createRequestHandlers(options: HandlerOptions): RequestHandlers {
  const rpc = connectNodeAdapter({ routes: options.routes, fallback: notFound });
  const hook = options.http;

  const streams = options.streams;
  const http2 = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const route = streams?.get(req.url);
    if (route !== undefined && req.method === "POST" && isPlainGrpc(req.headers) && serveGrpcStream(req, res, route))
      return;
    if (isHealth(req.url)) health(req.method, res);
    else rpc(req, res);
  };

  const fallThrough = (req: IncomingMessage, res: ServerResponse): void => {
    if (isHealth(req.url)) health(req.method, res);
    else rpc(req, res);
  };

  const http1 = (req: IncomingMessage, res: ServerResponse): void => {
    if (hook === undefined) return fallThrough(req, res);
    let handled: boolean | Promise<boolean>;
    try {
      handled = hook(req, res);
    } catch (err) {
      return failed(err, res, options.logger);
    }
    // A synchronous answer keeps the common path free of extra ticks.
    if (handled === true) return;
    if (handled === false) return fallThrough(req, res);
    handled.then(
      (done) => {
        if (!done) fallThrough(req, res);
      },
      (err: unknown) => failed(err, res, options.logger),
    );
  };

  return { http1, http2 };
}

function isHealth(url: string | undefined): boolean {
  return url === "/health" || url?.startsWith("/health?") === true;
}

/** Mesos answers GET /health with 200 and an empty body; load balancers rely on it. */
function health(method: string | undefined, res: ServerResponse | Http2ServerResponse): void {
  if (method === "GET" || method === "HEAD") {
    res.writeHead(200, { "content-length": "0" });
    res.end();
  } else {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    res.end("Expecting 'GET' or 'HEAD'\n");
  }
}

/**
 * Unknown paths: 404, except for a gRPC call over HTTP/2, which gets what gRPC
 * servers answer for an unknown method: a trailers-only UNIMPLEMENTED status
 * naming it. gRPC's C core (grpcio, grpc++) would map a 404 to UNIMPLEMENTED
 * too, but with no word of the method and an error logged for the text/plain
 * content type.
 */
const notFound: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (req, res) => {
  if ("stream" in res && speaksGrpc(req.headers["content-type"]) && !res.stream.headersSent) {
    res.stream.respond(
      {
        ":status": 200,
        "content-type": "application/grpc",
        "grpc-status": "12",
        "grpc-message": percentEncode(`unknown method ${req.url ?? ""}`),
      },
      { endStream: true },
    );
    return;
  }
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
  res.end(`Not found: ${req.url ?? ""}\n`);
};

/** application/grpc and application/grpc+proto, not gRPC-Web (whose clients read a 404 well). */
function speaksGrpc(contentType: string | undefined): boolean {
  return contentType === "application/grpc" || contentType?.startsWith("application/grpc+") === true;
}

/** A hook that throws is a bug in the daemon: answer 500 if still possible, and report it. */
function failed(err: unknown, res: ServerResponse, logger: Logger | undefined): void {
  logger?.error({ err }, "http handler failed");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
  res.end("Internal server error\n");
}
