/**
 * Registration at scale: one `plateau master` and N simulated agents
 * (sim-agents.ts, 10 running tasks each, 8 shared HTTP/2 connections)
 * registering at once; times fleet start → every agent got Registered,
 * counts the Registered events (more than one per agent means streams
 * dropped and agents came again) and the times the master lost the lead
 * meanwhile. The registry is in memory, embedded in a work dir, or on a
 * throwaway etcd. `runRegistrationBench` is the `scale` section's row; run
 * alone it reads the environment:
 *
 *   PROBE_ETCD=1 node --import tsx bench/register-bench.ts 3000
 *
 * PROBE_WORK_DIR=dir (embedded registry), PROBE_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=DIR" (profiles the master), PROBE_SHOW_LOSSES=1 (prints
 * why it lost the lead each time). Prints JSON; writes nothing else.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { FrameworkInfoSchema } from "../gen/mesos/v1/mesos_pb.js";
import { EtcdServer } from "../test/helpers/etcd.js";
import { ProcessScope } from "../test/helpers/processes.js";
import { SessionPool } from "./session-pool.js";
import { startSimFleet } from "./sim-agents.js";

export interface RegistrationShape {
  readonly agents: number;
  /** "etcd": a throwaway etcd; "embedded": a temp work dir; "memory": neither; else a work dir. */
  readonly registry: "etcd" | "embedded" | "memory" | string;
  readonly nodeArgs?: string[];
  /** Give up after this long (the figure is then missing, not wrong). */
  readonly timeoutMs?: number;
  readonly onProgress?: (registered: number, seconds: number) => void;
}

export interface RegistrationResult {
  readonly agents: number;
  readonly registry: string;
  readonly registerMs: number;
  readonly registrations: number;
  readonly leadershipLosses: number;
  /** The master's log lines on losing the lead or stepping down. */
  readonly losses: string[];
}

export async function runRegistrationBench(shape: RegistrationShape): Promise<RegistrationResult> {
  const scope = new ProcessScope();
  const sessions = SessionPool.forFleet(shape.agents);
  const tempDir = shape.registry === "embedded" ? mkdtempSync(join(tmpdir(), "plateau-register-")) : undefined;
  const workDir = tempDir ?? (["etcd", "memory"].includes(shape.registry) ? undefined : shape.registry);
  let etcd: EtcdServer | undefined;
  try {
    etcd = shape.registry === "etcd" ? await EtcdServer.start() : undefined;
    const master = await scope.start(
      [
        "master",
        "--port",
        "0",
        ...(workDir ? ["--work-dir", workDir] : []),
        ...(etcd ? ["--registry", `etcd://${etcd.endpoint}/p`, "--election-ttl", "2"] : []),
      ],
      "master listening",
      {},
      shape.nodeArgs ?? [],
    );
    const start = performance.now();
    const fleet = startSimFleet({
      master: `127.0.0.1:${master.port}`,
      agents: shape.agents,
      tasksPerAgent: 10,
      framework: create(FrameworkInfoSchema, { user: "b", name: "b", id: { value: "fw-probe" } }),
      sessions,
    });
    const timeoutMs = shape.timeoutMs ?? 600_000;
    let reported = -1;
    for (;;) {
      const n = fleet.registeredSince(0n);
      if (n === shape.agents) break;
      const elapsed = performance.now() - start;
      if (elapsed > timeoutMs) {
        const exited = master.process.exitCode ?? master.process.signalCode;
        const tail = master.logs().trim().split("\n").slice(-5).join("\n");
        throw new Error(
          `only ${n} of ${shape.agents} agents registered in ${Math.round(timeoutMs / 1000)} s; the master ${exited === null ? "runs" : `exited (${exited})`}; its last log lines:\n${tail}`,
        );
      }
      const period = Math.floor(elapsed / 5000);
      if (period !== reported) {
        reported = period;
        shape.onProgress?.(n, period * 5);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const registerMs = Math.round(performance.now() - start);
    const registrations = fleet.registrations.reduce((sum, r) => sum + r.length, 0);
    await fleet.close();
    sessions.abort();
    const lines = master.logs().split("\n");
    return {
      agents: shape.agents,
      registry: etcd ? "etcd" : workDir === undefined ? "memory" : "embedded",
      registerMs,
      registrations,
      leadershipLosses: lines.filter((l) => l.includes("lost the lead")).length,
      losses: lines.filter((l) => l.includes("leadership lost") || l.includes("stepping down")),
    };
  } finally {
    // Everything started goes, also when the fleet did not register in time.
    sessions.abort();
    await scope.cleanup();
    await etcd?.stop();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const registry = process.env.PROBE_ETCD ? "etcd" : (process.env.PROBE_WORK_DIR ?? "memory");
  runRegistrationBench({
    agents: Number(process.argv[2] ?? 1000),
    registry,
    nodeArgs: process.env.PROBE_NODE_ARGS?.split(" ").filter((a) => a !== ""),
    onProgress: (n, s) => process.stderr.write(`register-bench: ${n} registered after ${s} s\n`),
  }).then(
    ({ losses, ...result }) => {
      if (process.env.PROBE_SHOW_LOSSES) for (const line of losses) process.stderr.write(`${line}\n`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`register-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
