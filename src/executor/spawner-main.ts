/**
 * The executor host's spawner process (see spawner.ts): opens a task's
 * stdout and stderr in its sandbox, spawns the command as its own process
 * group, reaps it, and reports the pid, a failure to start, and the exit.
 * It ends with its host (the IPC channel closes); the host ends only once
 * its tasks have been reaped.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { SpawnReport, SpawnRequest } from "./spawner.js";

if (process.send === undefined) throw new Error("spawner-main.ts runs only as the executor host's child, with IPC");
const report = (message: SpawnReport): void => {
  if (process.connected) process.send?.(message);
};

function start({ id, task }: SpawnRequest): void {
  let out: number | undefined;
  let err: number | undefined;
  try {
    out = openSync(join(task.cwd, "stdout"), "a");
    err = openSync(join(task.cwd, "stderr"), "a");
    const child = spawn(task.file, task.args, {
      argv0: task.argv0,
      cwd: task.cwd,
      env: task.env,
      detached: true,
      stdio: ["ignore", out, err],
    });
    // pid is set once fork succeeded; "spawn" would wait a turn for nothing.
    if (child.pid !== undefined) report({ id, kind: "spawn", pid: child.pid });
    child.once("error", (e) => report({ id, kind: "error", message: e.message }));
    child.once("exit", (code, signal) => report({ id, kind: "exit", code, signal }));
  } catch (e) {
    report({ id, kind: "error", message: (e as Error).message });
  } finally {
    if (out !== undefined) closeSync(out);
    if (err !== undefined) closeSync(err);
  }
}

process.on("message", start);
process.on("disconnect", () => process.exit(0));
