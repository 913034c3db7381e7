/**
 * The executor socket between an executor host and its agent: many executor
 * sessions on one Unix socket connection, each routed on its own, and a
 * host that re-dials a restarted agent and opens its sessions again with a
 * fresh hello (what lets executors outlive an agent restart).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Call_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { type ExecutorSocket, serveExecutorSocket } from "../../src/agent/executor-socket.js";
import type { ExecutorStream } from "../../src/client/executor.js";
import { type AgentSocket, dialAgentSocket } from "../../src/executor/agent-socket.js";
import { createFrameReader, encodeFrame, FrameKind } from "../../src/executor/socket-frames.js";
import type { ExecutorSessions, ExecutorSink } from "../../src/gateway/executor-sessions.js";
import { silentLogger } from "../../src/log.js";
import { until } from "../helpers/wait.js";

/** The agent's side as a recorder: each session answers every call with an event naming its executor. */
function recordingSessions() {
  const opened: { sink: ExecutorSink; requests: ConnectRequest[]; closed: boolean }[] = [];
  const sessions: ExecutorSessions = {
    open(sink) {
      const session = { sink, requests: [] as ConnectRequest[], closed: false };
      opened.push(session);
      return {
        request(request) {
          session.requests.push(request);
          const executor = request.call.case === "executor" ? request.call.value.executorId?.value : "";
          sink.send(create(ConnectResponseSchema, { callId: `${executor}:${request.id}` }));
        },
        close() {
          session.closed = true;
        },
        bound: undefined,
      };
    },
  };
  return { sessions, opened };
}

const call = (executorId: string, id: string, type = Call_Type.UPDATE): ConnectRequest =>
  create(ConnectRequestSchema, {
    id,
    call: { case: "executor", value: { type, frameworkId: { value: "f" }, executorId: { value: executorId } } },
  });

/** A hosted executor's view: what it got, and how often it was connected. */
function executor(socket: AgentSocket, executorId: string) {
  const events: ConnectResponse[] = [];
  let hellos = 0;
  let disconnects = 0;
  const stream: ExecutorStream = socket.open({
    hello: () => call(executorId, `hello-${++hellos}`, Call_Type.SUBSCRIBE),
    onEvent: (event) => events.push(event),
    onDisconnected: () => disconnects++,
  });
  return {
    stream,
    events,
    get hellos() {
      return hellos;
    },
    get disconnects() {
      return disconnects;
    },
  };
}

describe("executor socket", () => {
  let dir: string;
  let path: string;
  const servers: ExecutorSocket[] = [];
  const clients: AgentSocket[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "plateau-executor-socket-"));
    path = join(dir, "executors.sock");
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const serve = async (sessions: ExecutorSessions) => {
    const server = await serveExecutorSocket(path, sessions, silentLogger());
    servers.push(server);
    return server;
  };
  const dial = () => {
    const client = dialAgentSocket(path, { logger: silentLogger(), reconnect: { initialMs: 20, maxMs: 100 } });
    clients.push(client);
    return client;
  };

  it("carries many executors on one connection, each hearing only its own events", async () => {
    const agent = recordingSessions();
    await serve(agent.sessions);
    const host = dial();
    const a = executor(host, "a");
    const b = executor(host, "b");
    await until(() => a.events.length === 1 && b.events.length === 1);
    expect(a.stream.send(call("a", "1"))).toBe(true);
    expect(b.stream.send(call("b", "2"))).toBe(true);
    await until(() => a.events.length === 2 && b.events.length === 2);
    expect(a.events.map((e) => e.callId)).toEqual(["a:hello-1", "a:1"]);
    expect(b.events.map((e) => e.callId)).toEqual(["b:hello-1", "b:2"]);
    expect(agent.opened.map((s) => s.requests[0]?.id)).toEqual(["hello-1", "hello-1"]);
    // Closing one executor closes its session at the agent, not the other's.
    await a.stream.close();
    await until(() => agent.opened[0]?.closed === true);
    expect(agent.opened[1]?.closed).toBe(false);
    expect(a.stream.send(call("a", "3"))).toBe(false);
  });

  it("re-dials an agent that went away and opens every session again with a fresh hello", async () => {
    const first = recordingSessions();
    const server = await serve(first.sessions);
    const host = dial();
    const a = executor(host, "a");
    await until(() => a.events.length === 1);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await until(() => a.disconnects === 1);
    expect(first.opened[0]?.closed).toBe(true);
    expect(a.stream.connected).toBe(false);
    expect(a.stream.send(call("a", "lost"))).toBe(false);
    // The agent comes back at the same path: the session opens again by itself.
    const second = recordingSessions();
    await serve(second.sessions);
    await until(() => a.events.length === 2, 5_000);
    expect(a.hellos).toBe(2);
    expect(second.opened[0]?.requests.map((r) => r.id)).toEqual(["hello-2"]);
    expect(a.stream.send(call("a", "after"))).toBe(true);
    await until(() => a.events.at(-1)?.callId === "a:after");
  });

  it("opens a session the agent ended again after a backoff, as a stream reconnects", async () => {
    const agent = recordingSessions();
    await serve(agent.sessions);
    const host = dial();
    const a = executor(host, "a");
    await until(() => agent.opened.length === 1);
    agent.opened[0]?.sink.end();
    await until(() => a.disconnects === 1);
    await until(() => agent.opened.length === 2);
    expect(agent.opened[1]?.requests[0]?.id).toBe("hello-2");
  });
});

describe("executor socket frames", () => {
  it("come out whole however the bytes are cut", () => {
    const bytes = Buffer.concat([
      encodeFrame(FrameKind.OPEN, 1),
      encodeFrame(FrameKind.CALL, 1, new Uint8Array([1, 2, 3])),
      encodeFrame(FrameKind.EVENT, 70_000, new Uint8Array(300).fill(7)),
    ]);
    for (const cut of [1, 2, 5, 9, 17, 100]) {
      const frames: { kind: number; session: number; payload: number[] }[] = [];
      const reader = createFrameReader((f) =>
        frames.push({ kind: f.kind, session: f.session, payload: [...f.payload] }),
      );
      for (let at = 0; at < bytes.length; at += cut) reader.push(bytes.subarray(at, at + cut));
      expect(frames.map((f) => [f.kind, f.session, f.payload.length])).toEqual([
        [FrameKind.OPEN, 1, 0],
        [FrameKind.CALL, 1, 3],
        [FrameKind.EVENT, 70_000, 300],
      ]);
      expect(frames[2]?.payload.every((b) => b === 7)).toBe(true);
    }
  });

  it("refuse a length no sender writes", () => {
    const reader = createFrameReader(() => undefined);
    expect(() => reader.push(Buffer.from([0, 0, 0, 1, 0]))).toThrow(/bad executor socket frame length/);
  });
});
