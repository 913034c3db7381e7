import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Call_Type, Response_Type, ResponseSchema } from "../../gen/mesos/v1/master/master_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  MesosService,
} from "../../gen/mesos/v2/mesos_pb.js";
import { backoffDelay, normalizeBaseUrl, openStream, type UnifiedStream } from "../../src/client/stream.js";
import { createAsyncQueue } from "../../src/util/async-queue.js";
import { until } from "../helpers/wait.js";

/** One server-side stream as the fake master saw it. */
interface FakeConnection {
  requests: ConnectRequest[];
  push(event: ConnectResponse): void;
  /** Ends the stream from the server, with an error when given. */
  drop(error?: Error): void;
}

/** How the fake answers; tests flip these between steps. */
interface Behaviour {
  /** Answer GET_HEALTH calls (echoing the id) when true. */
  answerCalls: boolean;
  /** Send one event right after the hello. */
  greet: boolean;
  /** Drop each stream right after its hello. */
  dropAfterHello: boolean;
}

async function startFake(behaviour: Behaviour) {
  const connections: FakeConnection[] = [];
  const waiters: (() => void)[] = [];
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      async *connect(requests) {
        const outbox = createAsyncQueue<ConnectResponse>();
        let failure: Error | undefined;
        const conn: FakeConnection = {
          requests: [],
          push: (e) => outbox.push(e),
          drop: (error) => {
            failure = error;
            outbox.end();
          },
        };
        connections.push(conn);
        waiters.splice(0).forEach((w) => w());
        void (async () => {
          try {
            for await (const r of requests) onRequest(conn, r, behaviour);
          } catch {
            // client went away
          }
          outbox.end();
        })();
        yield* outbox;
        if (failure) throw failure;
      },
      async operate() {
        throw new ConnectError("not in this fake", Code.Unimplemented);
      },
    });
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(connectNodeAdapter({ routes }));
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    connections,
    /** Resolves once at least `n` streams have been opened. */
    async waitForConnections(n: number): Promise<void> {
      while (connections.length < n) await new Promise<void>((r) => waiters.push(r));
    },
    async close(): Promise<void> {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function onRequest(conn: FakeConnection, r: ConnectRequest, behaviour: Behaviour): void {
  conn.requests.push(r);
  const first = conn.requests.length === 1;
  if (first && behaviour.greet) conn.push(create(ConnectResponseSchema, { callId: r.id }));
  if (first && behaviour.dropAfterHello) {
    conn.drop(new ConnectError("go away", Code.Unavailable));
    return;
  }
  if (!first && behaviour.answerCalls && r.call.case === "operator") {
    const response = create(ResponseSchema, { type: Response_Type.GET_HEALTH, getHealth: { healthy: true } });
    conn.push(create(ConnectResponseSchema, { callId: r.id, event: { case: "operatorResponse", value: response } }));
  }
}

function healthCall(id = ""): ConnectRequest {
  return create(ConnectRequestSchema, { id, call: { case: "operator", value: { type: Call_Type.GET_HEALTH } } });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(behaviour: Partial<Behaviour> = {}) {
  const b: Behaviour = { answerCalls: true, greet: false, dropAfterHello: false, ...behaviour };
  const fake = await startFake(b);
  cleanups.push(() => fake.close());
  return { fake, behaviour: b };
}

function track(stream: UnifiedStream): UnifiedStream {
  cleanups.push(() => stream.close());
  return stream;
}

describe("normalizeBaseUrl and backoffDelay", () => {
  it("accepts host:port and URLs", () => {
    expect(normalizeBaseUrl("127.0.0.1:5050")).toBe("http://127.0.0.1:5050");
    expect(normalizeBaseUrl("http://127.0.0.1:5050/")).toBe("http://127.0.0.1:5050");
    expect(normalizeBaseUrl("https://m:1")).toBe("https://m:1");
  });
  it("grows exponentially, caps, and jitters within [ceiling/2, ceiling]", () => {
    const p = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, p, () => 0)).toBe(50);
    expect(backoffDelay(0, p, () => 1)).toBe(100);
    expect(backoffDelay(3, p, () => 1)).toBe(800);
    expect(backoffDelay(10, p, () => 1)).toBe(1000);
    expect(backoffDelay(10, p, () => 0)).toBe(500);
  });
});

describe("openStream", () => {
  it("sends the hello first and matches call answers by id", async () => {
    const { fake } = await setup();
    const events: ConnectResponse[] = [];
    let connects = 0;
    const stream = track(
      openStream({
        baseUrl: fake.address,
        hello: () => healthCall("hello"),
        onEvent: (e) => events.push(e),
        onConnected: () => connects++,
      }),
    );
    await until(() => stream.connected);
    expect(connects).toBe(1);
    const [a, b] = await Promise.all([stream.call(healthCall()), stream.call(healthCall("mine"))]);
    expect(a.callId).not.toBe("");
    expect(b.callId).toBe("mine");
    expect(a.event.case).toBe("operatorResponse");
    expect(fake.connections[0]!.requests.map((r) => r.id)).toEqual(["hello", a.callId, "mine"]);
    // Answers to call() are not duplicated to onEvent.
    expect(events).toEqual([]);
  });

  it("rejects a call that gets no answer, and calls when not connected", async () => {
    const { fake, behaviour } = await setup({ answerCalls: false });
    const stream = track(openStream({ baseUrl: fake.address, hello: () => healthCall(), onEvent: () => {} }));
    await until(() => stream.connected);
    await expect(stream.call(healthCall(), 50)).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    behaviour.answerCalls = true;
    await stream.close();
    await expect(stream.call(healthCall())).rejects.toMatchObject({ code: Code.Unavailable });
    expect(stream.send(healthCall())).toBe(false);
  });

  it("reconnects with backoff after the server drops the stream, re-sending a fresh hello", async () => {
    const { fake, behaviour } = await setup({ dropAfterHello: true });
    let hellos = 0;
    const disconnects: (Error | undefined)[] = [];
    const stream = track(
      openStream({
        baseUrl: fake.address,
        hello: () => healthCall(`hello-${++hellos}`),
        onEvent: () => {},
        onDisconnected: (e) => disconnects.push(e),
        reconnect: { initialMs: 10, maxMs: 40 },
      }),
    );
    await until(() => disconnects.length >= 3);
    behaviour.dropAfterHello = false;
    await until(() => stream.connected && fake.connections.length >= 4);
    expect(fake.connections.map((c) => c.requests[0]?.id).slice(0, 3)).toEqual(["hello-1", "hello-2", "hello-3"]);
    expect(disconnects.length).toBeGreaterThanOrEqual(3);
    expect(disconnects[0]).toBeInstanceOf(Error);
    const answer = await stream.call(healthCall());
    expect(answer.event.case).toBe("operatorResponse");
  });

  it("fails pending calls when the connection drops", async () => {
    const { fake } = await setup({ answerCalls: false });
    const stream = track(
      openStream({ baseUrl: fake.address, hello: () => healthCall(), onEvent: () => {}, reconnect: false }),
    );
    await until(() => stream.connected);
    const pending = stream.call(healthCall());
    await until(() => fake.connections[0]?.requests.length === 2);
    fake.connections[0]!.drop(new ConnectError("bye", Code.Unavailable));
    await expect(pending).rejects.toBeInstanceOf(ConnectError);
    await until(() => !stream.connected);
  });

  it("drops and reconnects when no event arrives within the heartbeat timeout", async () => {
    const { fake } = await setup({ greet: true });
    const events: ConnectResponse[] = [];
    const disconnects: (Error | undefined)[] = [];
    const stream = track(
      openStream({
        baseUrl: fake.address,
        hello: () => healthCall(),
        onEvent: (e) => events.push(e),
        onDisconnected: (e) => disconnects.push(e),
        heartbeatTimeoutMs: () => 150,
        reconnect: { initialMs: 10, maxMs: 20 },
      }),
    );
    await fake.waitForConnections(2);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(disconnects[0]?.message).toMatch(/no event/);
    await until(() => stream.connected);
  });

  it("close() flushes sent requests and leaves no timers or sockets", async () => {
    const { fake } = await setup({ answerCalls: false });
    const before = countResources();
    const stream = openStream({
      baseUrl: fake.address,
      hello: () => healthCall(),
      onEvent: () => {},
      heartbeatTimeoutMs: () => 10_000,
    });
    await until(() => stream.connected);
    const unanswered = stream.call(healthCall(), 10_000);
    expect(stream.send(healthCall("last"))).toBe(true);
    await stream.close();
    await expect(unanswered).rejects.toMatchObject({ code: Code.Canceled });
    expect(stream.connected).toBe(false);
    await until(() => fake.connections[0]?.requests.some((r) => r.id === "last"));
    await new Promise((r) => setImmediate(r));
    const after = countResources();
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0);
  });

  it("close() while backing off against an unreachable address returns promptly", async () => {
    let failed: () => void = () => undefined;
    const firstAttemptFailed = new Promise<void>((resolve) => (failed = resolve));
    const stream = openStream({
      baseUrl: "127.0.0.1:1",
      hello: () => healthCall(),
      onEvent: () => {},
      // The stream starts its 5 s back-off right after telling us.
      onDisconnected: () => failed(),
      reconnect: { initialMs: 5_000, maxMs: 5_000 },
    });
    await firstAttemptFailed;
    const started = Date.now();
    await stream.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}
