/**
 * The etcd registry at Mesos' sizes, on a throwaway etcd with its default
 * limits (1.5 MiB per request, 128 operations per transaction): the time
 * one agent's admission takes to be stored with 1,000, 10,000 and 40,000
 * agents already stored (it should not grow), and the time a new leader
 * takes to read and build a registry of 40,000 agents.
 *
 * Per size: "sequential" stores admissions one after another (each its own
 * transaction); "grouped" hands a burst to the store at once, as a fleet
 * registering does (group commit, several transactions per batch). Beside
 * them, in the same run, what the single-value layout of old would have
 * cost per write at that size: encoding the whole registry (and whether
 * the value would still fit under etcd's request limit).
 *
 * Recovery, at each size from 10,000 on: a standby that has followed the
 * registry all along (registry-follower.ts) takes over when the leader
 * resigns (resign → its campaign resolves: the election and its catch-up),
 * and the master core is built from what it holds (what `lead()` does
 * next); then a candidate that followed nothing (a master started just
 * then) campaigns, as every new leader did before standbys followed.
 *
 * Run alone: node --import tsx bench/registry-scale-bench.ts [maxAgents]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { type AgentInfo, AgentInfoSchema, MasterInfoSchema, Value_Type } from "../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../gen/plateau/registry/v1/registry_pb.js";
import type { RegistryOperation } from "../src/core/registry/registry.js";
import { createRegistryBook } from "../src/core/registry/registry-book.js";
import { parseResources } from "../src/core/resources/index.js";
import { createEtcdClient } from "../src/etcd/client.js";
import { silentLogger } from "../src/log.js";
import type { RegistryRecovery } from "../src/master/etcd/fenced-registry.js";
import { createEtcdCoordinator, type EtcdCoordinator, type Leadership } from "../src/master/etcd/index.js";
import { readStoredRegistry } from "../src/master/etcd/registry-read.js";
import { decodeRegistry, encodeRegistry } from "../src/master/etcd/registry-value.js";
import { EtcdServer } from "../test/helpers/etcd.js";
import { testMasterCore } from "../test/helpers/master-harness.js";

export interface RegistryScaleLimits {
  /** Agents stored when admissions are timed (ascending); recovery is timed at the last. */
  sizes: number[];
  /** Admissions stored one after another at each size. */
  sequential: number;
  /** Admissions handed over at once at each size. */
  grouped: number;
  /** Admissions in flight while filling the registry up to the next size. */
  fillConcurrency: number;
  /** Sizes at which a standby takes over (and a cold candidate after it). */
  recoveryFrom: number;
}

export const REGISTRY_SCALE_LIMITS: RegistryScaleLimits = {
  sizes: [1_000, 10_000, 40_000],
  sequential: 200,
  grouped: 1_000,
  fillConcurrency: 2_000,
  recoveryFrom: 10_000,
};

export interface AdmissionRow {
  /** Agents stored before the timed admissions. */
  agents: number;
  /** One admission at a time: mean and median ms from apply() to stored. */
  sequentialMeanMs: number;
  sequentialP50Ms: number;
  /** CPU of this process (the store, the etcd client) per admission, one at a time: steadier than wall time on a shared machine. */
  sequentialCpuUs: number;
  /** A burst of `grouped` admissions at once: ms from the first apply() to the last stored, per admission. */
  groupedMsPerAdmission: number;
  groupedCpuUs: number;
  /** What one admission writes: the agent's entry (bytes of the value). */
  entryBytes: number;
  /** The single-value layout of old at this size: its size before and after gzip, and ms to encode it (once per write then). */
  wholeValueRawBytes: number;
  wholeValueBytes: number;
  wholeValueEncodeMs: number;
  /** Whether that value would pass etcd's default --max-request-bytes (1.5 MiB). */
  wholeValueFits: boolean;
}

/** A new leader taking over a registry of `agents`. */
export interface TakeoverFigures {
  agents: number;
  /** A standby that followed the registry: the leader's resign() → its campaign() resolves (election, catch-up). */
  standbyMs: number;
  /** How it came by the registry (caught up: keys changed and deleted since it followed), and how long that took. */
  standbyRecovery: RegistryRecovery | undefined;
  /** Building the master core from that registry: what the master does before it serves. */
  coreMs: number;
  /** A candidate that followed nothing: campaign() → resolved (election, a read of every key). */
  coldMs: number;
  coldRecovery: RegistryRecovery | undefined;
}

export interface RecoveryFigures {
  agents: number;
  /** A new leader: campaign() until its registry is read and built (election included). */
  campaignMs: number;
  /** Reading every entry key (paged) and decoding and merging them, without the election (median of 3). */
  readMs: number;
  /** Building the registry book from that registry. */
  buildMs: number;
  /**
   * Decoding the same registry from one gzip'd value (the layout of old,
   * etcd not involved): the floor any layout pays to turn bytes into agents.
   */
  wholeValueDecodeMs: number;
}

export interface RegistryScaleResult {
  rows: AdmissionRow[];
  recovery: RecoveryFigures;
  takeovers: TakeoverFigures[];
  /** Admissions per second while filling (bursts of fillConcurrency). */
  fillPerSec: number;
}

const RESOURCES = parseResources("cpus:16;mem:65536;disk:1048576;ports:[31000-32000]");

/** An agent as a real one registers: resources, a few attributes, a hostname. */
function agentInfo(n: number): AgentInfo {
  return create(AgentInfoSchema, {
    id: { value: `bench-master-S${n}` },
    hostname: `agent-${n}.rack-${n % 40}.example.internal`,
    port: 5051,
    resources: RESOURCES,
    attributes: [
      { name: "rack", type: Value_Type.TEXT, text: { value: `rack-${n % 40}` } },
      { name: "zone", type: Value_Type.TEXT, text: { value: `zone-${n % 3}` } },
    ],
  });
}
const admit = (n: number): RegistryOperation => ({ kind: "admit-agent", info: agentInfo(n) });

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** Admits agents `from`..`to - 1`, `concurrency` at a time. */
async function fill(leadership: Leadership, from: number, to: number, concurrency: number): Promise<void> {
  for (let start = from; start < to; start += concurrency) {
    const end = Math.min(to, start + concurrency);
    await Promise.all(Array.from({ length: end - start }, (_, i) => leadership.registry.apply(admit(start + i))));
  }
}

/** Times admissions at the registry's current size; admits agents from `next` on. */
async function timeAdmissions(
  leadership: Leadership,
  agents: number,
  next: number,
  limits: RegistryScaleLimits,
): Promise<AdmissionRow> {
  const latencies: number[] = [];
  const sequentialCpu = process.cpuUsage();
  for (let i = 0; i < limits.sequential; i++) {
    const t = performance.now();
    await leadership.registry.apply(admit(next + i));
    latencies.push(performance.now() - t);
  }
  const sequentialUsed = process.cpuUsage(sequentialCpu);
  const burst = next + limits.sequential;
  const groupedCpu = process.cpuUsage();
  const t = performance.now();
  await Promise.all(Array.from({ length: limits.grouped }, (_, i) => leadership.registry.apply(admit(burst + i))));
  const groupedMs = performance.now() - t;
  const groupedUsed = process.cpuUsage(groupedCpu);
  // What the layout of old did on every write: encode the whole registry.
  const registry = leadership.registry.current;
  const e = performance.now();
  const whole = encodeRegistry(registry);
  const wholeValueEncodeMs = performance.now() - e;
  return {
    agents,
    sequentialMeanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    sequentialP50Ms: median(latencies),
    sequentialCpuUs: (sequentialUsed.user + sequentialUsed.system) / limits.sequential,
    groupedMsPerAdmission: groupedMs / limits.grouped,
    groupedCpuUs: (groupedUsed.user + groupedUsed.system) / limits.grouped,
    entryBytes: toBinary(RegistrySchema, create(RegistrySchema, { agents: [agentInfo(next)] })).length + 23,
    wholeValueRawBytes: toBinary(RegistrySchema, registry).length,
    wholeValueBytes: whole.length,
    wholeValueEncodeMs,
    wholeValueFits: whole.length <= MAX_REQUEST_BYTES,
  };
}

/**
 * The standby takes over from `leader`; then it resigns too and a candidate
 * that followed nothing campaigns (and leads on).
 */
async function takeOver(
  leader: Leadership,
  standby: Promise<Leadership>,
  candidate: () => Promise<Leadership>,
): Promise<{ figures: TakeoverFigures; leader: Leadership }> {
  const agents = leader.registry.current.agents.length;
  // Let the standby's watch apply the last writes: this times a takeover, not a race.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const t = performance.now();
  await leader.resign();
  const successor = await standby;
  const standbyMs = performance.now() - t;
  const c = performance.now();
  testMasterCore(Date.now(), { registry: successor.registry.current });
  const coreMs = performance.now() - c;
  if (successor.registry.current.agents.length !== agents)
    throw new Error(`the standby took over ${successor.registry.current.agents.length} agents, not ${agents}`);
  await successor.resign();
  const k = performance.now();
  const cold = await candidate();
  const coldMs = performance.now() - k;
  return {
    figures: {
      agents,
      standbyMs,
      standbyRecovery: successor.recovery,
      coreMs,
      coldMs,
      coldRecovery: cold.recovery,
    },
    leader: cold,
  };
}

export async function runRegistryScaleBench(limits = REGISTRY_SCALE_LIMITS): Promise<RegistryScaleResult> {
  let etcd: EtcdServer | undefined;
  const coordinators: EtcdCoordinator[] = [];
  const coordinator = (): EtcdCoordinator => {
    // A long TTL: this measures the registry, not how leadership fares under load.
    const c = createEtcdCoordinator({
      endpoints: [etcd?.endpoint ?? ""],
      prefix: "/bench",
      electionTtlSeconds: 15,
      logger: silentLogger(),
    });
    coordinators.push(c);
    return c;
  };
  const masterInfo = (id: string) => create(MasterInfoSchema, { id, hostname: "127.0.0.1", port: 1 });
  let masters = 0;
  /** A candidate of its own coordinator, campaigning (following the registry) from now on. */
  const candidate = (): Promise<Leadership> => coordinator().campaign(masterInfo(`scale-${++masters}`));
  try {
    etcd = await EtcdServer.start();
    let leadership = await candidate();
    // Standing by, following the registry, from the start, as standbys do.
    let standby = candidate();
    // Warm both paths (JIT, connections) before the first row is timed.
    const WARM = 100;
    for (let i = 0; i < WARM; i++) await leadership.registry.apply(admit(9_000_000 + i));
    await fill(leadership, 9_100_000, 9_100_000 + WARM * 5, limits.fillConcurrency);
    const rows: AdmissionRow[] = [];
    const takeovers: TakeoverFigures[] = [];
    let stored = WARM * 6;
    let fillMs = 0;
    let filled = 0;
    for (const size of limits.sizes) {
      const t = performance.now();
      await fill(leadership, stored, size, limits.fillConcurrency);
      fillMs += performance.now() - t;
      filled += size - stored;
      // Timed agents get ids past every size, so each row starts at `size` stored.
      const next = 10_000_000 + rows.length * 100_000;
      rows.push(await timeAdmissions(leadership, size, next, limits));
      stored = size + limits.sequential + limits.grouped;
      if (size < limits.recoveryFrom) continue;
      const taken = await takeOver(leadership, standby, candidate);
      takeovers.push(taken.figures);
      leadership = taken.leader;
      standby = candidate();
    }
    const total = leadership.registry.current.agents.length;
    await leadership.resign();
    // The standby leads and steps down: the row below is a candidate that followed nothing.
    await (await standby).resign();

    const r = performance.now();
    const successor = await candidate();
    const campaignMs = performance.now() - r;
    if (successor.registry.current.agents.length !== total)
      throw new Error(`the new leader read ${successor.registry.current.agents.length} agents, not ${total}`);
    await successor.resign();

    const client = createEtcdClient([etcd.endpoint]);
    const reads: number[] = [];
    let buildMs = NaN;
    let wholeValueDecodeMs = NaN;
    try {
      for (let i = 0; i < 3; i++) {
        const s = performance.now();
        const registry = await readStoredRegistry(client, "/bench/registry");
        reads.push(performance.now() - s);
        const b = performance.now();
        createRegistryBook(registry);
        buildMs = performance.now() - b;
        const whole = encodeRegistry(registry);
        const d = performance.now();
        decodeRegistry(whole, "whole");
        wholeValueDecodeMs = performance.now() - d;
      }
    } finally {
      client.close();
    }
    const readMs = median(reads);
    return {
      rows,
      recovery: { agents: total, campaignMs, readMs, buildMs, wholeValueDecodeMs },
      takeovers,
      fillPerSec: (filled / fillMs) * 1000,
    };
  } finally {
    for (const c of coordinators.reverse()) await c.close().catch(() => undefined);
    await etcd?.cleanup();
  }
}

// Run alone: prints the figures as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const max = Number(process.argv[2] ?? REGISTRY_SCALE_LIMITS.sizes.at(-1));
  const sizes = REGISTRY_SCALE_LIMITS.sizes.filter((s) => s < max).concat(max);
  runRegistryScaleBench({ ...REGISTRY_SCALE_LIMITS, sizes }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(
        `registry-scale-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
