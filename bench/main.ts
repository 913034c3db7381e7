/**
 * `npm run bench`: the unified stream against a bare echo, task throughput,
 * memory per running task, the allocator, failover of masters on etcd and
 * registry writes. Each section runs on its own processes and reports its
 * own failure; the others still run. Prints a table and puts a dated section
 * on top of bench/RESULTS.md. `npm run bench -- --only=ha,registry` runs
 * only the named sections (stream, throughput, memory, allocator, ha,
 * registry, scale).
 *
 * Needs the compiled CLI (dist/, `npm run build`): the daemons run as real
 * `plateau` processes on 127.0.0.1.
 */
import { join } from "node:path";
import { ROOT } from "../test/helpers/processes.js";
import { AGENT_SHAPE, runAllocatorBench } from "./allocator-bench.js";
import {
  MIX_ROLES,
  type MixFigures,
  type NestedFigures,
  type QuotaFigures,
  runMixCase,
  runNestedCase,
  runQuotaCase,
} from "./allocator-scenarios.js";
import { runFailoverBench } from "./ha-bench.js";
import { failoverNotes, failoverRows, registryRows } from "./ha-rows.js";
import { runRegistryBench } from "./registry-bench.js";
import { describeMachine, formatSection, formatTable, prependResults, type Row } from "./report.js";
import { runScaleSection } from "./scale.js";
import { runStreamBench, STREAM_LIMITS, type StreamFigures, type StreamResults } from "./stream-bench.js";
import {
  AGENT_RESOURCES,
  MEMORY_TASKS,
  type MemoryResult,
  runMemoryBench,
  runThroughputBench,
  THROUGHPUT_TASKS,
  type ThroughputResult,
} from "./task-bench.js";

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (kb: number): string => `${fmt(kb / 1024, 1)} MB`;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
/** Why sections failed, in full, for the notes under the table. */
const failures: string[] = [];
const failed = (figure: string, target: string, method: string, why: string): Row => {
  failures.push(`${figure} FAILED: ${why}`);
  return { figure, value: "FAILED (see notes)", target, met: undefined, method };
};

const SEQ_METHOD = `one Connect stream, one GET_HEALTH in flight; median of ${STREAM_LIMITS.rounds} rounds of ${STREAM_LIMITS.sequentialCalls} calls alternating with the other target, after ${STREAM_LIMITS.warmupCalls} warm-up`;
const PIPE_METHOD = `one Connect stream, ${STREAM_LIMITS.window} calls in flight; median of ${STREAM_LIMITS.rounds} rounds of ${STREAM_LIMITS.pipelinedCalls} calls; CPU µs per call of server and client process`;
const us = (n: number | undefined): string => (n === undefined ? "?" : `${fmt(n)} µs`);

function streamRows(name: string, server: string, figures: StreamFigures | string): Row[] {
  if (typeof figures === "string") return [failed(`${name}: round trips`, "", server, figures)];
  return [
    {
      figure: `${name}: latency p50 / p99`,
      value: `${fmt(figures.p50Ms, 3)} / ${fmt(figures.p99Ms, 3)} ms`,
      target: "",
      met: undefined,
      method: `${server}; ${SEQ_METHOD}`,
    },
    {
      figure: `${name}: sequential`,
      value: `${fmt(figures.sequentialPerSec)} round trips/s`,
      target: "",
      met: undefined,
      method: `${server}; ${figures.sequentialCalls} calls measured`,
    },
    {
      figure: `${name}: pipelined`,
      value: `${fmt(figures.pipelinedPerSec)} calls/s (CPU/call: server ${us(figures.serverCpuPerCallUs)}, client ${us(figures.clientCpuPerCallUs)})`,
      target: "",
      met: undefined,
      method: `${server}; ${figures.pipelinedCalls} calls, ${PIPE_METHOD}`,
    },
  ];
}

function ratioRows(results: StreamResults): Row[] {
  const { bare, unified } = results;
  const target = "≥ 0.9";
  if (typeof bare === "string" || typeof unified === "string") {
    return [failed("unified/bare ratio", target, "", "one of the two targets failed (see above)")];
  }
  const r = results.ratios;
  // The median of the per-round ratios (each round measures both targets
  // seconds apart), with its spread; without rounds, the ratio of medians.
  const value = (spread: { median: number; min: number; max: number } | undefined, u: number, b: number) =>
    spread === undefined
      ? { value: fmt(u / b, 2), met: u / b >= 0.9 }
      : {
          value: `${fmt(spread.median, 2)} (rounds ${fmt(spread.min, 2)}-${fmt(spread.max, 2)})`,
          met: spread.median >= 0.9,
        };
  const cpu = (spread: { median: number; min: number; max: number } | undefined) =>
    spread === undefined ? "" : `; by CPU per call (bare ÷ unified, server + client) ${fmt(spread.median, 2)}`;
  return [
    {
      figure: "unified/bare, sequential",
      ...value(r?.sequential, unified.sequentialPerSec, bare.sequentialPerSec),
      target,
      method: `round trips/s of the master ÷ those of the bare echo, same client, same run, per round${cpu(r?.sequentialCpu)}`,
    },
    {
      figure: "unified/bare, pipelined",
      ...value(r?.pipelined, unified.pipelinedPerSec, bare.pipelinedPerSec),
      target,
      method: `pipelined calls/s of the master ÷ those of the bare echo, same client, same run, per round${cpu(r?.pipelinedCpu)}`,
    },
  ];
}

function throughputRows(result: ThroughputResult | string): Row[] {
  const figure = "task throughput";
  const target = "≥ 100 tasks/s";
  const method = `${THROUGHPUT_TASKS} \`true\` tasks (cpus 0.1, mem 32) packed into offers of one agent (${AGENT_RESOURCES}); first ACCEPT → last terminal update; updates acknowledged`;
  if (typeof result === "string") return [failed(figure, target, method, result)];
  return [
    {
      figure,
      value: `${fmt(result.tasksPerSec, 1)} tasks/s (${result.finished} finished, ${result.failed} failed, ${fmt(result.seconds, 2)} s)`,
      target,
      met: result.failed === 0 && result.tasksPerSec >= 100,
      method,
    },
  ];
}

function memoryRows(result: MemoryResult | string): Row[] {
  const target = "< 10 MB";
  const method = `${MEMORY_TASKS} \`sleep 60\` tasks all TASK_RUNNING; VmRSS of every process descended from the agent (or with cwd/env in its work dir) ÷ ${MEMORY_TASKS}`;
  if (typeof result === "string") return [failed("memory per running task (RSS)", target, method, result)];
  const rows: Row[] = [
    {
      figure: "memory per running task (RSS)",
      value: `${mb(result.perTaskRssKb)} (${result.processes} processes, ${mb(result.totalRssKb)} total)`,
      target,
      met: result.perTaskRssKb < 10 * 1024,
      method,
    },
  ];
  if (result.perTaskPssKb !== undefined && result.totalPssKb !== undefined) {
    rows.push({
      figure: "memory per running task (PSS)",
      value: `${mb(result.perTaskPssKb)} (${mb(result.totalPssKb)} total)`,
      target: "",
      met: undefined,
      method: "as above with Pss from /proc/<pid>/smaps_rollup (shared pages split among sharers)",
    });
  }
  rows.push({
    figure: "agent process itself",
    value: `${mb(result.agentRssKb)} RSS${result.agentPssKb === undefined ? "" : `, ${mb(result.agentPssKb)} PSS`}`,
    target: "",
    met: undefined,
    method: "the `plateau agent` process, not counted above",
  });
  return rows;
}

/** Mesos 1.8's published DeclineOffers figures, for the same sizes. */
const MESOS_CYCLE: Record<string, string> = {
  "10000x1000": "Mesos 1.8: ~1.06-1.1 s",
  "20000x2000": "Mesos 1.8: ~3.8 s",
};
const CYCLE_TARGET: Record<string, number> = { "10000x1000": 200, "20000x2000": 800 };

function allocatorRows(results: Awaited<ReturnType<typeof runAllocatorBench>> | string): Row[] {
  const method = `pure allocator, agents \`${AGENT_SHAPE}\`, frameworks in one role declining all offers with a long filter (Mesos' DeclineOffers shape)`;
  if (typeof results === "string") return [failed("allocator cycle", "", method, results)];
  return results.flatMap((r): Row[] => {
    const size = `${fmt(r.agents)} agents × ${fmt(r.frameworks)} frameworks`;
    if ("error" in r) return [failed(`allocator, ${size}`, "", method, r.error)];
    const key = `${r.agents}x${r.frameworks}`;
    const target = CYCLE_TARGET[key];
    return [
      {
        figure: `allocator cycle, ${size}`,
        value: `${fmt(r.declineCycleMs)} ms, CPU ${fmt(r.declineCycleCpuMs)} ms (${fmt(r.offersPerCycle)} offers; first cycle ${fmt(r.firstCycleMs)} ms)${MESOS_CYCLE[key] === undefined ? "" : `; ${MESOS_CYCLE[key]}`}`,
        target: target === undefined ? "" : `< ${target} ms`,
        met: target === undefined ? undefined : r.declineCycleMs < target,
        method: `${method}; mean of the cycles after the first`,
      },
      {
        figure: `allocator, react to one task ending, ${size}`,
        value: `${fmt(r.reactMs * 1000)} µs, CPU ${fmt(r.reactCpuMs * 1000)} µs (heap ${r.heapPerAgentBytes > 0 ? `${fmt(r.heapPerAgentBytes / 1024, 1)} KB per agent, ${fmt(r.heapPerBusyAgentBytes / 1024, 1)} KB with a task` : "per agent not measurable in this run"})`,
        target: r.agents === 10_000 ? "< 5 ms" : "",
        met: r.agents === 10_000 ? r.reactMs < 5 : undefined,
        method:
          "recover one task's resources on one agent, then allocateChanged (wall: median of 200 on different agents; CPU: the 200 together ÷ 200); heap growth (after global.gc) while adding the agents ÷ agents, and once each holds a task",
      },
    ];
  });
}

function mixRows(result: MixFigures | string): Row[] {
  const figure = `allocator cycle, mixed workload, 10,000 agents`;
  const method = `${MIX_ROLES} weighted roles, two with guarantees and limits, one with a limit, 10% of agents half reserved, 10 frameworks per role launching up to 4 tasks per offer and declining the rest for 5 s, 1 running task in 5 ending per cycle; mean of 10 cycles after 3`;
  if (typeof result === "string") return [failed(figure, "", method, result)];
  return [
    {
      figure,
      value: `${fmt(result.cycleMs)} ms, CPU ${fmt(result.cycleCpuMs)} ms (${fmt(result.offersPerCycle)} offers per cycle, ${fmt(result.tasksRunning)} tasks running)`,
      target: "",
      met: undefined,
      method,
    },
  ];
}

function quotaRows(result: QuotaFigures | string): Row[] {
  const figure = "allocator, Mesos' quota shape (LargeAndSmallQuota)";
  const method =
    "3,000 agents `cpus:2;mem:2048;disk:2048`, 2,500 roles guaranteed `cpus:1;mem:1024;disk:1024` and 500 `cpus:4;mem:4096;disk:4096` (limits equal), one framework each; one cycle";
  if (typeof result === "string") return [failed(figure, "", method, result)];
  return [
    {
      figure,
      value: `${fmt(result.allocations)} allocations in ${fmt(result.firstCycleMs)} ms (${fmt(result.rolesSatisfied)} of ${fmt(result.roles)} guarantees met; next cycle ${fmt(result.secondCycleMs)} ms); Mesos: ~3,500 in 15-17 s`,
      target: "",
      met: undefined,
      method,
    },
  ];
}

function nestedRows(result: NestedFigures | string): Row[] {
  const figure = "allocator cycle, role tree, 10,000 agents × 100 roles";
  const method =
    "DeclineOffers shape with each of 100 frameworks in its own role `teamT/svcS` under 10 parents (hierarchical DRF); mean of the cycles after the first";
  if (typeof result === "string") return [failed(figure, "", method, result)];
  return [
    {
      figure,
      value: `${fmt(result.cycleMs)} ms, CPU ${fmt(result.cycleCpuMs)} ms (${fmt(result.offersPerCycle)} offers)`,
      target: "",
      met: undefined,
      method,
    },
  ];
}

function notesOf(
  throughput: ThroughputResult | string | undefined,
  memory: MemoryResult | string | undefined,
): string[] {
  const notes: string[] = [...failures];
  if (throughput !== undefined && typeof throughput !== "string") {
    for (const p of throughput.problems) notes.push(`throughput: ${p}`);
    if (throughput.firstRunningMs !== undefined) {
      notes.push(
        `throughput: first TASK_RUNNING ${fmt(throughput.firstRunningMs)} ms after the first ACCEPT (includes the executor host's start)`,
      );
    }
    if (throughput.leaked > 0)
      notes.push(`throughput: ${throughput.leaked} processes outlived the agent and were killed by pid`);
  }
  if (memory !== undefined && typeof memory !== "string") {
    if (memory.leaked > 0) notes.push(`memory: ${memory.leaked} processes outlived the agent and were killed by pid`);
    const top = memory.top.map((p) => `${p.command.slice(0, 60)} ${mb(p.rssKb)}`).join("; ");
    if (top !== "") notes.push(`memory: largest processes: ${top}`);
  }
  return notes;
}

async function section<T>(name: string, run: () => Promise<T>): Promise<T | string> {
  process.stderr.write(`bench: ${name}...\n`);
  const start = Date.now();
  try {
    return await run();
  } catch (err) {
    process.stderr.write(`bench: ${name} failed: ${message(err)}\n`);
    return message(err).split("\n")[0]?.slice(0, 300) ?? "failed";
  } finally {
    process.stderr.write(`bench: ${name} took ${fmt((Date.now() - start) / 1000, 1)} s\n`);
  }
}

const SECTIONS = ["stream", "throughput", "memory", "allocator", "ha", "registry", "scale"] as const;
type SectionName = (typeof SECTIONS)[number];

/** The sections `--only=a,b` names, or all of them. */
function selectedSections(argv: string[]): Set<SectionName> {
  const only = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  if (only === undefined) return new Set(SECTIONS);
  const names = only.split(",").map((n) => n.trim());
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`unknown section ${unknown.join(", ")}; the sections are ${SECTIONS.join(", ")}`);
  return new Set(names as SectionName[]);
}

/** Runs the section if selected; undefined when skipped. */
async function maybe<T>(
  selected: Set<SectionName>,
  key: SectionName,
  name: string,
  run: () => Promise<T>,
): Promise<T | string | undefined> {
  return selected.has(key) ? section(name, run) : undefined;
}

async function main(): Promise<void> {
  const date = new Date();
  const machine = describeMachine();
  const selected = selectedSections(process.argv.slice(2));
  const stream = await maybe(selected, "stream", "unified stream vs bare echo", runStreamBench);
  const throughput = await maybe(selected, "throughput", "task throughput", runThroughputBench);
  const memory = await maybe(selected, "memory", "memory per running task", runMemoryBench);
  const allocator = await maybe(selected, "allocator", "allocator (DeclineOffers shape)", () => runAllocatorBench());
  const mix = await maybe(selected, "allocator", "allocator (mixed workload)", async () => runMixCase(10_000));
  const quota = await maybe(selected, "allocator", "allocator (quota shape)", async () => runQuotaCase());
  const nested = await maybe(selected, "allocator", "allocator (role tree)", async () => runNestedCase());
  const failover = await maybe(selected, "ha", "failover of masters on etcd", () => runFailoverBench());
  const registry = await maybe(selected, "registry", "registry writes (fenced vs plain etcd)", () =>
    runRegistryBench(),
  );
  const scale = await maybe(selected, "scale", "scale (Mesos' published sizes)", () => runScaleSection(failed));

  const rows: Row[] = [];
  if (stream !== undefined) {
    const streams: StreamResults = typeof stream === "string" ? { bare: stream, unified: stream } : stream;
    rows.push(
      ...streamRows("bare echo", "connect-node http2 echo in a child process", streams.bare),
      ...streamRows("unified stream", "`plateau master --port 0`, operator GET_HEALTH", streams.unified),
      ...ratioRows(streams),
    );
  }
  if (throughput !== undefined) rows.push(...throughputRows(throughput));
  if (memory !== undefined) rows.push(...memoryRows(memory));
  if (allocator !== undefined) rows.push(...allocatorRows(allocator));
  if (mix !== undefined) rows.push(...mixRows(mix));
  if (quota !== undefined) rows.push(...quotaRows(quota));
  if (nested !== undefined) rows.push(...nestedRows(nested));
  if (failover !== undefined) rows.push(...failoverRows(failover, failed));
  if (registry !== undefined) rows.push(...registryRows(registry, failed));
  if (typeof scale === "string") rows.push(failed("scale", "", "", scale));
  else if (scale !== undefined) rows.push(...scale.rows);
  const notes = [
    ...notesOf(throughput, memory),
    ...(failover === undefined ? [] : failoverNotes(failover)),
    ...(typeof scale === "object" ? scale.notes : []),
  ];
  process.stdout.write(`\nPlateau benchmarks, ${date.toISOString()}\n`);
  process.stdout.write(
    `${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}, ${machine.kernel}\n\n`,
  );
  process.stdout.write(`${formatTable(rows)}\n`);
  for (const note of notes) process.stdout.write(`  - ${note}\n`);
  const path = join(ROOT, "bench", "RESULTS.md");
  prependResults(path, formatSection(date, machine, rows, notes));
  process.stdout.write(`\nwritten to ${path}\n`);
}

main().then(
  // Open handles of a failed section must not keep the benchmark alive.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
