import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type ConnectRequest, ConnectRequestSchema, ConnectResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { ErrorCode } from "../../src/core/master/events.js";
import { silentLogger } from "../../src/log.js";
import { createSessionTable, type SessionTable } from "../../src/master/sessions.js";
import { createAsyncQueue } from "../../src/util/async-queue.js";

describe("master streams", () => {
  it("drops a stream whose client stops reading, instead of queueing without bound", async () => {
    const closed: string[] = [];
    const table = createSessionTable(
      { dispatch: () => undefined, call: () => Promise.resolve([]), closed: (session) => void closed.push(session) },
      silentLogger(),
      { maxQueuedEvents: 3 },
    );
    const requests = createAsyncQueue<ConnectRequest>();
    const context = { signal: new AbortController().signal, requestHeader: new Headers() } as unknown as HandlerContext;
    const events = table.serve(requests, context)[Symbol.asyncIterator]();
    const first = events.next();
    const send = (callId: string) =>
      table.apply([{ kind: "send", session: "stream-1", response: create(ConnectResponseSchema, { callId }) }]);
    send("0");
    expect((await first).value?.callId).toBe("0");
    // The client reads nothing more.
    for (let i = 1; i <= 5; i++) send(String(i));
    expect(closed).toEqual(["stream-1"]);
    const drained: string[] = [];
    let failure: unknown;
    try {
      for (;;) {
        const next = await events.next();
        if (next.done === true) break;
        drained.push(next.value.callId);
      }
    } catch (err) {
      failure = err;
    }
    expect(drained).toEqual(["1", "2", "3"]);
    expect(failure instanceof ConnectError && failure.code).toBe(Code.ResourceExhausted);
    requests.end();
  });

  it("serves a session through a sink: calls reach the runner with their outcome, events the sink, and closing it is a disconnect", async () => {
    const seen: string[] = [];
    const closed: string[] = [];
    const table: SessionTable = createSessionTable(
      {
        dispatch: () => undefined,
        call: (session, request) => {
          seen.push(`${session}:${request.id}`);
          table.apply([{ kind: "send", session, response: create(ConnectResponseSchema, { callId: request.id }) }]);
          return Promise.resolve([{ code: ErrorCode.INVALID_ARGUMENT, message: `refused ${request.id}` }]);
        },
        closed: (session) => void closed.push(session),
      },
      silentLogger(),
    );
    const delivered: string[] = [];
    const ends: (string | undefined)[] = [];
    const session = table.open({ send: (r) => delivered.push(r.callId), end: (e) => ends.push(e?.message) });
    expect(await table.request(session, create(ConnectRequestSchema, { id: "a" }))).toEqual([
      { code: ErrorCode.INVALID_ARGUMENT, message: "refused a" },
    ]);
    expect(seen).toEqual([`${session}:a`]);
    expect(delivered).toEqual(["a"]);
    expect(table.has(session)).toBe(true);
    table.close(session);
    table.close(session);
    expect(closed).toEqual([session]);
    expect(table.has(session)).toBe(false);
    expect(await table.request(session, create(ConnectRequestSchema, { id: "b" }))).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it("stops a stream's request reader once the core ends the stream, though the client never closes its side", async () => {
    const dispatched: string[] = [];
    const table = createSessionTable(
      {
        dispatch: (_s, request) => void dispatched.push(request.id),
        call: () => Promise.resolve([]),
        closed: () => undefined,
      },
      silentLogger(),
    );
    const requests = createAsyncQueue<ConnectRequest>();
    const handler = new AbortController();
    const context = { signal: handler.signal, requestHeader: new Headers() } as unknown as HandlerContext;
    const events = table.serve(requests, context)[Symbol.asyncIterator]();
    const first = events.next();
    requests.push(create(ConnectRequestSchema, { id: "1" }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(dispatched).toEqual(["1"]);
    table.apply([{ kind: "end", session: "stream-1" }]);
    expect((await first).done).toBe(true);
    // The reader is owned: ending every stream awaits it, and it reads nothing more.
    await table.endAll();
    requests.push(create(ConnectRequestSchema, { id: "2" }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(dispatched).toEqual(["1"]);
    requests.end();
  });

  it("ends a sink when the core ends its session, without reporting a disconnect back", () => {
    const closed: string[] = [];
    const table = createSessionTable(
      { dispatch: () => undefined, call: () => Promise.resolve([]), closed: (s) => void closed.push(s) },
      silentLogger(),
    );
    const ends: (string | undefined)[] = [];
    const session = table.open({ send: () => undefined, end: (e) => ends.push(e?.message ?? "none") });
    table.apply([{ kind: "end", session, error: { code: 2, message: "Framework failed over" } }]);
    expect(ends).toEqual(["Framework failed over"]);
    table.close(session);
    expect(closed).toEqual([]);
  });

  it("drops a sink session whose client lags too far, like a stream, and tells the core", () => {
    const closed: string[] = [];
    const table = createSessionTable(
      { dispatch: () => undefined, call: () => Promise.resolve([]), closed: (s) => void closed.push(s) },
      silentLogger(),
      { maxQueuedEvents: 3 },
    );
    let backlog = 0;
    const ends: (number | undefined)[] = [];
    const session = table.open({
      send: () => void backlog++,
      end: (e) => ends.push(e?.code),
      get backlog() {
        return backlog;
      },
    });
    for (let i = 0; i < 5; i++)
      table.apply([{ kind: "send", session, response: create(ConnectResponseSchema, { callId: String(i) }) }]);
    expect(backlog).toBe(3);
    expect(ends).toEqual([ErrorCode.UNAVAILABLE]);
    expect(closed).toEqual([session]);
    expect(table.has(session)).toBe(false);
  });
});
