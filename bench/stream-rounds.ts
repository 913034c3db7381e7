/**
 * The unified stream against a bare connect-node echo, measured so that the
 * ratio can be trusted on a shared 2-core machine:
 *   - every server is started once and warmed up (JIT, HTTP/2 windows);
 *   - then several rounds, each measuring every target back to back (a
 *     sequential phase, one call in flight, and a pipelined one, `window` in
 *     flight), the order alternating between rounds, so a burst of load from
 *     elsewhere hits one round rather than one target;
 *   - each round yields its own ratios (unified ÷ bare, measured seconds
 *     apart); the report gives their median and spread;
 *   - besides wall time, the CPU each side spent per call (the server's from
 *     /proc, the client's from process.cpuUsage): other processes stretch
 *     wall time but hardly the CPU a call costs.
 * Targets: the bare echo, this tree's master, and optionally masters of
 * other trees (`--tree NAME=PATH`, built) for a before/after in one run.
 *
 * Alone: `node --import tsx bench/stream-rounds.ts [--rounds 5] [--seq 4000]
 * [--pipe 40000] [--tree old=/tmp/old-stream]` prints JSON.
 */
import { loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { Call_Type, CallSchema } from "../gen/mesos/v1/master/master_pb.js";
import { type ConnectRequest, ConnectRequestSchema } from "../gen/mesos/v2/mesos_pb.js";
import { ROOT } from "../test/helpers/processes.js";
import { cpuTimeUs } from "./proc.js";
import { type BenchStream, openBenchStream } from "./stream-client.js";
import { machineBusy } from "./stream-load.js";
import { type StreamTarget, startEchoServer, startMasterAt } from "./stream-targets.js";

export interface StreamRoundsOptions {
  rounds: number;
  /** Calls per sequential phase (one in flight). */
  sequentialCalls: number;
  /** Calls per pipelined phase (`window` in flight). */
  pipelinedCalls: number;
  window: number;
  /** Calls of each kind per target before the first round. */
  warmupCalls: number;
  /** Masters to measure besides this tree's, by name → tree root. */
  trees: Record<string, string>;
  /** Extra node arguments for every server, the bare echo's too (e.g. `--cpu-prof`). */
  serverNodeArgs: string[];
}

export const DEFAULT_STREAM_ROUNDS: StreamRoundsOptions = {
  rounds: 5,
  sequentialCalls: 4_000,
  pipelinedCalls: 40_000,
  window: 256,
  warmupCalls: 5_000,
  trees: {},
  serverNodeArgs: [],
};

/** One phase of one target. CPU is µs per call; the server's is undefined if /proc could not be read. */
export interface PhaseFigures {
  callsPerSec: number;
  serverCpuUs: number | undefined;
  clientCpuUs: number;
}

export interface RoundFigures {
  sequential: Record<string, PhaseFigures>;
  pipelined: Record<string, PhaseFigures>;
}

/** Median and spread of one figure over the rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Per unified target: its figures ÷ the bare echo's, round by round, summarised. */
export interface TargetRatios {
  /** Calls/s unified ÷ bare, one call in flight. */
  sequential: Spread;
  pipelined: Spread;
  /** CPU per call (server + client) bare ÷ unified: the rate ratio if CPU were the only limit. */
  sequentialCpu: Spread;
  pipelinedCpu: Spread;
  /** The server's CPU per call alone, bare ÷ unified: what the master's layers cost. */
  sequentialServerCpu: Spread;
  pipelinedServerCpu: Spread;
}

export interface StreamRoundsResult {
  options: Omit<StreamRoundsOptions, "serverNodeArgs">;
  rounds: RoundFigures[];
  /** Sequential round trips of every round together, ms, per target. */
  latency: Record<string, { p50Ms: number; p99Ms: number }>;
  /** Per target and phase: medians over the rounds. */
  medians: Record<string, { sequential: PhaseFigures; pipelined: PhaseFigures }>;
  ratios: Record<string, TargetRatios>;
  /** The machine while it ran: load averages at the end, and other processes' CPU in cores. */
  load: { loadavg: number[]; othersCores: number; wallS: number };
}

let nextId = 0;
function healthRequest(): ConnectRequest {
  nextId++;
  return create(ConnectRequestSchema, {
    id: String(nextId),
    call: { case: "operator", value: create(CallSchema, { type: Call_Type.GET_HEALTH }) },
  });
}

interface Open {
  name: string;
  target: StreamTarget;
  stream: BenchStream;
}

/** `latencies` (ms), if given, receives each call's round trip. */
async function phase(open: Open, calls: number, window: number, latencies?: number[]): Promise<PhaseFigures> {
  const server0 = cpuTimeUs(open.target.pid ?? -1);
  const client0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < calls) {
      started++;
      const t0 = latencies === undefined ? 0n : process.hrtime.bigint();
      await open.stream.call(healthRequest());
      latencies?.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  const client = process.cpuUsage(client0);
  const server1 = cpuTimeUs(open.target.pid ?? -1);
  return {
    callsPerSec: calls / wallS,
    serverCpuUs: server0 === undefined || server1 === undefined ? undefined : (server1 - server0) / calls,
    clientCpuUs: (client.user + client.system) / calls,
  };
}

/** The order of targets in round `r`: rotated each round, reversed every other cycle. */
function orderOf<T>(items: T[], r: number): T[] {
  const n = items.length;
  const rotated = items.map((_, i) => items[(i + r) % n] as T);
  return Math.floor(r / n) % 2 === 1 ? rotated.reverse() : rotated;
}

function spread(values: number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[Math.floor(mid)] as number)
        : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN };
}

function latencyOf(samples: number[]): { p50Ms: number; p99Ms: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

const serverCpuOf = (f: PhaseFigures): number => f.serverCpuUs ?? Number.NaN;
const cpuOf = (f: PhaseFigures): number => serverCpuOf(f) + f.clientCpuUs;

function summarise(names: string[], rounds: RoundFigures[]): Pick<StreamRoundsResult, "medians" | "ratios"> {
  const medians: StreamRoundsResult["medians"] = {};
  const med = (kind: keyof RoundFigures, name: string): PhaseFigures => {
    const of = (pick: (f: PhaseFigures) => number | undefined): number =>
      spread(rounds.map((r) => pick(r[kind][name] as PhaseFigures) ?? Number.NaN)).median;
    return {
      callsPerSec: of((f) => f.callsPerSec),
      serverCpuUs: of((f) => f.serverCpuUs),
      clientCpuUs: of((f) => f.clientCpuUs),
    };
  };
  for (const name of names) medians[name] = { sequential: med("sequential", name), pipelined: med("pipelined", name) };
  const ratios: StreamRoundsResult["ratios"] = {};
  for (const name of names.filter((n) => n !== "bare")) {
    const ratio = (kind: keyof RoundFigures, value: (u: PhaseFigures, b: PhaseFigures) => number): Spread =>
      spread(rounds.map((r) => value(r[kind][name] as PhaseFigures, r[kind].bare as PhaseFigures)));
    ratios[name] = {
      sequential: ratio("sequential", (u, b) => u.callsPerSec / b.callsPerSec),
      pipelined: ratio("pipelined", (u, b) => u.callsPerSec / b.callsPerSec),
      sequentialCpu: ratio("sequential", (u, b) => cpuOf(b) / cpuOf(u)),
      pipelinedCpu: ratio("pipelined", (u, b) => cpuOf(b) / cpuOf(u)),
      sequentialServerCpu: ratio("sequential", (u, b) => serverCpuOf(b) / serverCpuOf(u)),
      pipelinedServerCpu: ratio("pipelined", (u, b) => serverCpuOf(b) / serverCpuOf(u)),
    };
  }
  return { medians, ratios };
}

async function startTargets(options: StreamRoundsOptions): Promise<Open[]> {
  const opened: Open[] = [];
  const starts: [string, () => Promise<StreamTarget>][] = [
    ["bare", () => startEchoServer(options.serverNodeArgs)],
    ["unified", () => startMasterAt(ROOT, options.serverNodeArgs)],
    ...Object.entries(options.trees).map(([name, root]): [string, () => Promise<StreamTarget>] => [
      name,
      () => startMasterAt(root, options.serverNodeArgs),
    ]),
  ];
  try {
    for (const [name, start] of starts) {
      const target = await start();
      try {
        opened.push({ name, target, stream: await openBenchStream(target.baseUrl, healthRequest()) });
      } catch (err) {
        await target.stop();
        throw err;
      }
    }
    return opened;
  } catch (err) {
    await stopTargets(opened);
    throw err;
  }
}

async function stopTargets(opened: Open[]): Promise<void> {
  for (const { stream, target } of opened.splice(0)) {
    await stream.close().catch(() => undefined);
    await target.stop();
  }
}

/** Starts the targets, warms each up, runs the rounds, stops everything (also on failure). */
export async function runStreamRounds(partial: Partial<StreamRoundsOptions> = {}): Promise<StreamRoundsResult> {
  const options = { ...DEFAULT_STREAM_ROUNDS, ...partial };
  const opened = await startTargets(options);
  try {
    for (const open of opened) {
      await phase(open, options.warmupCalls, 1);
      await phase(open, options.warmupCalls * 4, options.window);
    }
    const busy = machineBusy(opened.map((o) => o.target.pid));
    const rounds: RoundFigures[] = [];
    const samples = new Map<string, number[]>(opened.map((o) => [o.name, []]));
    for (let r = 0; r < options.rounds; r++) {
      const round: RoundFigures = { sequential: {}, pipelined: {} };
      for (const open of orderOf(opened, r)) {
        round.sequential[open.name] = await phase(open, options.sequentialCalls, 1, samples.get(open.name));
        round.pipelined[open.name] = await phase(open, options.pipelinedCalls, options.window);
      }
      rounds.push(round);
    }
    const { serverNodeArgs: _, ...shown } = options;
    return {
      options: shown,
      rounds,
      latency: Object.fromEntries([...samples].map(([name, ms]) => [name, latencyOf(ms)])),
      ...summarise(
        opened.map((o) => o.name),
        rounds,
      ),
      load: { loadavg: loadavg(), ...busy.end() },
    };
  } finally {
    await stopTargets(opened);
  }
}

function parseArgs(argv: string[]): Partial<StreamRoundsOptions> {
  const out: Partial<StreamRoundsOptions> = {};
  const trees: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--rounds") out.rounds = Number(value);
    else if (flag === "--seq") out.sequentialCalls = Number(value);
    else if (flag === "--pipe") out.pipelinedCalls = Number(value);
    else if (flag === "--warmup") out.warmupCalls = Number(value);
    else if (flag === "--tree") {
      const [name, path] = value.split("=");
      if (name === undefined || path === undefined) throw new Error(`--tree wants NAME=PATH, got ${value}`);
      trees[name] = path;
    } else throw new Error(`unknown argument ${flag}`);
  }
  const nodeArgs = process.env.STREAM_SERVER_NODE_ARGS;
  return { ...out, trees, ...(nodeArgs ? { serverNodeArgs: nodeArgs.split(" ") } : {}) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runStreamRounds(parseArgs(process.argv.slice(2))).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 1)}\n`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
