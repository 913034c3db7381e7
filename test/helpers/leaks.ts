/**
 * What a test file leaves behind: processes it started, ports they (or the
 * worker itself) listen on, and handles keeping the worker's event loop
 * alive. test/leak-check.ts compares a snapshot taken before a file's tests
 * with one taken after them.
 *
 * A process is the file's when it descends from the worker, or when it
 * carries the file's mark in its environment: children inherit the mark, so
 * this finds the detached processes the daemons start (the agent's executor
 * host, which outlives an agent that was SIGKILLed) after they are
 * reparented. Processes and ports are read from /proc (Linux); elsewhere
 * only handles are compared.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The environment variable that marks a file's processes; test/leak-check.ts sets it per file. */
export const LEAK_MARK = "PLATEAU_TEST_LEAK_MARK";

export interface LeakSnapshot {
  /** `pid/start time` of every process of ours but the worker. */
  readonly processes: ReadonlySet<string>;
  /** `address:port` of every listening socket of ours, the worker's included. */
  readonly ports: ReadonlySet<string>;
  /** How many active resources of each type (process.getActiveResourcesInfo()). */
  readonly handles: ReadonlyMap<string, number>;
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly key: string;
}

const HAS_PROC = existsSync("/proc/self/stat");

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

function stat(pid: number): Proc | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Zombies and dying processes hold nothing: their parent just has not reaped them.
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return { pid, ppid: Number(fields[1]), key: `${pid}/${fields[19]}` };
}

/** The worker's processes: its descendants and everything carrying `mark`, with their descendants. */
function ourProcesses(mark: string): Proc[] {
  const all = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => stat(Number(name)) ?? []);
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const marked = all.filter((p) => p.pid !== process.pid && read(`/proc/${p.pid}/environ`)?.split("\0").includes(mark));
  const found = new Map<number, Proc>();
  const walk = (p: Proc): void => {
    if (found.has(p.pid)) return;
    found.set(p.pid, p);
    for (const child of children.get(p.pid) ?? []) walk(child);
  };
  for (const child of children.get(process.pid) ?? []) walk(child);
  for (const p of marked) walk(p);
  return [...found.values()];
}

/** Listening TCP sockets by inode: `address:port`. */
function listeningSockets(): Map<string, string> {
  const sockets = new Map<string, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(file) ?? "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const [address, port] = (f[1] ?? "").split(":");
      if (f[3] !== "0A" || address === undefined || port === undefined) continue; // 0A: LISTEN
      sockets.set(f[9] ?? "", `${showAddress(address)}:${Number.parseInt(port, 16)}`);
    }
  }
  return sockets;
}

/** /proc/net/tcp writes addresses as 32-bit words in host (little-endian) order. */
function showAddress(hex: string): string {
  if (hex.length === 8)
    return (hex.match(/../g) ?? [])
      .reverse()
      .map((b) => Number.parseInt(b, 16))
      .join(".");
  if (/^0+$/.test(hex)) return "[::]";
  if (hex === "00000000000000000000000001000000") return "[::1]";
  return `[${hex}]`;
}

/** `address:port` each of `pids` listens on. */
function portsOf(pids: number[]): Map<string, number> {
  const sockets = listeningSockets();
  const ports = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = "";
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const port = sockets.get(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? "");
      if (port !== undefined) ports.set(port, pid);
    }
  }
  return ports;
}

function handles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

function commandLine(pid: number): string {
  const cmdline = read(`/proc/${pid}/cmdline`)?.split("\0").filter(Boolean).join(" ");
  return cmdline === undefined || cmdline === "" ? "(gone)" : cmdline.slice(0, 300);
}

export function takeSnapshot(mark: string): LeakSnapshot {
  const procs = HAS_PROC ? ourProcesses(mark) : [];
  return {
    processes: new Set(procs.map((p) => p.key)),
    ports: new Set(HAS_PROC ? portsOf([process.pid, ...procs.map((p) => p.pid)]).keys() : []),
    handles: handles(),
  };
}

export interface Leaks {
  /** One line per leak, for the failure message. */
  readonly lines: string[];
  /** The leaked processes, so the check can end them and spare the next files. */
  readonly pids: number[];
  /** The types of the leaked handles. */
  readonly handleTypes: string[];
}

/** What is there now and was not in `before`. */
export function findLeaks(before: LeakSnapshot, mark: string): Leaks {
  const lines: string[] = [];
  const procs = HAS_PROC ? ourProcesses(mark).filter((p) => !before.processes.has(p.key)) : [];
  for (const p of procs) lines.push(`process ${p.pid} (parent ${p.ppid}): ${commandLine(p.pid)}`);
  const ports = HAS_PROC ? portsOf([process.pid, ...procs.map((p) => p.pid)]) : new Map<string, number>();
  for (const [port, pid] of ports) {
    if (before.ports.has(port)) continue;
    lines.push(`listening port ${port} in ${pid === process.pid ? "the test worker itself" : `process ${pid}`}`);
  }
  const handleTypes: string[] = [];
  for (const [type, count] of handles()) {
    const was = before.handles.get(type) ?? 0;
    if (count <= was) continue;
    handleTypes.push(type);
    lines.push(`open handle: ${count - was} × ${type} (${was} before the file's tests)`);
  }
  return { lines, pids: procs.map((p) => p.pid), handleTypes };
}
