/**
 * A one-agent cluster for the launch benchmark: `plateau master` and
 * `plateau agent` as two processes of a given build, with the CPU each of
 * them (and the agent's executor hosts) spent during a run.
 *
 * Everything is taken down afterwards, on failure too: the daemons, then by
 * pid whatever the agent started that is still alive (counted as leaked).
 */

import { readFileSync } from "node:fs";
import { type Daemon, ProcessScope } from "../test/helpers/processes.js";
import { cpuTicks, ticksPerSecond } from "./cpu.js";
import { agentProcesses, type ProcIdentity, snapshotBelowAgent, stopAndSweep } from "./proc.js";

/** What a run can see of its cluster. */
export interface LaunchCluster {
  master: Daemon;
  agent: Daemon;
  workDir: string;
  /** CPU seconds used so far by the master, the agent and the agent's executor hosts. */
  cpu(): CpuSeconds;
}

export interface CpuSeconds {
  master: number;
  agent: number;
  /** Everything below the agent (executor hosts, their spawners), with the tasks they reaped (cutime/cstime). */
  hosts: number;
}

export interface ClusterOptions {
  /** `bin/plateau.js` of the build to run. */
  bin?: string;
  agentResources: string;
  agentEnv?: Record<string, string>;
  /** Extra node flags per daemon (e.g. `--cpu-prof`). */
  masterNodeArgs?: string[];
  agentNodeArgs?: string[];
}

/** utime+stime+cutime+cstime: a host's own CPU and that of the tasks it reaped. */
function ticksWithChildren(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** Starts a cluster, runs `body`, takes it all down; returns body's value and how many processes leaked. */
export async function withLaunchCluster<T>(
  options: ClusterOptions,
  body: (cluster: LaunchCluster) => Promise<T>,
): Promise<{ value: T; leaked: number }> {
  const scope = new ProcessScope(options.bin);
  let seen: ProcIdentity[] = [];
  let cluster: LaunchCluster | undefined;
  try {
    const dir = scope.tempDir("plateau-launch-");
    const master = await scope.start(
      ["master", "--port", "0", "--work-dir", `${dir}/master`],
      "master listening",
      {},
      options.masterNodeArgs,
    );
    const workDir = `${dir}/agent`;
    const agent = await scope.start(
      [
        "agent",
        ...["--master", `127.0.0.1:${master.port}`, "--port", "0", "--work-dir", workDir],
        ...["--resources", options.agentResources],
      ],
      "agent listening",
      options.agentEnv ?? {},
      options.agentNodeArgs,
    );
    const hz = ticksPerSecond();
    cluster = {
      master,
      agent,
      workDir,
      cpu: () => ({
        master: (cpuTicks(master.process.pid) ?? 0) / hz,
        agent: (cpuTicks(agent.process.pid) ?? 0) / hz,
        // Live descendants only: a reaped one is in its parent's cutime already.
        hosts:
          agentProcesses(agent.process.pid ?? 0, workDir).reduce((sum, pid) => sum + ticksWithChildren(pid), 0) / hz,
      }),
    };
    const value = await body(cluster);
    seen = snapshotBelowAgent(cluster);
    return { value, leaked: await stopAndSweep(scope, seen) };
  } catch (err) {
    if (cluster !== undefined) seen = snapshotBelowAgent(cluster);
    await stopAndSweep(scope, seen);
    throw err;
  }
}
