/**
 * Sections 2 and 3: task throughput and memory per running task, each on a
 * fresh cluster (`plateau master --port 0` and `plateau agent --port 0` as two
 * processes, so the agent's memory is its own).
 */

import { TaskState } from "../gen/mesos/v1/mesos_pb.js";
import { type Daemon, ProcessScope } from "../test/helpers/processes.js";
import { BenchFramework } from "./framework.js";
import {
  agentProcesses,
  memoryOf,
  type ProcIdentity,
  type ProcMemory,
  snapshotBelowAgent,
  stopAndSweep,
} from "./proc.js";

/** Big enough for 200 tasks of 0.1 cpus and 32 MB at once. */
export const AGENT_RESOURCES = "cpus:64;mem:65536;disk:100000;ports:[31000-32000]";
export const THROUGHPUT_TASKS = 200;
export const MEMORY_TASKS = 100;

export interface ThroughputResult {
  tasks: number;
  finished: number;
  failed: number;
  seconds: number;
  /** First ACCEPT → first TASK_RUNNING, ms (undefined if no task ever ran). */
  firstRunningMs: number | undefined;
  tasksPerSec: number;
  problems: string[];
  /** Processes still alive after the cluster stopped (killed by pid). */
  leaked: number;
}

export interface MemoryResult {
  tasks: number;
  running: number;
  processes: number;
  totalRssKb: number;
  perTaskRssKb: number;
  totalPssKb: number | undefined;
  perTaskPssKb: number | undefined;
  agentRssKb: number;
  agentPssKb: number | undefined;
  /** The biggest processes, for the report's notes. */
  top: ProcMemory[];
  /** Processes still alive after the cluster stopped (killed by pid). */
  leaked: number;
}

interface Cluster {
  master: Daemon;
  agent: Daemon;
  workDir: string;
}

/**
 * Starts a cluster, runs `body` on it, and takes everything down: the
 * framework (torn down by `body`'s finally), then agent and master, then by
 * pid whatever the agent had started and is still alive (a leak, counted).
 * This happens on failure too, so nothing outlives the benchmark.
 */
async function withCluster<T>(body: (cluster: Cluster) => Promise<T>): Promise<{ value: T; leaked: number }> {
  const scope = new ProcessScope();
  let seen: ProcIdentity[] = [];
  let cluster: Cluster | undefined;
  try {
    const dir = scope.tempDir("plateau-bench-");
    const master = await scope.start(["master", "--port", "0", "--work-dir", `${dir}/master`], "master listening");
    const workDir = `${dir}/agent`;
    const agent = await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        workDir,
        "--resources",
        AGENT_RESOURCES,
      ],
      "agent listening",
    );
    cluster = { master, agent, workDir };
    const value = await body(cluster);
    seen = snapshotBelowAgent(cluster);
    return { value, leaked: await stopAndSweep(scope, seen) };
  } catch (err) {
    if (cluster !== undefined) seen = snapshotBelowAgent(cluster);
    await stopAndSweep(scope, seen);
    throw err;
  }
}

/** Runs `count` `true` tasks and times first ACCEPT → last terminal update. */
export async function runThroughputBench(): Promise<ThroughputResult> {
  const { value, leaked } = await withCluster(async (cluster) => {
    const fw = new BenchFramework(
      `127.0.0.1:${cluster.master.port}`,
      { namePrefix: "true", argv: ["true"], needs: { cpus: 0.1, mem: 32 } },
      THROUGHPUT_TASKS,
    );
    try {
      await fw.waitUntil(() => fw.allTerminalAt !== undefined, `${THROUGHPUT_TASKS} terminal updates`);
      const seconds = Number((fw.allTerminalAt ?? 0n) - (fw.firstAcceptAt ?? 0n)) / 1e9;
      return {
        tasks: THROUGHPUT_TASKS,
        finished: fw.finished,
        failed: fw.failed,
        seconds,
        firstRunningMs:
          fw.firstRunningAt === undefined ? undefined : Number(fw.firstRunningAt - (fw.firstAcceptAt ?? 0n)) / 1e6,
        tasksPerSec: fw.finished / seconds,
        problems: fw.problems,
      };
    } finally {
      await fw.teardown().catch(() => undefined);
    }
  });
  return { ...value, leaked };
}

function sum(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : values.reduce<number>((a, v) => a + (v ?? 0), 0);
}

/** Runs `count` `sleep 60` tasks, and once all run, sums the memory of the agent's processes. */
export async function runMemoryBench(): Promise<MemoryResult> {
  const { value, leaked } = await withCluster(async (cluster) => {
    const agentPid = cluster.agent.process.pid;
    if (agentPid === undefined) throw new Error("the agent process has no pid");
    const fw = new BenchFramework(
      `127.0.0.1:${cluster.master.port}`,
      { namePrefix: "sleep", argv: ["sleep", "60"], needs: { cpus: 0.1, mem: 32 } },
      MEMORY_TASKS,
    );
    try {
      await fw.waitUntil(
        () => fw.countIn(TaskState.TASK_RUNNING) === MEMORY_TASKS || fw.failed > 0,
        `${MEMORY_TASKS} TASK_RUNNING`,
      );
      if (fw.failed > 0) throw new Error(`${fw.failed} tasks ended before all ran: ${fw.problems.join("; ")}`);
      // Let the executors settle (lazy allocations after the first status update).
      await new Promise((r) => setTimeout(r, 2_000));
      return measureAgent(agentPid, cluster.workDir, fw.countIn(TaskState.TASK_RUNNING));
    } finally {
      await fw.teardown().catch(() => undefined);
    }
  });
  return { ...value, leaked };
}

function measureAgent(agentPid: number, workDir: string, running: number): Omit<MemoryResult, "leaked"> {
  const procs = agentProcesses(agentPid, workDir).flatMap((pid) => memoryOf(pid) ?? []);
  const agent = memoryOf(agentPid);
  if (agent === undefined) throw new Error("the agent process is gone");
  const totalRssKb = procs.reduce((a, p) => a + p.rssKb, 0);
  const totalPssKb = sum(procs.map((p) => p.pssKb));
  return {
    tasks: MEMORY_TASKS,
    running,
    processes: procs.length,
    totalRssKb,
    perTaskRssKb: totalRssKb / MEMORY_TASKS,
    totalPssKb,
    perTaskPssKb: totalPssKb === undefined ? undefined : totalPssKb / MEMORY_TASKS,
    agentRssKb: agent.rssKb,
    agentPssKb: agent.pssKb,
    top: [...procs].sort((a, b) => b.rssKb - a.rssKb).slice(0, 3),
  };
}
