/**
 * The `scale` section (`npm run bench -- --only=scale`): Plateau at Mesos'
 * published sizes, with Mesos' figure beside each row. Every row runs on
 * its own processes; one that fails is reported and the others still run.
 * `SCALE_AGENTS=N` shrinks the fleets (for a quick look on a busy machine).
 */
import { runAllocatorScaleBench } from "./allocator-scale.js";
import { HA_SHAPE, runFailoverBench } from "./ha-bench.js";
import { runLaunchBench } from "./launch-bench.js";
import { runRegistrationBench } from "./register-bench.js";
import { runRegistryScaleBench } from "./registry-scale-bench.js";
import { registryScaleRows } from "./registry-scale-rows.js";
import type { Row } from "./report.js";
import { leaderMemory, runReregisterBench } from "./reregister-bench.js";
import { runStateBench, type StateRead } from "./state-bench.js";

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";

export interface ScaleSection {
  rows: Row[];
  notes: string[];
}

type Failed = (figure: string, target: string, method: string, why: string) => Row;

async function attempt(name: string, failed: Failed, run: () => Promise<Row[]>): Promise<Row[]> {
  process.stderr.write(`bench: scale: ${name}...\n`);
  try {
    return await run();
  } catch (err) {
    process.stderr.write(`bench: scale: ${name} failed: ${message(err)}\n`);
    return [failed(`scale: ${name}`, "", "", message(err))];
  }
}

async function registrationRows(agents: number, registry: "etcd" | "embedded"): Promise<Row[]> {
  const result = await runRegistrationBench({ agents, registry, timeoutMs: 300_000 });
  const where =
    registry === "etcd" ? "on a throwaway etcd (`--election-ttl 2`)" : "with the embedded registry (`--work-dir`)";
  return [
    {
      figure: `registration: ${fmt(agents)} agents at once, ${registry}`,
      value: `${seconds(result.registerMs)}, ${result.leadershipLosses} leadership lost, ${fmt(result.registrations)} Registered for ${fmt(agents)} agents`,
      target: agents >= 10_000 ? "≤ 30 s, no lead lost" : "no lead lost",
      met:
        agents >= 10_000 ? result.registerMs <= 30_000 && result.leadershipLosses === 0 : result.leadershipLosses === 0,
      method: `one \`plateau master --port 0\` ${where}; ${fmt(agents)} simulated agents (bench/sim-agents.ts, 8 shared HTTP/2 connections) with 10 TASK_RUNNING tasks each open their streams at once; fleet start → every agent got Registered`,
    },
  ];
}

async function failoverRows(agents: number): Promise<Row[]> {
  const result = await runFailoverBench({ ...HA_SHAPE, agents, rounds: 1, pausedRounds: 0 });
  const round = result.rounds[0];
  if (round === undefined) throw new Error("no failover round ran");
  const tasks = result.tasks;
  const perAgent =
    result.leaderRssKb === undefined ? "?" : `${fmt((result.leaderRssKb * 1024) / (agents + tasks) / 1024, 1)} kB`;
  return [
    {
      figure: `failover: ${fmt(agents)} agents / ${fmt(tasks)} tasks re-registered`,
      value: `${seconds(round.agentsReregisteredMs)} (new leader serving after ${seconds(round.leaderServingMs)}, framework resubscribed after ${seconds(round.frameworkResubscribedMs)}); Mesos 1.5: ~4.3 s at 10,000 / 100,000, ~19 s at 40,000 / 400,000`,
      target: agents >= 40_000 ? "≤ 8 s" : "≤ 2 s",
      met: round.agentsReregisteredMs <= (agents >= 40_000 ? 8_000 : 2_000),
      method: `3 \`plateau master --registry etcd://… --election-ttl 2\`, a throwaway etcd, ${fmt(agents)} simulated agents with 10 tasks each of one src/client scheduler; SIGKILL of the leader → the last agent's Registered from the new epoch; ${round.activeAgents} active agents and ${fmt(round.tasks)} tasks on the new leader after`,
    },
    {
      figure: `failover: the leader's memory at ${fmt(agents)} agents`,
      value:
        result.leaderRssKb === undefined
          ? "?"
          : `${fmt(result.leaderRssKb / 1024)} MB RSS, ${perAgent} per agent or task; fleet registered in ${seconds(result.setupMs)} with ${result.setupLeadershipLosses} leadership lost`,
      target: "",
      met: undefined,
      method: "VmRSS of the largest of the 3 masters (the leader) once the whole fleet had registered",
    },
  ];
}

/** The new leader's own share of a failover, without sockets: what each re-registration costs it, and its memory. */
async function reregisterRows(agents: number): Promise<Row[]> {
  const run = runReregisterBench(agents, 10);
  const memory = leaderMemory(agents, 10);
  return [
    {
      figure: `failover: the new leader's CPU per re-registering agent (10 tasks), in-process, ${fmt(agents)} agents`,
      value: `${fmt(run.perAgentUs)} µs (decoding the Register ${fmt(run.decodeMs)} ms, the core ${fmt(run.coreMs)} ms for all); recovering the core from the registry ${fmt(run.recoverMs)} ms; the allocation pass after ${fmt(run.allocateMs)} ms`,
      target: "",
      met: undefined,
      method:
        "bench/reregister-bench.ts: a master core recovered from a registry of the agents and one framework, then every agent's Register as bytes, decoded and handed to the core, registry writes applied to an in-memory book",
    },
    {
      figure: "failover: the leader's heap per agent and per task",
      value: `${fmt(memory.perAgentBytes / 1024, 1)} kB per agent, ${fmt(memory.perTaskBytes / 1024, 2)} kB per task`,
      target: "",
      met: undefined,
      method: `the same core's heap after a full GC, with ${fmt(agents)} agents and no tasks, then 10 tasks each`,
    },
  ];
}

async function allocatorRows(): Promise<Row[]> {
  return (await runAllocatorScaleBench()).map((row) => {
    const figure = `allocator cycle: ${fmt(row.agents)} agents × ${fmt(row.frameworks)} frameworks`;
    const target = row.targetMs === undefined ? "" : `≤ ${row.targetMs} ms`;
    const method =
      "the pure allocator in the shape of Mesos' DeclineOffers benchmark (bench/allocator-scale.ts): mean of the cycles after the first, wall and CPU time of the process";
    if ("error" in row.figures)
      return { figure, value: `FAILED: ${row.figures.error}`, target, met: undefined, method };
    const f = row.figures;
    return {
      figure,
      value: `${fmt(f.declineCycleMs)} ms (CPU ${fmt(f.declineCycleCpuMs)} ms); reacting to one task ending ${fmt(f.reactMs * 1000)} µs (CPU ${fmt(f.reactCpuMs * 1000)} µs); heap ${fmt(f.heapAfterCyclesBytes / 1048576)} MB${row.mesos === undefined ? "" : `; ${row.mesos}`}`,
      target,
      met: row.met?.cpu,
      method,
    };
  });
}

async function launchRows(): Promise<Row[]> {
  const result = await runLaunchBench();
  return result.runs.map((run) => ({
    figure: `launch throughput: ${fmt(run.tasks)} \`true\` tasks, ${run.api}`,
    value: `${fmt(run.tasksPerSec, 1)} tasks/s = ${fmt(run.fractionOfLimit, 2)} of the machine's limit (${fmt(result.limit.perSec)} spawns/s in this run); by CPU ${fmt(run.cpuFractionOfLimit, 2)}; ${run.failed} failed`,
    target: "≥ 0.5 of the limit",
    met: run.fractionOfLimit >= 0.5,
    method:
      "a fresh `plateau master` and `plateau agent` (room for 640 tasks of 0.1 cpus, 32 MB at once); first ACCEPT → last TASK_FINISHED, through the v2 stream (src/client) or a plain v1 HTTP scheduler; the limit: the fastest this Node process spawns and reaps `true` (bench/launch-limit.ts)",
  }));
}

const read = (r: StateRead): string =>
  r.error !== undefined
    ? `refused: ${r.error.slice(0, 80)}`
    : `${seconds(r.ms ?? 0)}, ${fmt((r.bytes ?? 0) / 1048576, 1)} MB${r.pieces === undefined ? "" : ` in ${r.pieces} message(s)`}, master peak ${fmt(r.peakRssMiB ?? 0)} MiB`;

async function stateRows(): Promise<Row[]> {
  const agents = Number(process.env.SCALE_STATE_AGENTS ?? 5_000);
  const result = await runStateBench({
    agents,
    runningPerAgent: 10,
    finishedPerAgent: 10,
    frameworks: 200,
    parallel: { agents: 100, tasksPerAgent: 100, readers: 20 },
  });
  const build = result.builds[0];
  if (build === undefined) throw new Error("the state bench measured nothing");
  const shape = `${fmt(agents)} agents, ${fmt(build.tasks.running)} running and ${fmt(build.tasks.completed)} completed tasks of 200 frameworks`;
  const method = `one \`plateau master\`, simulated agents report the tasks and finish half of them (bench/state-bench.ts); time to the last byte`;
  const rows: Row[] = [
    {
      figure: `state: /master/state at ${shape}`,
      value: `${read(build.json)}; again ${read(build.jsonAgain)}; Mesos 1.7: ~3.1 s at 20,000 agents, 200,000 running + 200,000 completed`,
      target: "≤ 1 s at 20,000 agents",
      met: undefined,
      method,
    },
    {
      figure: `state: GET_STATE at ${shape}`,
      value: `Connect stream ${read(build.connect)}; OperateStream ${read(build.operateStream)}; unary Operate ${read(build.operate)}`,
      target: "",
      met: undefined,
      method: `${method}; unary Operate refuses an answer over gRPC's 4 MiB with RESOURCE_EXHAUSTED`,
    },
  ];
  const parallel = build.parallel;
  if (parallel !== undefined)
    rows.push({
      figure: `state: ${parallel.readers} parallel /master/state readers, 100 agents × 100 tasks`,
      value: `${seconds(parallel.allMs)} for all (one alone ${seconds(parallel.oneMs)}, ×${fmt(parallel.ratio, 1)}); Mesos: 0.96 s`,
      target: `well under ×${parallel.readers}`,
      met: parallel.ratio < parallel.readers / 2,
      method: "readers that arrive together share one rendering",
    });
  return rows;
}

export async function runScaleSection(failed: Failed): Promise<ScaleSection> {
  const agents = Number(process.env.SCALE_AGENTS ?? 10_000);
  const rows: Row[] = [];
  rows.push(...(await attempt("registration on etcd", failed, () => registrationRows(agents, "etcd"))));
  rows.push(...(await attempt("registration, embedded", failed, () => registrationRows(agents, "embedded"))));
  rows.push(...(await attempt("failover", failed, () => failoverRows(agents))));
  rows.push(...(await attempt("the new leader's cost per agent", failed, () => reregisterRows(agents))));
  rows.push(...(await attempt("allocator", failed, allocatorRows)));
  rows.push(...(await attempt("launch throughput", failed, launchRows)));
  rows.push(...(await attempt("state", failed, stateRows)));
  rows.push(
    ...(await attempt("registry in etcd at 40,000 agents", failed, async () =>
      registryScaleRows(await runRegistryScaleBench(), failed),
    )),
  );
  return { rows, notes: [] };
}
