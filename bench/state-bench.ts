/**
 * The master's state at scale, in the shape of Mesos' MasterStateQuery
 * benchmark: one `plateau master` (embedded registry in a temp work dir)
 * holding N agents with R running and C completed tasks each (state-fleet.ts),
 * read as v1 `/master/state` JSON (HTTP/1.1, time to the last byte) and as
 * v2 GET_STATE (unary Operate, pieces on a Connect stream, OperateStream);
 * the master's peak RSS during each read (its high-water mark is reset
 * before each, through /proc/PID/clear_refs). Then, on a small cluster,
 * `/master/state` read by one reader and by P readers at once.
 *
 * Several builds can be compared in one run (`bin` of another checkout's
 * bin/plateau.js): the "before" side of a change.
 *
 *   node --import tsx bench/state-bench.ts [agents] [running] [completed] [frameworks] [label=bin ...]
 *
 * Without label=bin pairs it measures this tree's build (bin/plateau.js).
 *
 * Prints JSON; writes nothing else.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Call_Type, CallSchema, type Response, ResponseSchema } from "../gen/mesos/v1/master/master_pb.js";
import { ConnectRequestSchema, MesosService } from "../gen/mesos/v2/mesos_pb.js";
import { type Daemon, PLATEAU_BIN, ProcessScope } from "../test/helpers/processes.js";
import { startStateFleet } from "./state-fleet.js";

export interface StateBenchOptions {
  agents: number;
  runningPerAgent: number;
  finishedPerAgent: number;
  frameworks: number;
  /** The builds to measure, in order; default this tree's. */
  builds?: { label: string; bin: string }[];
  /** The parallel readers' cluster: agents × tasks each (running), and how many readers. */
  parallel?: { agents: number; tasksPerAgent: number; readers: number };
  /** Arguments for the master's node (e.g. `--cpu-prof`, `--cpu-prof-dir=DIR`), for profiling a read. */
  masterNodeArgs?: string[];
}

/** One read of the state. */
export interface StateRead {
  ms?: number;
  bytes?: number;
  /** Messages it came in (v2). */
  pieces?: number;
  /** The largest message's size (v2). */
  maxPieceBytes?: number;
  /** The master's peak RSS during the read, and its RSS just before, MiB. */
  peakRssMiB?: number;
  rssBeforeMiB?: number;
  error?: string;
}

export interface StateBuildResult {
  label: string;
  /** Fleet start → every agent registered and its tasks finished (as the metrics count). */
  setupMs: number;
  tasks: { running: number; completed: number };
  /** The first read, then a second one (Plateau keeps unchanged tasks' JSON and encoding between reads). */
  json: StateRead;
  jsonAgain: StateRead;
  /** v1 GET_STATE (POST /api/v1), JSON. */
  v1: StateRead;
  operate: StateRead;
  connect: StateRead;
  operateStream: StateRead;
  parallel?: { oneMs: number; allMs: number; readers: number; bytes: number; ratio: number };
}

export interface StateBenchResult {
  agents: number;
  runningTasks: number;
  completedTasks: number;
  builds: StateBuildResult[];
}

const mib = (kb: number): number => Math.round(kb / 1024);

function statusKb(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

/** Runs `read` with the master's peak RSS reset before and read after. */
async function measured(pid: number, read: () => Promise<StateRead>): Promise<StateRead> {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  const before = statusKb(pid, "VmRSS");
  try {
    const result = await read();
    return { ...result, peakRssMiB: mib(statusKb(pid, "VmHWM")), rssBeforeMiB: mib(before) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** GET `path` (or POST `body` as JSON), time to the last byte. */
function httpGet(port: number, path: string, body?: string): Promise<{ ms: number; bytes: number }> {
  const start = performance.now();
  const post = { method: "POST", headers: { "content-type": "application/json", accept: "application/json" } };
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, ...(body ? post : {}) }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
        else resolve({ ms: Math.round(performance.now() - start), bytes });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** v1 GET_STATE on /api/v1, as JSON. */
const readV1 = (port: number) => httpGet(port, "/api/v1", JSON.stringify({ type: "GET_STATE" }));

async function metric(port: number, name: string): Promise<number> {
  const body = await new Promise<string>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/metrics/snapshot", agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
  return Number((JSON.parse(body) as Record<string, number>)[name] ?? 0);
}

const GET_STATE = create(CallSchema, { type: Call_Type.GET_STATE });

function v2Client(port: number) {
  const sessions = new Http2SessionManager(`http://127.0.0.1:${port}`);
  const client = createClient(
    MesosService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, sessionManager: sessions }),
  );
  return { client, close: () => sessions.abort() };
}

const sizeOf = (response: Response | undefined): number =>
  response === undefined ? 0 : toBinary(ResponseSchema, response).byteLength;

async function readOperate(port: number): Promise<StateRead> {
  const { client, close } = v2Client(port);
  try {
    const start = performance.now();
    const answer = await client.operate({ call: GET_STATE }, { timeoutMs: 600_000 });
    const ms = Math.round(performance.now() - start);
    return { ms, pieces: 1, bytes: sizeOf(answer.response) };
  } finally {
    close();
  }
}

async function readOperateStream(port: number): Promise<StateRead> {
  const { client, close } = v2Client(port);
  try {
    const start = performance.now();
    const sizes: number[] = [];
    const responses: Response[] = [];
    // To the stream's end (right after the last piece): leaving early keeps the call's deadline timer alive.
    for await (const answer of client.operateStream({ call: GET_STATE }, { timeoutMs: 600_000 }))
      if (answer.response) responses.push(answer.response);
    const ms = Math.round(performance.now() - start);
    for (const r of responses) sizes.push(sizeOf(r));
    return { ms, pieces: responses.length, bytes: sizes.reduce((a, b) => a + b, 0), maxPieceBytes: Math.max(...sizes) };
  } finally {
    close();
  }
}

async function readConnect(port: number): Promise<StateRead> {
  const { client, close } = v2Client(port);
  const abort = new AbortController();
  try {
    const start = performance.now();
    const requests = (async function* () {
      yield create(ConnectRequestSchema, { id: "state-1", call: { case: "operator", value: GET_STATE } });
      // Keep our side open until the answer is in.
      await new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve()));
    })();
    const responses: Response[] = [];
    for await (const event of client.connect(requests, { signal: abort.signal, timeoutMs: 600_000 })) {
      if (event.callId !== "state-1") continue;
      if (event.event.case === "error") throw new Error(event.event.value.message);
      if (event.event.case === "operatorResponse") responses.push(event.event.value);
      if (event.piece === undefined || event.piece.last) break;
    }
    const ms = Math.round(performance.now() - start);
    const sizes = responses.map(sizeOf);
    return { ms, pieces: responses.length, bytes: sizes.reduce((a, b) => a + b, 0), maxPieceBytes: Math.max(...sizes) };
  } finally {
    abort.abort();
    close();
  }
}

async function startMaster(
  scope: ProcessScope,
  bin: string,
  completedPerFramework: number,
  nodeArgs: string[] = [],
): Promise<Daemon> {
  return scope.start(
    [
      "master",
      "--port",
      "0",
      "--work-dir",
      scope.tempDir("plateau-state-bench-"),
      "--max-completed-tasks-per-framework",
      String(completedPerFramework),
    ],
    "master listening",
    {},
    nodeArgs,
    bin,
  );
}

/** Sets up a cluster on `master` and waits until the metrics count every task. */
async function fill(
  master: Daemon,
  shape: { agents: number; running: number; finished: number; frameworks: number },
): Promise<{ setupMs: number; close: () => Promise<void> }> {
  const start = performance.now();
  const fleet = startStateFleet({
    master: `127.0.0.1:${master.port}`,
    agents: shape.agents,
    runningPerAgent: shape.running,
    finishedPerAgent: shape.finished,
    frameworks: shape.frameworks,
  });
  await fleet.ready;
  process.stderr.write(
    `state-bench: ${shape.agents} agents registered after ${Math.round(performance.now() - start)} ms\n`,
  );
  const want = shape.agents * shape.finished;
  for (;;) {
    const finished = await metric(master.port, "master/tasks_finished");
    if (finished >= want) break;
    if (performance.now() - start > 1_200_000) throw new Error(`only ${finished} of ${want} tasks finished`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { setupMs: Math.round(performance.now() - start), close: () => fleet.close() };
}

async function parallelReaders(
  scope: ProcessScope,
  bin: string,
  shape: NonNullable<StateBenchOptions["parallel"]>,
): Promise<StateBuildResult["parallel"]> {
  const master = await startMaster(scope, bin, 1000);
  const cluster = await fill(master, {
    agents: shape.agents,
    running: shape.tasksPerAgent,
    finished: 0,
    frameworks: 10,
  });
  try {
    await httpGet(master.port, "/master/state"); // warm up
    const one = await httpGet(master.port, "/master/state");
    const start = performance.now();
    await Promise.all(Array.from({ length: shape.readers }, () => httpGet(master.port, "/master/state")));
    const allMs = Math.round(performance.now() - start);
    return { oneMs: one.ms, allMs, readers: shape.readers, bytes: one.bytes, ratio: +(allMs / one.ms).toFixed(2) };
  } finally {
    await cluster.close();
    await master.stop();
  }
}

async function benchBuild(
  label: string,
  bin: string,
  options: StateBenchOptions,
  scope: ProcessScope,
): Promise<StateBuildResult> {
  const completedPerFramework = Math.ceil((options.agents * options.finishedPerAgent) / options.frameworks);
  const master = await startMaster(scope, bin, Math.max(1000, completedPerFramework), options.masterNodeArgs);
  const cluster = await fill(master, {
    agents: options.agents,
    running: options.runningPerAgent,
    finished: options.finishedPerAgent,
    frameworks: options.frameworks,
  });
  const pid = master.process.pid as number;
  try {
    const running = await metric(master.port, "master/tasks_running");
    const completed = await metric(master.port, "master/tasks_finished");
    const json = await measured(pid, () => httpGet(master.port, "/master/state"));
    const jsonAgain = await measured(pid, () => httpGet(master.port, "/master/state"));
    const v1 = await measured(pid, () => readV1(master.port));
    const operate = await measured(pid, () => readOperate(master.port));
    const connect = await measured(pid, () => readConnect(master.port));
    const operateStream = await measured(pid, () => readOperateStream(master.port));
    return {
      label,
      setupMs: cluster.setupMs,
      tasks: { running, completed },
      json,
      jsonAgain,
      v1,
      operate,
      connect,
      operateStream,
    };
  } finally {
    await cluster.close();
    await master.stop();
  }
}

/** Measures each build in turn (each on its own master and fleet); everything started is stopped. */
export async function runStateBench(options: StateBenchOptions): Promise<StateBenchResult> {
  const builds = options.builds ?? [{ label: "this tree", bin: PLATEAU_BIN }];
  const scope = new ProcessScope();
  const results: StateBuildResult[] = [];
  try {
    for (const build of builds) {
      const result = await benchBuild(build.label, build.bin, options, scope);
      if (options.parallel) result.parallel = await parallelReaders(scope, build.bin, options.parallel);
      results.push(result);
      process.stderr.write(`state-bench: ${JSON.stringify(result)}\n`);
    }
  } finally {
    await scope.cleanup();
  }
  return {
    agents: options.agents,
    runningTasks: options.agents * options.runningPerAgent,
    completedTasks: options.agents * options.finishedPerAgent,
    builds: results,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [agents = 20_000, running = 10, completed = 10, frameworks = 200] = process.argv.slice(2, 6).map(Number);
  const named = process.argv.slice(6).map((pair) => {
    const [label = "", bin = ""] = pair.split("=");
    return { label, bin };
  });
  // STATE_PARALLEL=0 skips the parallel readers; STATE_PROF_DIR=dir profiles each master (node --cpu-prof).
  const profDir = process.env.STATE_PROF_DIR;
  const result = await runStateBench({
    agents,
    runningPerAgent: running,
    finishedPerAgent: completed,
    frameworks,
    builds: named.length > 0 ? named : [{ label: "this tree", bin: PLATEAU_BIN }],
    parallel: process.env.STATE_PARALLEL === "0" ? undefined : { agents: 100, tasksPerAgent: 100, readers: 20 },
    masterNodeArgs: profDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profDir}`],
  });
  console.log(JSON.stringify(result, null, 2));
}
