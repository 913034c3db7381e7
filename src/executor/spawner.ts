/**
 * Where the executor host's tasks are spawned: a small process of its own
 * (src/executor/spawner-main.ts), child of the host, parent of the tasks.
 *
 * Why: Node forks (no vfork) and a spawn blocks until the child has exec'd.
 * Forking the host costs with its size (page tables of a few hundred MB with
 * hundreds of executors) and every page the host writes before the child
 * execs is copied. A profile of the host launching 1,000 `true` tasks showed
 * 40% of its time inside spawn(), every executor's stream waiting behind it;
 * spawning from a thread of the host only moved the wait (that thread was 88%
 * busy, and the main thread's writes paid for copy-on-write). Measured apart:
 * a 54 MB Node process spawns about 130 `true`/s where a 200 MB one manages
 * 75/s, and 27-44/s while its main thread allocates. The spawner stays small
 * and idle but for spawning; the host only sends requests and hears back.
 *
 *   spawn(task) ──► spawner: open stdout/stderr, spawn (own process group)
 *                     ├─► "spawn" pid   (the task runs; signals go to -pid)
 *                     ├─► "error"       (never started)
 *                     └─► "exit"        code / signal, once reaped
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What to run and where; `cwd` is the sandbox, where stdout and stderr go. */
export interface TaskCommand {
  file: string;
  args: string[];
  argv0: string;
  cwd: string;
  env: Record<string, string>;
}

/** Host → spawner. */
export interface SpawnRequest {
  id: number;
  task: TaskCommand;
}

/** Spawner → host. */
export type SpawnReport =
  | { id: number; kind: "spawn"; pid: number }
  | { id: number; kind: "error"; message: string }
  | { id: number; kind: "exit"; code: number | null; signal: NodeJS.Signals | null };

/** What becomes of one spawn; each handler fires at most once, `onSpawn` or `onError` first. */
export interface SpawnHandlers {
  onSpawn(pid: number): void;
  onError(message: string): void;
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface Spawner {
  spawn(task: TaskCommand, handlers: SpawnHandlers): void;
  /** Ends the spawner (it is killed if it has not exited within a second) and resolves once it is reaped. */
  close(): Promise<void>;
}

/**
 * Starts the spawner process. It exits when the host does (its IPC channel
 * closes; the host always ends by process.exit), and the host exits only
 * after its executors, which wait for their tasks' exits, so no task is
 * left unreaped behind a running host.
 */
export function createSpawner(): Spawner {
  const child = fork(fileURLToPath(new URL("./spawner-main.js", import.meta.url)), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    execArgv: [],
  });
  const waiting = new Map<number, SpawnHandlers>();
  let next = 0;
  let broken: string | undefined;
  child.on("message", (report: SpawnReport) => {
    const handlers = waiting.get(report.id);
    if (handlers === undefined) return;
    if (report.kind === "spawn") return handlers.onSpawn(report.pid);
    waiting.delete(report.id);
    if (report.kind === "error") handlers.onError(report.message);
    else handlers.onExit(report.code, report.signal);
  });
  // The spawner dies only with a bug in it or by an outside kill: the tasks
  // it was asked for can neither start nor be reaped by it any more.
  child.once("exit", (code, signal) => {
    broken = `the spawner process ended (${signal ?? `status ${code}`})`;
    for (const handlers of waiting.values()) handlers.onError(broken);
    waiting.clear();
  });
  return {
    spawn(task, handlers) {
      if (broken !== undefined) return void queueMicrotask(() => handlers.onError(broken ?? ""));
      const id = next++;
      waiting.set(id, handlers);
      child.send({ id, task } satisfies SpawnRequest);
    },
    close() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      if (child.connected) child.disconnect();
      const kill = setTimeout(() => child.kill("SIGKILL"), 1_000);
      return exited.finally(() => clearTimeout(kill));
    },
  };
}
