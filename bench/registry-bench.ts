/**
 * Registry write throughput on a throwaway etcd: the fenced registry
 * (src/master/etcd, a won Leadership's `registry.apply`) against plain
 * etcd3 puts of a value of the same size, same client library, same etcd,
 * same run. Operations are `update-weights` of one role with a new weight
 * each time, so every one writes.
 *
 * "In flight" means that many calls outstanding at once, each completion
 * issuing the next. The fenced store takes them in call order and, as a
 * compare-and-set on one key, writes them one after another; plain puts go
 * to etcd together. Phases alternate (plain, fenced, transaction alone,
 * four times) so load from elsewhere on the machine hits all alike; each
 * figure sums its phases.
 */
import { create } from "@bufbuild/protobuf";
import type { Etcd3 } from "etcd3";
import { MasterInfoSchema, WeightInfoSchema } from "../gen/mesos/v1/mesos_pb.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../src/core/registry/registry.js";
import { createEtcdClient } from "../src/etcd/client.js";
import { silentLogger } from "../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator, type Leadership } from "../src/master/etcd/index.js";
import { encodeFragment } from "../src/master/etcd/registry-layout.js";
import { EtcdServer } from "../test/helpers/etcd.js";

/** Per concurrency, each mode runs `phaseMs` in all, split over `alternations` phases interleaved with the other modes. */
export const REGISTRY_LIMITS = { phaseMs: 3_000, alternations: 4, concurrency: [1, 64] as const };

export interface WriteFigures {
  opsPerSec: number;
  /** CPU of this process per operation (client side: etcd3, and for fenced also the store). */
  cpuUsPerOp: number;
  p50Ms: number;
}

export interface RegistryRow {
  concurrency: number;
  fenced: WriteFigures;
  plain: WriteFigures;
  /**
   * The fenced store's transaction alone (the same four compares, put and
   * failure reads, on a key of its own), without the store: tells etcd's
   * share of the gap from the store's (operation, encoding, queue).
   */
  txnOnly: WriteFigures;
}

export interface RegistryResult {
  valueBytes: number;
  rows: RegistryRow[];
}

const ROLE = "bench";
let weightSeq = 0;
/** A new weight each call: the operation always changes the registry. */
const nextWeights = (): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role: ROLE, weight: 1 + ++weightSeq / 1e6 })],
});

interface Phase {
  ops: number;
  ms: number;
  cpuUs: number;
  latencies: number[];
}

/** Keeps `concurrency` calls of `op` outstanding for `ms`, then waits for the stragglers. */
async function drive(op: () => Promise<unknown>, concurrency: number, ms: number): Promise<Phase> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await op();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(cpu);
  return { ops: latencies.length, ms: performance.now() - start, cpuUs: used.user + used.system, latencies };
}

function figures(phases: Phase[]): WriteFigures {
  const ops = phases.reduce((n, p) => n + p.ops, 0);
  const ms = phases.reduce((n, p) => n + p.ms, 0);
  const cpuUs = phases.reduce((n, p) => n + p.cpuUs, 0);
  const sorted = phases.flatMap((p) => p.latencies).sort((a, b) => a - b);
  return { opsPerSec: (ops / ms) * 1000, cpuUsPerOp: cpuUs / ops, p50Ms: sorted[Math.floor(sorted.length / 2)] ?? NaN };
}

export async function runRegistryBench(limits = REGISTRY_LIMITS): Promise<RegistryResult> {
  let etcd: EtcdServer | undefined;
  let coordinator: EtcdCoordinator | undefined;
  let plain: Etcd3 | undefined;
  try {
    etcd = await EtcdServer.start();
    // A long TTL: this measures writes, not how leadership fares under load.
    coordinator = createEtcdCoordinator({
      endpoints: [etcd.endpoint],
      prefix: "/bench",
      electionTtlSeconds: 10,
      logger: silentLogger(),
    });
    const leadership: Leadership = await coordinator.campaign(
      create(MasterInfoSchema, { id: "registry-bench", hostname: "127.0.0.1", port: 1 }),
    );
    plain = createEtcdClient([etcd.endpoint]);
    // What the fenced store puts per write: the one weight entry it changed.
    const value = encodeFragment(applyRegistryOperation(emptyRegistry(), nextWeights()).registry);
    const plainKey = "/bench/plain";
    const client = plain;
    const putPlain = () => client.put(plainKey).value(value).exec();
    const fenceKey = Buffer.from("/bench/fence");
    const txnKey = Buffer.from("/bench/txn");
    const fenceRevision = (await client.put(fenceKey).value("x").exec()).header.revision;
    let txnRevision = "0";
    const legacyKey = Buffer.from("/bench/txn-legacy");
    // As registry-txn.ts writes one entry: fence (create revision, lease), CAS
    // on <prefix>/registry's mod revision (absent here) and on the entry's.
    const txnOnly = async (): Promise<void> => {
      const response = await client.kv.txn({
        compare: [
          { key: fenceKey, target: "Create", result: "Equal", create_revision: fenceRevision },
          { key: fenceKey, target: "Lease", result: "Equal", lease: "0" },
          { key: legacyKey, target: "Mod", result: "Equal", mod_revision: "0" },
          { key: txnKey, target: "Mod", result: "Equal", mod_revision: txnRevision },
        ],
        success: [{ request_put: { key: txnKey, value } }],
        failure: [
          { request_range: { key: fenceKey } },
          { request_range: { key: legacyKey } },
          { request_range: { key: txnKey } },
        ],
      });
      if (response.succeeded) txnRevision = response.header.revision;
      else txnRevision = response.responses[2]?.response_range.kvs[0]?.mod_revision ?? "0";
    };
    const applyFenced = () => leadership.registry.apply(nextWeights());
    // Warm both paths (connections, JIT) before measuring.
    await drive(putPlain, 8, 300);
    await drive(applyFenced, 8, 300);
    await drive(txnOnly, 1, 300);

    const rows: RegistryRow[] = [];
    for (const concurrency of limits.concurrency) {
      const plainPhases: Phase[] = [];
      const fencedPhases: Phase[] = [];
      const txnPhases: Phase[] = [];
      const phaseMs = limits.phaseMs / limits.alternations;
      for (let round = 0; round < limits.alternations; round++) {
        plainPhases.push(await drive(putPlain, concurrency, phaseMs));
        fencedPhases.push(await drive(applyFenced, concurrency, phaseMs));
        // Concurrent CAS transactions on one key would mostly fail: only one at a time.
        if (concurrency === 1) txnPhases.push(await drive(txnOnly, 1, phaseMs));
      }
      rows.push({
        concurrency,
        plain: figures(plainPhases),
        fenced: figures(fencedPhases),
        txnOnly: figures(txnPhases),
      });
    }
    return { valueBytes: value.length, rows };
  } finally {
    plain?.close();
    await coordinator?.close().catch(() => undefined);
    await etcd?.cleanup();
  }
}

// Run alone: prints the figures as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  runRegistryBench().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`registry-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
