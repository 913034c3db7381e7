/**
 * The hand-carried gRPC stream (src/transport/grpc-stream.ts) on a real
 * transport server, spoken to by a raw node:http2 client and by
 * connect-node's gRPC client: framing across packets, half-close, resets,
 * refusals as trailers, held messages for a client that does not read, and
 * the requests it leaves to connect-node.
 */
import * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  Error_Code,
  MesosService,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { GrpcStream, GrpcStreamHandler, GrpcStreamRoute } from "../../src/transport/grpc-stream.js";
import { createServer, type PlateauServer } from "../../src/transport/server.js";
import { until as waitFor } from "../helpers/wait.js";

const PATH = `/${MesosService.typeName}/${MesosService.method.connect.name}`;

/** What the route saw, and the streams it took. */
interface Seen {
  messages: string[];
  closed: (ConnectError | undefined)[];
  streams: GrpcStream[];
  declined: number;
  viaConnect: number;
}

const echo = (id: string): Uint8Array =>
  toBinary(
    ConnectResponseSchema,
    create(ConnectResponseSchema, { callId: id, event: { case: "error", value: { code: Error_Code.NOT_FOUND } } }),
  );

/** Echoes each request's id back; a request with id "end" ends the stream with that error; "decline" mode leaves streams to Connect. */
function route(seen: Seen, mode: { decline: boolean }): GrpcStreamRoute {
  return (stream): GrpcStreamHandler | undefined => {
    if (mode.decline) {
      seen.declined++;
      return undefined;
    }
    seen.streams.push(stream);
    return {
      message(bytes) {
        const request = fromBinary(ConnectRequestSchema, bytes);
        seen.messages.push(request.id);
        if (request.id === "refuse") {
          const error = new ConnectError("nicht führend: 100% sicher", Code.Unavailable);
          error.metadata.set("mesos-leader", "127.0.0.1:5050");
          stream.end(error);
        } else stream.send(echo(request.id));
      },
      closed(error) {
        seen.closed.push(error);
      },
    };
  };
}

function connectRoutes(seen: Seen) {
  return (router: ConnectRouter) =>
    router.service(MesosService, {
      async *connect(requests) {
        seen.viaConnect++;
        for await (const request of requests) yield create(ConnectResponseSchema, { callId: `connect:${request.id}` });
      },
      operate: () => {
        throw new ConnectError("not here", Code.Unimplemented);
      },
      operateStream: () => {
        throw new ConnectError("not here", Code.Unimplemented);
      },
    });
}

let server: PlateauServer | undefined;
let clients: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  for (const client of clients) client.destroy();
  clients = [];
  await server?.close();
  server = undefined;
});

async function start(mode = { decline: false }): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { messages: [], closed: [], streams: [], declined: 0, viaConnect: 0 };
  server = createServer({
    host: "127.0.0.1",
    port: 0,
    routes: connectRoutes(seen),
    streams: new Map([[PATH, route(seen, mode)]]),
    closeGraceMs: 100,
  });
  const { port } = await server.listen();
  return { port, seen };
}

const frame = (id: string): Buffer => {
  const body = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id }));
  const header = Buffer.alloc(5);
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
};

/** A raw gRPC call: its answers, headers and trailers once it ends. */
function call(port: number, headers: http2.OutgoingHttpHeaders = {}) {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  clients.push(client);
  const req = client.request({
    ":method": "POST",
    ":path": PATH,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
  const chunks: Buffer[] = [];
  const result = {
    req,
    status: undefined as string | undefined,
    message: undefined as string | undefined,
    leader: undefined as string | undefined,
    /** The response headers came with END_STREAM: what gRPC calls Trailers-Only (one HEADERS frame). */
    trailersOnly: false,
    ended: false,
    events(): ConnectResponse[] {
      const body = Buffer.concat(chunks);
      const out: ConnectResponse[] = [];
      for (let at = 0; at + 5 <= body.length; at += 5 + body.readUInt32BE(at + 1))
        out.push(fromBinary(ConnectResponseSchema, body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1))));
      return out;
    },
  };
  const meta = (h: http2.IncomingHttpHeaders): void => {
    if (h["grpc-status"] !== undefined) result.status = h["grpc-status"] as string;
    if (h["grpc-message"] !== undefined) result.message = decodeURIComponent(h["grpc-message"] as string);
    if (h["mesos-leader"] !== undefined) result.leader = h["mesos-leader"] as string;
  };
  req.on("response", (h, flags) => {
    meta(h);
    result.trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
  });
  req.on("trailers", meta);
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("error", () => undefined);
  const done = new Promise<void>((resolve) =>
    req.on("close", () => {
      result.ended = true;
      resolve();
    }),
  );
  // The answer is whole at its end (trailers in), though the client's own side may still be open.
  const answered = new Promise<void>((resolve) => req.once("end", resolve));
  return { ...result, result, done, answered };
}

describe("a hand-carried gRPC stream", () => {
  it("reads messages split across packets and several in one packet, answers in order, and ends OK after the client half-closes", async () => {
    const { port, seen } = await start();
    const c = call(port);
    const bytes = Buffer.concat([frame("a"), frame("b"), frame("c")]);
    // "a" in three pieces (one inside the 5-byte header), then "b" and "c" together.
    c.req.write(bytes.subarray(0, 2));
    c.req.write(bytes.subarray(2, 6));
    c.req.write(bytes.subarray(6, frame("a").length));
    await waitFor(() => seen.messages.length === 1);
    c.req.write(bytes.subarray(frame("a").length));
    await waitFor(() => seen.messages.length === 3);
    c.req.end();
    await waitFor(() => seen.closed.length === 1);
    expect(seen.closed).toEqual([undefined]);
    // Half-closed by the client, the server may still answer before it ends.
    seen.streams[0]?.send(echo("late"));
    seen.streams[0]?.end();
    await c.done;
    expect(c.events().map((e) => e.callId)).toEqual(["a", "b", "c", "late"]);
    expect(c.result.status).toBe("0");
  });

  it("ends with the error's status, a percent-encoded message and its metadata, as trailers only when nothing was sent", async () => {
    const { port } = await start();
    const c = call(port);
    c.req.end(frame("refuse"));
    await c.done;
    expect(c.events()).toEqual([]);
    expect(c.result.status).toBe(String(Code.Unavailable));
    expect(c.result.message).toBe("nicht führend: 100% sicher");
    expect(c.result.leader).toBe("127.0.0.1:5050");
    // HEADERS with the status but no END_STREAM, then an empty DATA frame,
    // is not Trailers-Only: grpcio reads it as UNKNOWN "Stream removed".
    expect(c.result.trailersOnly).toBe(true);
  });

  it("refuses a compressed message and a request that ends inside a message, telling the route", async () => {
    const { port, seen } = await start();
    const compressed = frame("z");
    compressed[0] = 1;
    const c1 = call(port);
    c1.req.end(compressed);
    await c1.done;
    expect(c1.result.status).toBe(String(Code.Internal));
    expect(c1.result.message).toMatch(/compressed message without grpc-encoding/);

    const c2 = call(port);
    c2.req.end(frame("cut").subarray(0, 7));
    await c2.done;
    expect(c2.result.status).toBe(String(Code.Internal));
    expect(c2.result.message).toMatch(/ended inside a message/);
    expect(seen.closed.map((e) => e?.code)).toEqual([Code.Internal, Code.Internal]);
  });

  it("tells the route once when the client resets the stream, and sending after that goes nowhere", async () => {
    const { port, seen } = await start();
    const c = call(port);
    c.req.write(frame("x"));
    await waitFor(() => seen.messages.length === 1);
    c.req.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => seen.closed.length === 1);
    await c.done;
    seen.streams[0]?.send(echo("after"));
    seen.streams[0]?.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.closed.length).toBe(1);
    expect(seen.streams[0]?.ended).toBe(true);
  });

  it("holds messages while the client does not read, and delivers them all in order once it does", async () => {
    const { port, seen } = await start();
    const c = call(port);
    c.req.write(frame("first"));
    await waitFor(() => seen.streams.length === 1);
    c.req.pause();
    const stream = seen.streams[0] as GrpcStream;
    const big = echo("x".repeat(256 * 1024));
    for (let i = 0; i < 40 && stream.backlog === 0; i++) stream.send(big);
    // The client's flow-control window is full: the rest waits, counted.
    expect(stream.backlog).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) stream.send(echo(`held-${i}`));
    stream.end();
    c.req.resume();
    await c.answered;
    const tail = c
      .events()
      .slice(-3)
      .map((e) => e.callId);
    expect(tail).toEqual(["held-0", "held-1", "held-2"]);
    expect(c.result.status).toBe("0");
  });

  it("ends a stream whose deadline passes with DEADLINE_EXCEEDED, telling the route", async () => {
    const { port, seen } = await start();
    const c = call(port, { "grpc-timeout": "300m" });
    c.req.write(frame("a"));
    await c.answered;
    expect(c.events().map((e) => e.callId)).toEqual(["a"]);
    expect(c.result.status).toBe(String(Code.DeadlineExceeded));
    expect(seen.closed.map((e) => e?.code)).toEqual([Code.DeadlineExceeded]);
    // A deadline past a timer's range (99,999,999 hours) does not fire at once.
    const far = call(port, { "grpc-timeout": "99999999H" });
    far.req.write(frame("far"));
    await waitFor(() => seen.messages.includes("far"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(far.result.status).toBeUndefined();
    seen.streams.at(-1)?.end();
    await far.answered;
    expect(far.result.status).toBe("0");
  });

  it("leaves compressed, oddly deadlined and declined streams to connect-node", async () => {
    const mode = { decline: false };
    const { port, seen } = await start(mode);
    for (const headers of [{ "grpc-encoding": "gzip" }, { "grpc-timeout": "forever" }]) {
      const c = call(port, headers);
      c.req.end(frame("q"));
      await c.done;
    }
    expect(seen.viaConnect).toBe(2);
    expect(seen.streams).toEqual([]);
    mode.decline = true;
    const transport = createGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      sessionManager: new Http2SessionManager(`http://127.0.0.1:${port}`),
    });
    const client = createClient(MesosService, transport);
    const answers: string[] = [];
    for await (const answer of client.connect(
      (async function* () {
        yield create(ConnectRequestSchema, { id: "d" });
      })(),
    ))
      answers.push(answer.callId);
    expect(answers).toEqual(["connect:d"]);
    expect(seen.declined).toBe(1);
  });

  it("serves connect-node's own gRPC client", async () => {
    const { port, seen } = await start();
    const client = createClient(
      MesosService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${port}`,
        sessionManager: new Http2SessionManager(`http://127.0.0.1:${port}`),
      }),
    );
    const answers: string[] = [];
    const requests = (async function* () {
      yield create(ConnectRequestSchema, { id: "1" });
      yield create(ConnectRequestSchema, { id: "2" });
      await waitFor(() => seen.messages.length === 2);
      seen.streams[0]?.end();
    })();
    for await (const answer of client.connect(requests)) answers.push(answer.callId);
    expect(answers).toEqual(["1", "2"]);
  });
});
