/**
 * Reflection as real tools use it: `buf curl` gets no .proto files and must
 * learn everything from the server.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { Response_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { file_mesos_v2_mesos, MesosService, OperateResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { createServer } from "../../src/transport/server.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

/** Runs `buf curl` asynchronously: the server under test lives in this process. */
function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BUF, ["curl", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
    });
  });
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A server whose Operate answers GET_HEALTH healthy=true (Connect is left unimplemented). */
async function fake(): Promise<{ baseUrl: string }> {
  const server = createServer({
    host: "127.0.0.1",
    port: 0,
    routes: (router) =>
      router.service(MesosService, {
        operate: () =>
          create(OperateResponseSchema, { response: { type: Response_Type.GET_HEALTH, getHealth: { healthy: true } } }),
      }),
    reflection: [file_mesos_v2_mesos],
  });
  closers.push(() => server.close());
  const { port } = await server.listen();
  return { baseUrl: `http://127.0.0.1:${port}` };
}

describe("reflection with buf curl", () => {
  it("lists MesosService over gRPC with HTTP/2 prior knowledge", async () => {
    const { baseUrl } = await fake();
    const result = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "--list-services", baseUrl]);
    expect(result.stderr).toBe("");
    expect(result.stdout.split("\n")).toContain("mesos.v2.MesosService");
  });

  it("calls Operate with a JSON body it encodes from reflected descriptors", async () => {
    const { baseUrl } = await fake();
    const result = await bufCurl([
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      '{"call":{"type":"GET_HEALTH"}}',
      `${baseUrl}/mesos.v2.MesosService/Operate`,
    ]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ response: { type: "GET_HEALTH", getHealth: { healthy: true } } });
  });

  it("also works with the Connect protocol over HTTP/1.1", async () => {
    const { baseUrl } = await fake();
    // buf curl's reflection client sends one request per stream and then
    // half-closes, so the bidi reflection RPC gets by without full duplex.
    const result = await bufCurl(["-d", '{"call":{"type":"GET_HEALTH"}}', `${baseUrl}/mesos.v2.MesosService/Operate`]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toMatchObject({ response: { getHealth: { healthy: true } } });
  });
});
