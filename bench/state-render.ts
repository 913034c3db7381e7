/**
 * The master's state rendering alone, in one process: a master core filled
 * directly (the same agent registrations and TASK_FINISHED updates the
 * state fleet sends, with no streams), then read through the master's own
 * HTTP gateway on a local socket (`/master/state`, v1 `GET_STATE` as JSON)
 * and through the v2 answer's pieces (encoded as Connect would send them).
 * Fills 20,000 agents and 400,000 tasks in seconds where the fleet takes
 * minutes, so a rendering change can be profiled (`node --cpu-prof`) and
 * compared at Mesos' size; bench/state-bench.ts measures the real master.
 *
 *   node --import tsx bench/state-render.ts [agents] [running] [completed] [frameworks] [reads]
 *
 * Prints JSON.
 */
import { writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Call_Type, CallSchema, type Response } from "../gen/mesos/v1/master/master_pb.js";
import { type MasterInfo, MasterInfoSchema } from "../gen/mesos/v1/mesos_pb.js";
import { OperateStreamResponseSchema } from "../gen/mesos/v2/mesos_pb.js";
import { createAllocator } from "../src/core/allocator/index.js";
import { createCounterIds } from "../src/core/clock.js";
import { createMasterCore, type MasterCore } from "../src/core/master/master-core.js";
import { createMasterGateway } from "../src/gateway/master-gateway.js";
import type { GatewaySessions } from "../src/gateway/sessions.js";
import { silentLogger } from "../src/log.js";
import { operateStreamAnswers } from "../src/master/answer-pieces.js";
import { finished, frameworkInfos, planOf, registerRequest, type StateFleetOptions } from "./state-fleet.js";

export interface StateRenderOptions {
  agents: number;
  runningPerAgent: number;
  finishedPerAgent: number;
  frameworks: number;
  /** Rounds of reads (the first renders every task anew; later ones find them unchanged). */
  reads?: number;
}

export interface RenderRead {
  ms: number;
  /** This process's CPU time meanwhile (server and client both), steadier than `ms` on a shared machine. */
  cpuMs?: number;
  bytes: number;
  pieces?: number;
}

export interface StateRenderRound {
  state: RenderRead;
  v1Json: RenderRead;
  v1Protobuf: RenderRead;
  v2: RenderRead;
}

export interface StateRenderResult {
  agents: number;
  runningTasks: number;
  completedTasks: number;
  fillMs: number;
  /** The process's RSS once filled, and its peak while reading, MiB. */
  rssFilledMiB: number;
  peakRssMiB: number;
  rounds: StateRenderRound[];
}

const NOW = 1_700_000_000_000;

/** A core holding the state fleet's cluster, filled through the core's own request handlers. */
export function filledCore(shape: Omit<StateRenderOptions, "reads">): MasterCore {
  const info: MasterInfo = create(MasterInfoSchema, {
    id: "render-master",
    ip: 0,
    port: 5050,
    hostname: "localhost",
    pid: "master@127.0.0.1:5050",
  });
  const core = createMasterCore({
    allocator: createAllocator({}),
    ids: createCounterIds("render"),
    now: NOW,
    options: {
      info,
      heartbeatIntervalSeconds: 15,
      agentReregisterTimeoutSeconds: 600,
      flags: {},
      version: "bench",
      maxCompletedTasksPerFramework: Math.max(
        1000,
        Math.ceil((shape.agents * shape.finishedPerAgent) / shape.frameworks),
      ),
    },
  });
  const options: StateFleetOptions = { master: "", ...shape };
  const frameworks = frameworkInfos(shape.frameworks);
  for (let a = 0; a < shape.agents; a++) {
    const plan = planOf(a, options, frameworks);
    const agentId = `state-agent-${a}`;
    const session = `agent-session-${a}`;
    core.request(session, registerRequest(a, agentId, plan), NOW + a);
    for (const task of plan.finishing) core.request(session, finished(task, agentId), NOW + a);
  }
  return core;
}

function get(port: number, path: string, body?: { json: boolean }): Promise<RenderRead> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> =
      body === undefined
        ? {}
        : {
            "content-type": "application/json",
            accept: body.json ? "application/json" : "application/x-protobuf",
          };
    const req = request(
      { host: "127.0.0.1", port, path, method: body ? "POST" : "GET", headers, agent: false },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
          else resolve({ ms: Math.round(performance.now() - start), bytes });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify({ type: "GET_STATE" }));
  });
}

/** The v2 answer as OperateStream sends it: GET_STATE, its pieces, each envelope encoded. */
function readV2(core: MasterCore): RenderRead {
  const start = performance.now();
  const { result } = core.operate(create(CallSchema, { type: Call_Type.GET_STATE }), NOW);
  const answers = operateStreamAnswers(result as Response, false);
  let bytes = 0;
  for (const answer of answers) bytes += toBinary(OperateStreamResponseSchema, answer).byteLength;
  return { ms: Math.round(performance.now() - start), bytes, pieces: answers.length };
}

async function withCpu(read: () => Promise<RenderRead>): Promise<RenderRead> {
  const before = process.cpuUsage();
  const result = await read();
  const used = process.cpuUsage(before);
  return { ...result, cpuMs: Math.round((used.user + used.system) / 1000) };
}

const mib = (bytes: number): number => Math.round(bytes / 1048576);

/** Fills a core and reads its state `reads` times each way; the server is closed after. */
export async function runStateRender(options: StateRenderOptions): Promise<StateRenderResult> {
  const fillStart = performance.now();
  const core = filledCore(options);
  const fillMs = Math.round(performance.now() - fillStart);
  const rssFilled = process.memoryUsage().rss;
  let peak = rssFilled;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const gateway = createMasterGateway({
    core,
    // GET_STATE and /master/state never open a session.
    sessions: undefined as unknown as GatewaySessions,
    operate: async (call) => core.operate(call, NOW).result,
    now: () => NOW,
    logger: silentLogger(),
  });
  const server = createServer((req, res) => {
    void Promise.resolve(gateway.hook(req, res)).then((handled) => {
      if (handled === false) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const rounds: StateRenderRound[] = [];
  // STATE_RENDER_PROF=file.cpuprofile: a CPU profile of the reads alone (the fill is most of a run).
  const profile = process.env.STATE_RENDER_PROF;
  const inspector = new Session();
  if (profile !== undefined) {
    inspector.connect();
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.start");
  }
  try {
    for (let i = 0; i < (options.reads ?? 2); i++) {
      const state = await withCpu(() => get(port, "/master/state"));
      const v1Json = await withCpu(() => get(port, "/api/v1", { json: true }));
      const v1Protobuf = await withCpu(() => get(port, "/api/v1", { json: false }));
      const v2 = await withCpu(async () => readV2(core));
      rounds.push({ state, v1Json, v1Protobuf, v2 });
      process.stderr.write(`state-render: ${JSON.stringify(rounds.at(-1))}\n`);
    }
  } finally {
    if (profile !== undefined) {
      const { profile: taken } = await inspector.post("Profiler.stop");
      writeFileSync(profile, JSON.stringify(taken));
      inspector.disconnect();
    }
    clearInterval(sample);
    server.close();
  }
  return {
    agents: options.agents,
    runningTasks: options.agents * options.runningPerAgent,
    completedTasks: options.agents * options.finishedPerAgent,
    fillMs,
    rssFilledMiB: mib(rssFilled),
    peakRssMiB: mib(Math.max(peak, process.memoryUsage().rss)),
    rounds,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [agents = 20_000, running = 10, completed = 10, frameworks = 200, reads = 2] = process.argv
    .slice(2, 7)
    .map(Number);
  const result = await runStateRender({
    agents,
    runningPerAgent: running,
    finishedPerAgent: completed,
    frameworks,
    reads,
  });
  console.log(JSON.stringify(result, null, 2));
}
