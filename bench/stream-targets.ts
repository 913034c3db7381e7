/**
 * The servers the stream benchmark talks to, each in its own process: the
 * bare connect-node echo (echo-server.ts) and `plateau master` built from a
 * given tree (this one, or an older checkout for a before/after run).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, stopProcess } from "../test/helpers/processes.js";

/** A running server: where to reach it, and how to stop it. */
export interface StreamTarget {
  readonly baseUrl: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Spawns `args` with node and resolves once a line of its output matches
 * `portLine` (whose first group is the port); rejects if it exits first.
 */
async function spawnServer(args: string[], cwd: string, portLine: RegExp): Promise<StreamTarget> {
  const child: ChildProcess = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 20_000);
      const onData = (d: Buffer): void => {
        output += d.toString();
        const match = portLine.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${output}`));
      });
    });
    return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopProcess(child, 5_000) };
  } catch (err) {
    await stopProcess(child, 2_000);
    throw err;
  }
}

/** bench/echo-server.ts of this tree. */
export function startEchoServer(nodeArgs: string[] = []): Promise<StreamTarget> {
  return spawnServer([...nodeArgs, "--import", "tsx", join(ROOT, "bench", "echo-server.ts")], ROOT, /\{"port":(\d+)\}/);
}

/**
 * `plateau master --port 0` from the tree at `root` (built: its dist/ is
 * what bin/plateau.js runs). Log level info, not debug: a log line per call
 * would measure pino rather than the stream.
 */
export function startMasterAt(root: string = ROOT, nodeArgs: string[] = []): Promise<StreamTarget> {
  return spawnServer(
    [...nodeArgs, join(root, "bin", "plateau.js"), "master", "--port", "0", "--log-level", "info"],
    root,
    /"port":(\d+)[^\n]*"msg":"master listening"/,
  );
}
