/**
 * Reading /proc (Linux): the processes an agent started and their memory.
 *
 * A process belongs to the agent when it descends from the agent's process
 * (ppid chain), or, should an executor host have been started detached and
 * reparented, when its working directory or environment points into the
 * agent's work dir. Processes vanish while we read: every read tolerates it.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** One process and its memory, in kB. */
export interface ProcMemory {
  pid: number;
  command: string;
  rssKb: number;
  /** Proportional set size: shared pages divided among their sharers. */
  pssKb: number | undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** ppid and start time (clock ticks since boot) from /proc/<pid>/stat. */
export function statOf(pid: number): { ppid: number; startTime: string } | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name: state(3) ppid(4) ... starttime(22).
  return { ppid: Number(fields[1]), startTime: fields[19] ?? "" };
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function pointsInto(pid: number, dir: string): boolean {
  try {
    if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) return true;
  } catch {
    // gone, or not ours
  }
  const environ = read(`/proc/${pid}/environ`);
  return environ?.includes(dir) === true;
}

/**
 * Every process descended from `root` (excluding `root`), plus any process
 * outside that tree whose cwd or environment points into `workDir`.
 */
export function agentProcesses(root: number, workDir: string): number[] {
  const children = new Map<number, number[]>();
  const pids = allPids();
  for (const pid of pids) {
    const stat = statOf(pid);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const found = new Set<number>();
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  for (const pid of pids) {
    if (pid === root || found.has(pid) || pid === process.pid) continue;
    if (pointsInto(pid, workDir)) found.add(pid);
  }
  return [...found].sort((a, b) => a - b);
}

function kbField(text: string | undefined, field: string): number | undefined {
  const match = text === undefined ? null : new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** RSS (VmRSS) and PSS of `pid`; undefined if it has exited. */
export function memoryOf(pid: number): ProcMemory | undefined {
  const rssKb = kbField(read(`/proc/${pid}/status`), "VmRSS");
  if (rssKb === undefined) return undefined;
  const pssKb = kbField(read(`/proc/${pid}/smaps_rollup`), "Pss");
  const command = (read(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean).join(" ");
  return { pid, command, rssKb, pssKb };
}

/** Identity of a process that survives pid reuse: pid plus start time. */
export interface ProcIdentity {
  pid: number;
  startTime: string;
}

export function identify(pids: number[]): ProcIdentity[] {
  return pids.flatMap((pid) => {
    const stat = statOf(pid);
    return stat === undefined ? [] : [{ pid, startTime: stat.startTime }];
  });
}

/**
 * SIGKILLs those of `procs` that are still alive and are still the same
 * process (same start time); returns how many it had to kill. Used after the
 * cluster has stopped, so a leaked task never outlives the benchmark.
 */
export function killSurvivors(procs: ProcIdentity[]): number {
  let killed = 0;
  for (const { pid, startTime } of procs) {
    if (statOf(pid)?.startTime !== startTime) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

let clockTicks: number | undefined;

/** CPU time (user + system) `pid` has used so far, in microseconds. */
export function cpuTimeUs(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime(14) and stime(15), counted from field 3.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return (ticks / clockTicks) * 1e6;
}

/** Who is running below the agent now, to find the ones that outlive it. */
export function snapshotBelowAgent(cluster: { agent: { process: { pid?: number } }; workDir: string }): ProcIdentity[] {
  const pid = cluster.agent.process.pid;
  return pid === undefined ? [] : identify(agentProcesses(pid, cluster.workDir));
}

/** Stops the cluster, then kills by pid what outlived it; returns how many did. */
export async function stopAndSweep(scope: { cleanup(): Promise<void> }, seen: ProcIdentity[]): Promise<number> {
  await scope.cleanup();
  // Orphans get a moment to exit before the survivors are killed by pid.
  await new Promise((r) => setTimeout(r, 500));
  return killSurvivors(seen);
}
