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
 * why it lost the lead each time), PROBE_BIN=path/to/bin/plateau.js (another
 * build's master, to compare two trees in one run). Prints JSON; writes
 * nothing else.
 *
 * The fleet starts once the master leads, not once it listens: on etcd a
 * master may listen before it has won its campaign (it says so after 3 s
 * without a leader), and agents arriving then are turned away and back off
 * (up to 10 s), which measured the campaign and the backoff, not
 * registration. The embedded registry's master leads before it listens.
 * `masterCpuMs` and `etcdCpuMs` are the processes' CPU (user + system, from
 * /proc) while the fleet registered.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  /** Another build's `bin/plateau.js` (default: this tree's). */
  readonly bin?: string;
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
  /** CPU of the master and of etcd (if any) while the fleet registered. */
  readonly masterCpuMs: number;
  readonly etcdCpuMs: number | undefined;
  /** The master's log lines on losing the lead or stepping down. */
  readonly losses: string[];
}

/** A process's CPU so far (user + system), from /proc; undefined once it is gone. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

export async function runRegistrationBench(shape: RegistrationShape): Promise<RegistrationResult> {
  const scope = new ProcessScope(shape.bin);
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
    for (let waited = 0; !master.logs().includes('"msg":"leading"'); waited += 50) {
      if (waited > 60_000) throw new Error(`the master did not lead within 60 s: ${master.logs().slice(-500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const etcdPid = etcd?.pid;
    const cpuAtStart = [cpuMsOf(master.process.pid), cpuMsOf(etcdPid)];
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
    const used = (now: number | undefined, before: number | undefined) =>
      now === undefined || before === undefined ? undefined : Math.round(now - before);
    const masterCpuMs = used(cpuMsOf(master.process.pid), cpuAtStart[0]) ?? Number.NaN;
    const etcdCpuMs = used(cpuMsOf(etcdPid), cpuAtStart[1]);
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
      masterCpuMs,
      etcdCpuMs,
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
    bin: process.env.PROBE_BIN,
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
