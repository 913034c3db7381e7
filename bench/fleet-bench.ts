/**
 * What the simulated fleet costs its own process, apart from any real
 * master: N agents with 10 tasks each register with a master that only
 * answers registrations (fake-master.ts, in a process of its own), then that
 * master is SIGKILLed and they re-register with a second one (the fleet
 * names both, `a,b`, so each agent's reconnect policy and the list's
 * rotation decide when). Reports wall time and this process's CPU for each
 * phase, and the fake masters' CPU. Failover benches (ha-bench.ts) run the
 * fleet beside the masters on the same cores, so its CPU is taken from them.
 *
 *   node --expose-gc --import tsx bench/fleet-bench.ts [agents] [--tree=PATH]
 *
 * `--tree=PATH` measures PATH/bench/sim-agents.ts instead (another checkout,
 * e.g. `git worktree add --detach /tmp/old HEAD~3` with a node_modules
 * symlink): alternate runs of both for a before/after. Prints JSON.
 * FLEET_BENCH_PROFILE=DIR writes a CPU profile of each phase
 * (`register.cpuprofile`, `failover.cpuprofile`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { FrameworkInfoSchema } from "../gen/mesos/v1/mesos_pb.js";
import { cpuTicks, ticksPerSecond } from "./cpu.js";
import type * as SessionPoolModule from "./session-pool.js";
import type * as SimAgentsModule from "./sim-agents.js";

export interface FleetBenchResult {
  agents: number;
  /** The checkout whose sim-agents.ts was measured; undefined: this one. */
  tree: string | undefined;
  /** Fleet start → every agent Registered. */
  registerMs: number;
  registerCpuMs: number;
  /** SIGKILL of the first master → every agent Registered by the second; undefined if they did not within 300 s. */
  failoverMs: number | undefined;
  /** Agents Registered by the second master by then. */
  reregistered: number;
  failoverCpuMs: number;
  /** This process's resident memory once the fleet registered. */
  rssMb: number;
  /** The fake masters' CPU over the whole run (they answer, nothing more). */
  fakeMastersCpuMs: number[];
}

const TASKS_PER_AGENT = 10;
const TIMEOUT_MS = 300_000;
const FAKE_MASTER = fileURLToPath(new URL("./fake-master.ts", import.meta.url));

async function startFakeMaster(epoch: number): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", FAKE_MASTER, String(epoch)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`the fake master exited (${code}) before listening`)));
  });
  return { child, address: `127.0.0.1:${port}` };
}

/** False once TIMEOUT_MS passed without `check()`. */
async function until(check: () => boolean): Promise<boolean> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Profiles `phase` when FLEET_BENCH_PROFILE names a directory. */
async function profiled<T>(name: string, phase: () => Promise<T>): Promise<T> {
  const dir = process.env.FLEET_BENCH_PROFILE;
  if (dir === undefined) return phase();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await phase();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

export async function runFleetBench(agents: number, tree?: string): Promise<FleetBenchResult> {
  const base = tree === undefined ? "." : `${tree}/bench`;
  const { startSimFleet } = (await import(`${base}/sim-agents.ts`)) as typeof SimAgentsModule;
  const { SessionPool } = (await import(`${base}/session-pool.ts`)) as typeof SessionPoolModule;
  const masters = [await startFakeMaster(1), await startFakeMaster(2)];
  const [first, second] = masters as [(typeof masters)[0], (typeof masters)[0]];
  const sessions = SessionPool.forFleet(agents);
  let fleet: SimAgentsModule.SimFleet | undefined;
  try {
    gc();
    const registerCpu = process.cpuUsage();
    const registerStart = performance.now();
    const sim = await profiled("register", async () => {
      const started = startSimFleet({
        master: `${first.address},${second.address}`,
        agents,
        tasksPerAgent: TASKS_PER_AGENT,
        framework: create(FrameworkInfoSchema, { id: { value: "fleet-bench" }, name: "fleet-bench", user: "bench" }),
        sessions,
      });
      fleet = started;
      if (!(await until(() => started.registeredSince(1n) === agents)))
        throw new Error(`${started.registeredSince(1n)} of ${agents} agents registered in ${TIMEOUT_MS / 1000} s`);
      return started;
    });
    const registerMs = performance.now() - registerStart;
    const registerCpuMs = cpuMs(process.cpuUsage(registerCpu));
    const rssMb = process.memoryUsage().rss / 2 ** 20;

    gc();
    const firstTicks = cpuTicks(first.child.pid) ?? 0;
    const exited = new Promise((r) => first.child.once("exit", r));
    const failoverCpu = process.cpuUsage();
    const killedAt = performance.now();
    const done = await profiled("failover", async () => {
      first.child.kill("SIGKILL");
      await exited;
      return until(() => sim.registeredSince(2n) === agents);
    });
    // A fleet too slow to come back within the timeout still tells what it cost meanwhile.
    const failoverMs = done ? performance.now() - killedAt : undefined;
    const failoverCpuMs = cpuMs(process.cpuUsage(failoverCpu));
    const secondTicks = cpuTicks(second.child.pid) ?? 0;
    return {
      agents,
      tree,
      registerMs,
      registerCpuMs,
      failoverMs,
      reregistered: sim.registeredSince(2n),
      failoverCpuMs,
      rssMb,
      fakeMastersCpuMs: [firstTicks, secondTicks].map((t) => (t / ticksPerSecond()) * 1000),
    };
  } finally {
    await fleet?.close();
    sessions.abort();
    for (const { child } of masters) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const agents = Number(args.find((a) => !a.startsWith("--")) ?? 3000);
  const tree = args.find((a) => a.startsWith("--tree="))?.slice("--tree=".length);
  runFleetBench(agents, tree).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`fleet-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
