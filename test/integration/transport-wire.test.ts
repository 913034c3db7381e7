/**
 * The one-port trick at the byte level: what the sniffer does with garbage,
 * half prefaces and requests split across TCP segments. No RPC service is
 * needed; the reflection service (always there) stands in for gRPC.
 */
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { createServer, type PlateauServer } from "../../src/transport/server.js";
import { HTTP2_PREFACE } from "../../src/transport/sniff.js";

let server: PlateauServer | undefined;
let sessionManager: Http2SessionManager | undefined;
afterEach(async () => {
  sessionManager?.abort();
  await server?.close();
  server = sessionManager = undefined;
});

async function start(): Promise<{ port: number; baseUrl: string }> {
  server = createServer({ host: "127.0.0.1", port: 0, routes: () => {}, reflection: [], closeGraceMs: 200 });
  const { port } = await server.listen();
  return { port, baseUrl: `http://127.0.0.1:${port}` };
}

/** One gRPC round trip over HTTP/2: the server still serves after the abuse. */
async function grpcStillWorks(baseUrl: string): Promise<void> {
  sessionManager = new Http2SessionManager(baseUrl);
  const client = createClient(ServerReflection, createGrpcTransport({ baseUrl, sessionManager }));
  async function* once() {
    yield { messageRequest: { case: "listServices" as const, value: "" } };
  }
  for await (const answer of client.serverReflectionInfo(once()))
    expect(answer.messageResponse.case).toBe("listServicesResponse");
}

describe("protocol sniffing", () => {
  it("answers garbage with 400 and keeps serving others", async () => {
    const { port, baseUrl } = await start();
    const garbage = await rawExchange(port, [Buffer.from("\x00\x01garbage\r\n\r\n")]);
    expect(garbage.closedByServer).toBe(true);
    expect(garbage.data.toString("latin1")).toMatch(/^HTTP\/1\.1 400/);
    // A half-sent preface followed by junk is HTTP/1 junk as well.
    const fakePreface = await rawExchange(port, [Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")]);
    expect(fakePreface.closedByServer).toBe(true);
    await grpcStillWorks(baseUrl);
  });

  it("recognises a preface and a request split across many packets", async () => {
    const { port } = await start();
    // HTTP/1: byte by byte.
    const request = Buffer.from("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const h1 = await rawExchange(
      port,
      [...request].map((b) => Buffer.from([b])),
      3000,
      1,
    );
    expect(h1.data.toString("latin1")).toMatch(/^HTTP\/1\.1 200/);
    // HTTP/2: the preface in three pieces, then an empty SETTINGS frame; the
    // server must answer with its own SETTINGS frame (type 0x4).
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const parts = [HTTP2_PREFACE.subarray(0, 3), HTTP2_PREFACE.subarray(3, 17), HTTP2_PREFACE.subarray(17), settings];
    const h2 = await rawExchange(port, parts, 500);
    expect(h2.data.length).toBeGreaterThanOrEqual(9);
    expect(h2.data[3]).toBe(4);
  });

  it("drops a socket that ends in the middle of a preface", async () => {
    const { port, baseUrl } = await start();
    const half = await rawExchange(port, [HTTP2_PREFACE.subarray(0, 10)], 500, 1, true);
    expect(half.closedByServer).toBe(true);
    expect(half.data.length).toBe(0);
    await grpcStillWorks(baseUrl);
  });
});

/** Sends raw bytes (possibly in several writes) and collects everything until the server closes or `ms` pass. */
function rawExchange(
  port: number,
  parts: Buffer[],
  ms = 2000,
  gapMs = 20,
  endAfter = false,
): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => (closedByServer = true));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET") closedByServer = true;
      else reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closedByServer });
    });
    socket.once("connect", async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      if (endAfter) socket.end();
    });
  });
}
