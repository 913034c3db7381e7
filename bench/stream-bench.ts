/**
 * Section 1: the unified stream against a bare connect-node echo.
 *
 * Both targets get the same requests (operator GET_HEALTH envelopes) from the
 * same lean client (stream-client.ts) over one Connect stream:
 *   - sequential: one call in flight → p50/p99 round-trip latency, calls/s;
 *   - pipelined: a window of calls in flight → calls/s.
 * The bare server answers ConnectResponse{call_id} without looking inside;
 * the master routes the call through its session table and core, so the
 * ratio unified/bare is what Plateau's own layers cost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Call_Type, CallSchema } from "../gen/mesos/v1/master/master_pb.js";
import { type ConnectRequest, ConnectRequestSchema } from "../gen/mesos/v2/mesos_pb.js";
import { ProcessScope, ROOT, stopProcess } from "../test/helpers/processes.js";
import { cpuTimeUs } from "./proc.js";
import { type BenchStream, openBenchStream } from "./stream-client.js";

/** Bounds of each phase: whichever limit is hit first ends it. */
export const STREAM_LIMITS = {
  warmupCalls: 1_000,
  sequentialCalls: 5_000,
  sequentialMaxMs: 5_000,
  pipelinedCalls: 20_000,
  pipelinedMaxMs: 5_000,
  window: 256,
} as const;

/** What one target measured. */
export interface StreamFigures {
  p50Ms: number;
  p99Ms: number;
  sequentialPerSec: number;
  sequentialCalls: number;
  pipelinedPerSec: number;
  pipelinedCalls: number;
  /** CPU time per pipelined call, µs: the server process's, and this (client) process's. */
  serverCpuPerCallUs: number | undefined;
  clientCpuPerCallUs: number;
}

/** Both targets and their ratios; a failed target is an error string. */
export interface StreamResults {
  bare: StreamFigures | string;
  unified: StreamFigures | string;
}

let nextId = 0;
function healthRequest(): ConnectRequest {
  nextId++;
  return create(ConnectRequestSchema, {
    id: String(nextId),
    call: { case: "operator", value: create(CallSchema, { type: Call_Type.GET_HEALTH }) },
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function sequential(
  stream: BenchStream,
): Promise<Pick<StreamFigures, "p50Ms" | "p99Ms" | "sequentialPerSec" | "sequentialCalls">> {
  for (let i = 0; i < STREAM_LIMITS.warmupCalls; i++) await stream.call(healthRequest());
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  const deadline = Date.now() + STREAM_LIMITS.sequentialMaxMs;
  while (samples.length < STREAM_LIMITS.sequentialCalls && Date.now() < deadline) {
    const t0 = process.hrtime.bigint();
    await stream.call(healthRequest());
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort((a, b) => a - b);
  return {
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    sequentialPerSec: samples.length / elapsedS,
    sequentialCalls: samples.length,
  };
}

type PipelinedFigures = Pick<
  StreamFigures,
  "pipelinedPerSec" | "pipelinedCalls" | "serverCpuPerCallUs" | "clientCpuPerCallUs"
>;

/**
 * With two cores, client and server each have about one; the CPU each spends
 * per call shows which side limits the pipelined rate.
 */
async function pipelined(stream: BenchStream, serverPid: number | undefined): Promise<PipelinedFigures> {
  const serverCpu0 = serverPid === undefined ? undefined : cpuTimeUs(serverPid);
  const clientCpu0 = process.cpuUsage();
  let started = 0;
  let done = 0;
  const deadline = Date.now() + STREAM_LIMITS.pipelinedMaxMs;
  const start = process.hrtime.bigint();
  // `window` workers, each with one call in flight: a sliding window.
  const worker = async (): Promise<void> => {
    while (started < STREAM_LIMITS.pipelinedCalls && Date.now() < deadline) {
      started++;
      await stream.call(healthRequest());
      done++;
    }
  };
  await Promise.all(Array.from({ length: STREAM_LIMITS.window }, worker));
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const clientCpu = process.cpuUsage(clientCpu0);
  const serverCpu1 = serverPid === undefined ? undefined : cpuTimeUs(serverPid);
  return {
    pipelinedPerSec: done / elapsedS,
    pipelinedCalls: done,
    serverCpuPerCallUs:
      serverCpu0 === undefined || serverCpu1 === undefined ? undefined : (serverCpu1 - serverCpu0) / done,
    clientCpuPerCallUs: (clientCpu.user + clientCpu.system) / done,
  };
}

async function measure(baseUrl: string, serverPid: number | undefined): Promise<StreamFigures> {
  const stream = await openBenchStream(baseUrl, healthRequest());
  try {
    const seq = await sequential(stream);
    const pipe = await pipelined(stream, serverPid);
    return { ...seq, ...pipe };
  } finally {
    await stream.close();
  }
}

/** Starts bench/echo-server.ts in a child process; resolves with it and its port. */
async function startEchoServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "echo-server.ts")], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`echo server did not start: ${output}`)), 20_000);
      child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
      child.stdout?.on("data", (d: Buffer) => {
        output += d.toString();
        const match = /\{"port":(\d+)\}/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`echo server exited with ${code}: ${output}`));
      });
    });
    return { child, port };
  } catch (err) {
    await stopProcess(child, 2_000);
    throw err;
  }
}

async function measureBare(): Promise<StreamFigures> {
  const { child, port } = await startEchoServer();
  try {
    return await measure(`http://127.0.0.1:${port}`, child.pid);
  } finally {
    await stopProcess(child, 2_000);
  }
}

async function measureUnified(): Promise<StreamFigures> {
  const scope = new ProcessScope();
  try {
    // info, not debug: the port comes from the "master listening" line, and a
    // log line per call would measure pino rather than the stream.
    const master = await scope.start(["master", "--port", "0", "--log-level", "info"], "master listening");
    return await measure(`http://127.0.0.1:${master.port}`, master.process.pid);
  } finally {
    await scope.cleanup();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs both targets one after the other; a failure of one is reported, not thrown. */
export async function runStreamBench(): Promise<StreamResults> {
  const bare = await measureBare().catch((err: unknown) => `bare echo failed: ${message(err)}`);
  const unified = await measureUnified().catch((err: unknown) => `unified stream failed: ${message(err)}`);
  return { bare, unified };
}
