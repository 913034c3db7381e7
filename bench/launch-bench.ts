/**
 * Launch throughput on one real agent, as a fraction of the machine's own
 * limit measured in the same run (issue 15): trivial tasks (`true`) from the
 * first ACCEPT to the last TASK_FINISHED, through the v2 stream (the
 * src/client scheduler) and through the v1 HTTP API (a plain v1 scheduler,
 * bench/launch-v1.ts), each run on a fresh master and agent.
 *
 * Runnable alone, printing JSON:
 *   node --import tsx bench/launch-bench.ts [--sizes=1000,5000] [--apis=v2,v1] [--rounds=1]
 *        [--build=LABEL:/other/tree/bin/plateau.js[:ENV=VALUE,...]]... [--profile=DIR]
 * Several `--build`s (e.g. a built worktree of main, and this tree) run
 * alternately, so before/after rates come from the same minutes of a shared
 * machine. Needs the compiled CLI (dist/, `npx tsc -p tsconfig.json`).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PLATEAU_BIN } from "../test/helpers/processes.js";
import { BenchFramework } from "./framework.js";
import { type CpuSeconds, type LaunchCluster, withLaunchCluster } from "./launch-cluster.js";
import { type MachineLimit, measureMachineLimit } from "./launch-limit.js";
import { runV1Framework } from "./launch-v1.js";

export type LaunchApi = "v1" | "v2";

/** A build of Plateau to run: its label in the results and its `bin/plateau.js`. */
export interface LaunchBuild {
  label: string;
  bin: string;
  /** Environment of the agent (e.g. a variant's switch). */
  agentEnv?: Record<string, string>;
}

export interface LaunchBenchOptions {
  /** Tasks per run; default [1000, 5000]. */
  sizes?: number[];
  /** Default ["v2", "v1"]. */
  apis?: LaunchApi[];
  /** Builds alternated within each size and API; default this tree's build. */
  builds?: LaunchBuild[];
  /** Repetitions of the whole grid; default 1. */
  rounds?: number;
  /** The agent's `--resources`; default LAUNCH_AGENT_RESOURCES. */
  agentResources?: string;
  /** Spawns per concurrency when measuring the machine's limit; default 1,000. */
  limitSpawns?: number;
  /** Called after each run (e.g. to show progress). */
  onRun?: (run: Measured) => void;
  /** Write `--cpu-prof` profiles of master, agent and executor hosts under this directory, one folder per run and process. */
  profileDir?: string;
}

/** One run: one build, one API, one size, on a fresh cluster. */
export interface LaunchRun {
  build: string;
  api: LaunchApi;
  tasks: number;
  finished: number;
  failed: number;
  /** First ACCEPT → last terminal update. */
  seconds: number;
  tasksPerSec: number;
  /** tasksPerSec ÷ the machine's limit (the higher of the two measured in this run). */
  fractionOfLimit: number;
  /** ACCEPTs the framework sent (offers it used). */
  accepts: number;
  /** First ACCEPT → first TASK_RUNNING, ms. */
  firstRunningMs: number | undefined;
  /** CPU ms per task of each process during the run (hosts include the `true`s they reaped). */
  cpuMsPerTask: CpuSeconds;
  /** CPU ms per task of the framework (this process), not counted above. */
  frameworkCpuMsPerTask: number;
  /**
   * The machine's CPU per spawn-and-reap ÷ Plateau's (master, agent, hosts)
   * per task: on a machine shared with other work, what the rate would be
   * as a fraction of the limit if CPU were all that bound both.
   */
  cpuFractionOfLimit: number;
  problems: string[];
  /** Processes still alive after the cluster stopped (killed by pid). */
  leaked: number;
}

export interface LaunchBenchResult {
  date: string;
  /** `uptime` before and after: how loaded the shared machine was. */
  uptime: { before: string; after: string };
  agentResources: string;
  /** The machine's limit measured before and after the runs. */
  limit: { before: MachineLimit; after: MachineLimit; perSec: number };
  runs: LaunchRun[];
}

/** A run before it is compared with the limit. */
export type Measured = Omit<LaunchRun, "fractionOfLimit" | "cpuFractionOfLimit">;

/** Room for 640 tasks of 0.1 cpus and 32 MB at once: offers carry hundreds of tasks each. */
export const LAUNCH_AGENT_RESOURCES = "cpus:64;mem:65536;disk:100000;ports:[31000-32000]";
export const LAUNCH_SIZES = [1_000, 5_000];
const TEMPLATE = { argv: ["true"], needs: { cpus: 0.1, mem: 32 } };
/** A run gives up when it goes slower than this many tasks/s (plus a start-up allowance). */
const SLOWEST_PER_SEC = 10;

const uptime = (): string => {
  try {
    return execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};

interface Timing {
  finished: number;
  failed: number;
  accepts: number;
  firstAcceptAt: bigint | undefined;
  firstRunningAt: bigint | undefined;
  allTerminalAt: bigint | undefined;
  problems: string[];
}

async function runV2(cluster: LaunchCluster, tasks: number, timeoutMs: number): Promise<Timing> {
  const fw = new BenchFramework(
    `127.0.0.1:${cluster.master.port}`,
    { namePrefix: "true", argv: TEMPLATE.argv, needs: TEMPLATE.needs },
    tasks,
  );
  try {
    await fw.waitUntil(() => fw.allTerminalAt !== undefined, `${tasks} terminal updates`, timeoutMs);
    return fw;
  } finally {
    await fw.teardown().catch(() => undefined);
  }
}

async function runOne(
  build: LaunchBuild,
  api: LaunchApi,
  tasks: number,
  options: Required<Pick<LaunchBenchOptions, "agentResources">> & { profileDir?: string },
): Promise<Measured> {
  const profile = (who: string): string[] => {
    if (options.profileDir === undefined) return [];
    const dir = join(options.profileDir, `${build.label}-${api}-${tasks}-${who}`);
    mkdirSync(dir, { recursive: true });
    return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
  };
  const timeoutMs = 30_000 + (tasks / SLOWEST_PER_SEC) * 1000;
  const { value, leaked } = await withLaunchCluster(
    {
      bin: build.bin,
      // The executor hosts too (node refuses --cpu-prof in NODE_OPTIONS; builds before this flag ignore it).
      agentEnv:
        options.profileDir === undefined
          ? build.agentEnv
          : { ...build.agentEnv, PLATEAU_EXECUTOR_HOST_NODE_ARGS: profile("hosts").join(" ") },
      agentResources: options.agentResources,
      masterNodeArgs: profile("master"),
      agentNodeArgs: profile("agent"),
    },
    async (cluster) => {
      const before = cluster.cpu();
      const fwBefore = process.cpuUsage();
      const timing =
        api === "v2"
          ? await runV2(cluster, tasks, timeoutMs)
          : await runV1Framework(cluster.master.port, tasks, TEMPLATE, timeoutMs);
      const after = cluster.cpu();
      const fw = process.cpuUsage(fwBefore);
      const perTask = (k: keyof CpuSeconds) => ((after[k] - before[k]) * 1000) / tasks;
      return {
        timing,
        cpu: { master: perTask("master"), agent: perTask("agent"), hosts: perTask("hosts") },
        fwCpu: (fw.user + fw.system) / 1000 / tasks,
      };
    },
  );
  const { timing } = value;
  const seconds = Number((timing.allTerminalAt ?? 0n) - (timing.firstAcceptAt ?? 0n)) / 1e9;
  return {
    build: build.label,
    api,
    tasks,
    finished: timing.finished,
    failed: timing.failed,
    seconds,
    tasksPerSec: timing.finished / seconds,
    accepts: timing.accepts,
    firstRunningMs:
      timing.firstRunningAt === undefined || timing.firstAcceptAt === undefined
        ? undefined
        : Number(timing.firstRunningAt - timing.firstAcceptAt) / 1e6,
    cpuMsPerTask: value.cpu,
    frameworkCpuMsPerTask: value.fwCpu,
    problems: timing.problems,
    leaked,
  };
}

/**
 * Measures the machine's limit, then every size × API × build (builds
 * alternating innermost), then the limit again. A failed run is recorded with
 * its reason in `problems` and the others still run.
 */
export async function runLaunchBench(options: LaunchBenchOptions = {}): Promise<LaunchBenchResult> {
  const builds = options.builds ?? [{ label: "this", bin: PLATEAU_BIN }];
  const agentResources = options.agentResources ?? LAUNCH_AGENT_RESOURCES;
  const uptimeBefore = uptime();
  const before = await measureMachineLimit(options.limitSpawns);
  const runs: Measured[] = [];
  for (let round = 0; round < (options.rounds ?? 1); round++)
    for (const tasks of options.sizes ?? LAUNCH_SIZES)
      for (const api of options.apis ?? ["v2", "v1"])
        for (const build of builds) {
          try {
            runs.push(await runOne(build, api, tasks, { agentResources, profileDir: options.profileDir }));
          } catch (err) {
            runs.push(failedRun(build, api, tasks, err));
          }
          options.onRun?.(runs[runs.length - 1] as Measured);
        }
  const after = await measureMachineLimit(options.limitSpawns);
  const perSec = Math.max(before.perSec, after.perSec);
  const cpuMs = Math.min(before.cpuMsPerSpawn, after.cpuMsPerSpawn);
  const plateauCpu = (r: Measured) => r.cpuMsPerTask.master + r.cpuMsPerTask.agent + r.cpuMsPerTask.hosts;
  return {
    date: new Date().toISOString(),
    uptime: { before: uptimeBefore, after: uptime() },
    agentResources,
    limit: { before, after, perSec },
    runs: runs.map((r) => ({
      ...r,
      fractionOfLimit: r.tasksPerSec / perSec,
      cpuFractionOfLimit: r.finished === 0 ? 0 : cpuMs / plateauCpu(r),
    })),
  };
}

function failedRun(build: LaunchBuild, api: LaunchApi, tasks: number, err: unknown): Measured {
  return {
    build: build.label,
    api,
    tasks,
    finished: 0,
    failed: 0,
    seconds: 0,
    tasksPerSec: 0,
    accepts: 0,
    firstRunningMs: undefined,
    cpuMsPerTask: { master: 0, agent: 0, hosts: 0 },
    frameworkCpuMsPerTask: 0,
    problems: [`run failed: ${err instanceof Error ? err.message : String(err)}`],
    leaked: 0,
  };
}

function parseArgs(argv: string[]): LaunchBenchOptions {
  const value = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const list = (name: string): string[] | undefined => value(name)?.split(",").filter(Boolean);
  // --build=LABEL:BIN[:K=V,K=V] (BIN empty: this tree), repeatable; builds alternate in the given order.
  const builds: LaunchBuild[] = argv
    .filter((a) => a.startsWith("--build="))
    .map((a) => {
      const [label = "", bin = "", env = ""] = a.slice(8).split(":");
      const agentEnv = Object.fromEntries(
        env
          .split(",")
          .filter(Boolean)
          .map((kv) => kv.split("=")),
      );
      return { label, bin: bin || PLATEAU_BIN, agentEnv };
    });
  if (builds.length === 0) builds.push({ label: "this", bin: PLATEAU_BIN });
  return {
    sizes: list("sizes")?.map(Number),
    apis: list("apis") as LaunchApi[] | undefined,
    rounds: value("rounds") === undefined ? undefined : Number(value("rounds")),
    agentResources: value("resources"),
    limitSpawns: value("limit-spawns") === undefined ? undefined : Number(value("limit-spawns")),
    profileDir: value("profile"),
    builds,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const progress = (run: Measured): void =>
    console.error(
      `${run.build} ${run.api} ${run.tasks}: ${run.tasksPerSec.toFixed(1)} tasks/s ${run.problems.join("; ")}`,
    );
  runLaunchBench({ ...parseArgs(process.argv.slice(2)), onRun: progress }).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
