/**
 * The transport server with a trivial MesosService: Connect echoes each
 * request as an Error event with call_id = id; Operate answers GET_HEALTH
 * healthy=true.
 */
import * as http from "node:http";
import type { Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Call_Type, Response_Type } from "../../gen/mesos/v1/master/master_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  ConnectResponseSchema,
  Error_Code,
  file_mesos_v2_mesos,
  MesosService,
  OperateResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { createServer, type PlateauServer, type ServerOptions } from "../../src/transport/server.js";

/** Streams the fake is serving right now, so tests can wait for them. */
interface FakeStats {
  openStreams: number;
}

function fakeRoutes(stats: FakeStats): (router: ConnectRouter) => void {
  return (router) =>
    router.service(MesosService, {
      async *connect(requests) {
        stats.openStreams++;
        try {
          for await (const request of requests) {
            yield create(ConnectResponseSchema, {
              callId: request.id,
              event: { case: "error", value: { code: Error_Code.UNIMPLEMENTED, message: `echo ${request.id}` } },
            });
          }
        } finally {
          stats.openStreams--;
        }
      },
      operate() {
        return create(OperateResponseSchema, {
          response: { type: Response_Type.GET_HEALTH, getHealth: { healthy: true } },
        });
      },
    });
}

/** Starts a fake server on an ephemeral port of 127.0.0.1. */
async function startFake(
  extra: Partial<ServerOptions> = {},
): Promise<{ server: PlateauServer; port: number; baseUrl: string; stats: FakeStats }> {
  const stats: FakeStats = { openStreams: 0 };
  const server = createServer({
    host: "127.0.0.1",
    port: 0,
    routes: fakeRoutes(stats),
    reflection: [file_mesos_v2_mesos],
    closeGraceMs: 200,
    ...extra,
  });
  const { port } = await server.listen();
  return { server, port, baseUrl: `http://127.0.0.1:${port}`, stats };
}

/** Polls until `done` or fails after `ms`. */
async function eventually(done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Everything a test opened, closed in afterEach even when the test failed. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fake(extra?: Parameters<typeof startFake>[0]) {
  const started = await startFake(extra);
  cleanups.push(() => started.server.close());
  return started;
}

/** gRPC always runs on HTTP/2 in connect-node v2 (no httpVersion option); its own session manager lets the test close the client connection. */
function grpcClient(baseUrl: string, sessionManager = new Http2SessionManager(baseUrl)) {
  cleanups.push(() => sessionManager.abort());
  return createClient(MesosService, createGrpcTransport({ baseUrl, sessionManager }));
}

/** Sockets, servers and timers this process holds, by kind. */
function handles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

function get(port: number, path: string, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A request stream the test feeds by hand, to interleave sends and receives. */
function pushable() {
  const queue: ConnectRequest[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  return {
    push(id: string) {
      queue.push(create(ConnectRequestSchema, { id }));
      wake?.();
    },
    end() {
      done = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) yield next;
        else if (done) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

describe("transport server", () => {
  it("serves Operate over gRPC (HTTP/2 prior knowledge)", async () => {
    const { baseUrl } = await fake();
    const answer = await grpcClient(baseUrl).operate({ call: { type: Call_Type.GET_HEALTH } });
    expect(answer.response?.type).toBe(Response_Type.GET_HEALTH);
    expect(answer.response?.getHealth?.healthy).toBe(true);
  });

  it("carries a bidi Connect stream with several messages each way", async () => {
    const { baseUrl } = await fake();
    const requests = pushable();
    const responses = grpcClient(baseUrl).connect(requests)[Symbol.asyncIterator]();
    for (const id of ["a", "b", "c", "d"]) {
      requests.push(id);
      const next = await responses.next();
      expect(next.done).toBe(false);
      expect(next.value?.callId).toBe(id);
      expect(next.value?.event.case).toBe("error");
    }
    requests.end();
    expect((await responses.next()).done).toBe(true);
  });

  it("serves the Connect protocol over HTTP/1.1 on the same port", async () => {
    const { baseUrl } = await fake();
    const client = createClient(MesosService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    const answer = await client.operate({ call: { type: Call_Type.GET_HEALTH } });
    expect(answer.response?.getHealth?.healthy).toBe(true);
  });

  it("answers GET /health with 200 and an empty body, unknown paths with 404", async () => {
    const { port } = await fake();
    expect(await get(port, "/health")).toEqual({ status: 200, body: "" });
    expect((await get(port, "/health", "POST")).status).toBe(405);
    const missing = await get(port, "/no/such/thing");
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("Not found");
  });

  it("consults the http hook first, sync or async", async () => {
    const { port } = await fake({
      http: async (req, res) => {
        if (req.url !== "/master/state") return false;
        await new Promise((r) => setTimeout(r, 5));
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ok":true}');
        return true;
      },
    });
    expect(await get(port, "/master/state")).toEqual({ status: 200, body: '{"ok":true}' });
    expect((await get(port, "/health")).status).toBe(200);
  });

  it("answers 500 when the http hook throws", async () => {
    const { port } = await fake({
      http: () => {
        throw new Error("bug");
      },
    });
    expect((await get(port, "/anything")).status).toBe(500);
  });

  it("reports an unknown gRPC method as UNIMPLEMENTED", async () => {
    const { baseUrl } = await fake({ routes: () => {}, reflection: [] });
    const err = await grpcClient(baseUrl)
      .operate({})
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unimplemented);
  });

  it("close() ends an open bidi stream and every connection, leaving no handles", async () => {
    const before = handles();
    const { server, baseUrl, stats } = await fake();
    const sessionManager = new Http2SessionManager(baseUrl);
    const requests = pushable();
    const responses = grpcClient(baseUrl, sessionManager).connect(requests)[Symbol.asyncIterator]();
    requests.push("x");
    expect((await responses.next()).value?.callId).toBe("x");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const idleH1 = await openKeepAlive(server.port, agent);
    await eventually(() => stats.openStreams === 1);

    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stats.openStreams).toBe(0);
    await expect(responses.next()).rejects.toThrow();
    await eventually(() => idleH1.destroyed);
    // A second close() is a no-op that still resolves.
    await server.close();

    requests.end();
    sessionManager.abort();
    agent.destroy();
    await eventually(() => {
      const after = handles();
      return ["TCPServerWrap", "TCPSocketWrap", "Timeout"].every(
        (kind) => (after.get(kind) ?? 0) <= (before.get(kind) ?? 0),
      );
    });
  });

  it("reports a port in use", async () => {
    const { port } = await fake();
    const second = createServer({ host: "127.0.0.1", port, routes: () => {} });
    await expect(second.listen()).rejects.toThrow(/EADDRINUSE/);
    await second.close();
  });
});

/** An idle HTTP/1.1 keep-alive connection, which close() must end too. */
function openKeepAlive(port: number, agent: http.Agent): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/health", agent }, (res) => {
      // Taken now: the agent detaches the socket from the response at its end.
      const socket = res.socket;
      res.resume();
      res.on("end", () => resolve(socket));
    });
    req.on("error", reject);
  });
}
