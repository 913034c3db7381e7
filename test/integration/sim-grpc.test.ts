/**
 * The simulated fleet's bare gRPC client (bench/grpc-connection.ts) against
 * a peer on a real socket that answers as a master would, or as a broken
 * one would: each way a call can end is reported once, with what the peer
 * said, and a connection that fails costs one socket however many calls
 * wait on it.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type CallEnd, type CallHandler, GrpcConnection } from "../../bench/grpc-connection.js";
import { CONNECT_PATH, FrameReader, frame } from "../../bench/grpc-frames.js";

type Answer = (stream: http2.ServerHttp2Stream, firstMessage: Uint8Array) => void;

/** An HTTP/2 server on port 0 that answers each Connect call's first message with `answer`. */
async function fakePeer(answer: Answer): Promise<{ url: string; close(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    if (headers[":path"] !== CONNECT_PATH || headers["content-type"] !== "application/grpc+proto") {
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const reader = new FrameReader();
    let answered = false;
    stream.on("data", (chunk: Buffer) =>
      reader.push(chunk, (bytes) => {
        if (answered) return;
        answered = true;
        answer(stream, bytes);
      }),
    );
    stream.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs one call and collects what its handler saw. */
function collect(connection: GrpcConnection, hello = frame(Buffer.from("hello"))) {
  const messages: string[] = [];
  let resolveEnd: (end: CallEnd) => void = () => undefined;
  const ended = new Promise<CallEnd>((resolve) => (resolveEnd = resolve));
  let ends = 0;
  const handler: CallHandler<string> = {
    hello: () => hello,
    onMessage: (_owner, bytes) => messages.push(Buffer.from(bytes).toString()),
    onEnd: (_owner, end) => {
      ends++;
      resolveEnd(end);
    },
  };
  const call = connection.call("agent", handler);
  return { call, messages, ended, ends: () => ends };
}

const respondOk = (stream: http2.ServerHttp2Stream): void =>
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });

describe("the simulated fleet's bare gRPC client", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const peer = async (answer: Answer) => {
    const p = await fakePeer(answer);
    const connection = new GrpcConnection(p.url);
    cleanups.push(p.close, () => connection.drop({ kind: "cancelled", reason: "test over" }));
    return connection;
  };

  it("reads messages split across DATA frames and ends with the peer's status", async () => {
    const connection = await peer((stream, first) => {
      respondOk(stream);
      const both = Buffer.concat([frame(Buffer.from(`echo ${Buffer.from(first)}`)), frame(Buffer.from("second"))]);
      // The first message's prefix alone, then the rest in two pieces.
      stream.write(both.subarray(0, 3));
      stream.write(both.subarray(3, 12));
      stream.write(both.subarray(12));
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end();
    });
    const { messages, ended, ends } = collect(connection);
    expect(await ended).toEqual({ kind: "status", status: { code: 0, message: "", leader: undefined } });
    expect(messages).toEqual(["echo hello", "second"]);
    expect(ends()).toBe(1);
  });

  it("reports a standby's refusal (trailers only) with the leader it names", async () => {
    const connection = await peer((stream) => {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc+proto",
          "grpc-status": "14",
          "grpc-message": encodeURIComponent("Not the leading master; the leader is 10.0.0.1:5050"),
          "plateau-leader": "10.0.0.1:5050",
        },
        { endStream: true },
      );
    });
    const { ended } = collect(connection);
    expect(await ended).toEqual({
      kind: "status",
      status: { code: 14, message: "Not the leading master; the leader is 10.0.0.1:5050", leader: "10.0.0.1:5050" },
    });
  });

  it.each([
    ["an unreadable grpc-status", { "grpc-status": "fourteen" }, "unreadable grpc-status 'fourteen'"],
    ["no grpc-status", { "grpc-message": "hi" }, "trailers without a grpc-status"],
  ])("calls a stream broken when its trailers carry %s", async (_what, trailers, reason) => {
    const connection = await peer((stream) => {
      respondOk(stream);
      stream.on("wantTrailers", () => stream.sendTrailers(trailers));
      stream.end();
    });
    const { ended } = collect(connection);
    const end = await ended;
    expect(end.kind).toBe("broken");
    expect(end.kind === "broken" && end.reason).toContain(reason);
  });

  it("calls a stream broken when it ends inside a message, or sends one compressed", async () => {
    const cut = await peer((stream) => {
      respondOk(stream);
      stream.write(frame(Buffer.from("whole message")).subarray(0, 8));
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end();
    });
    const compressed = await peer((stream) => {
      respondOk(stream);
      const bytes = frame(Buffer.from("zipped"));
      bytes[0] = 1;
      stream.write(bytes);
    });
    const a = collect(cut);
    const b = collect(compressed);
    expect(await a.ended).toEqual({ kind: "broken", reason: "the stream ended inside a message (8 bytes)" });
    expect(await b.ended).toEqual({ kind: "broken", reason: "a message with flags 1 (compression was not offered)" });
    expect(b.messages).toEqual([]);
  });

  it("fails every call waiting on a connection that cannot be made, with one reason and one socket", async () => {
    // Accepts TCP and hangs up at once: no HTTP/2 session ever starts.
    let sockets = 0;
    const server = net.createServer((socket) => {
      sockets++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;
    const connection = new GrpcConnection(`http://127.0.0.1:${port}`);
    const calls = Array.from({ length: 50 }, () => collect(connection));
    const ends = await Promise.all(calls.map((c) => c.ended));
    expect(new Set(ends.map((e) => e.kind))).toEqual(new Set(["unreachable"]));
    expect(new Set(ends.map((e) => (e.kind === "unreachable" ? e.reason : "")))).toHaveProperty("size", 1);
    expect(calls.every((c) => c.ends() === 1)).toBe(true);
    expect(sockets).toBe(1);
    expect(connection.usable).toBe(false);
    // A call asked for after the failure gets it too, without a socket of its own.
    expect((await collect(connection).ended).kind).toBe("unreachable");
    expect(sockets).toBe(1);
  });

  it("ends a cancelled call once, and the peer sees its stream reset", async () => {
    let peerSaw: number | undefined;
    const connection = await peer((stream) => {
      respondOk(stream);
      stream.write(frame(Buffer.from("registered")));
      stream.on("close", () => (peerSaw = stream.rstCode));
    });
    const { call, messages, ended, ends } = collect(connection);
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 10));
    call.cancel("crashed");
    expect(await ended).toEqual({ kind: "cancelled", reason: "crashed" });
    expect(call.write(frame(Buffer.from("late")))).toBe(false);
    while (peerSaw === undefined) await new Promise((r) => setTimeout(r, 10));
    expect(peerSaw).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(ends()).toBe(1);
  });
});
