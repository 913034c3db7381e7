import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const PLATEAU_BIN = join(ROOT, "bin", "plateau.js");

export interface Daemon {
  readonly process: ChildProcess;
  readonly port: number;
  /** Everything the process wrote to stderr (pino JSON lines) so far. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Owns what a test starts (processes and temp dirs) and takes all of it down
 * in `cleanup`, which tests call from afterEach/afterAll so a failing test
 * leaves nothing behind.
 */
export class ProcessScope {
  private readonly daemons: Daemon[] = [];
  private readonly dirs: string[] = [];

  /** `bin`: another build's `bin/plateau.js` (benchmarks compare two builds in one run). */
  constructor(private readonly bin = PLATEAU_BIN) {}

  tempDir(prefix = "plateau-test-"): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /**
   * Starts `plateau <args>` and waits for the log line that reports its
   * port. `nodeArgs` go to node itself (e.g. `--cpu-prof`, which
   * NODE_OPTIONS does not allow). `bin` runs another build (a bench's
   * "before" side).
   */
  async start(
    args: string[],
    listeningMsg: string,
    env: NodeJS.ProcessEnv = {},
    nodeArgs: string[] = [],
    bin: string = this.bin,
  ): Promise<Daemon> {
    const child = spawn(process.execPath, [...nodeArgs, bin, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    const port = await new Promise<number>((resolvePort, reject) => {
      // A daemon that never said it listens is still ours to end: nothing else holds it.
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        const error = new Error(`timed out waiting for '${listeningMsg}': ${stderr}${stdout}`);
        void stopProcess(child).finally(() => reject(error));
      }, 20_000);
      child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
        for (const line of stderr.split("\n")) {
          if (!line.includes(listeningMsg)) continue;
          try {
            const parsed = JSON.parse(line) as { port?: number };
            if (typeof parsed.port === "number") {
              clearTimeout(timer);
              resolvePort(parsed.port);
            }
          } catch {
            // a partial line; wait for the rest
          }
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        if (!timedOut) reject(new Error(`plateau ${args[0]} exited with ${code}: ${stderr}${stdout}`));
      });
    });
    const daemon: Daemon = {
      process: child,
      port,
      logs: () => stderr,
      stop: () => stopProcess(child),
    };
    this.daemons.push(daemon);
    return daemon;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.splice(0).map((d) => d.stop()));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL if the process is still there after a grace period. */
export async function stopProcess(child: ChildProcess, graceMs = 8_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** A loopback port that was free a moment ago (for a process that must come back on the same one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
