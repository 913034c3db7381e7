/**
 * A throwaway etcd for integration tests: Debian's etcd-server binary on
 * free loopback ports (never 2379/2380) with a temp data dir. The test owns
 * it: `cleanup()` (from afterEach) kills it by PID and removes its dir even
 * when the test failed halfway, paused or stopped.
 *
 *   start() ──> running ──pause()──> paused ──resume()──> running
 *                  │  ▲                                      
 *      stop()/kill()  └──restart() (same data dir and ports)
 *                  ▼
 *               stopped ──cleanup()──> gone
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD_BIN = "/usr/bin/etcd";
export const ETCD_PACKAGE = "etcd-server";

/**
 * Children still running when the worker exits (a crashed test run, a
 * forgotten cleanup): killed by PID so no etcd outlives its test file.
 */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A port the kernel just handed out on 127.0.0.1: ephemeral, so never 2379/2380. */
function freePort(): Promise<number> {
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

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

/** etcd reads ETCD_* variables as flags: keep the caller's out of ours. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("ETCD_")));
}

export class EtcdServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  private output = "";

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
  ) {}

  /** Starts etcd on fresh ports and waits until it answers. */
  static async start(): Promise<EtcdServer> {
    let lastError: unknown;
    // Another process may take a port between freePort() and etcd's bind.
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new EtcdServer(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), "plateau-etcd-")));
      try {
        await server.launch();
        return server;
      } catch (err) {
        lastError = err;
        await server.cleanup();
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** host:port, as the etcd client takes it. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get clientUrl(): string {
    return `http://${this.endpoint}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What etcd wrote so far (the last 64 KiB), for failure messages. */
  logs(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BIN,
      [
        "--name=plateau-test",
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${this.clientUrl}`,
        `--advertise-client-urls=${this.clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=plateau-test=${peerUrl}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=warn",
      ],
      { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    this.paused = false;
    live.add(child);
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-65_536);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        live.delete(child);
        resolve();
      }),
    );
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + 30_000;
    while (!(await healthy(this.clientUrl))) {
      if (gone) throw new Error(`etcd exited during start (exit ${child.exitCode ?? child.signalCode}):\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`etcd did not answer on ${this.clientUrl}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private running(): ChildProcess | undefined {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null ? child : undefined;
  }

  /** SIGTERM, and waits for it to exit (SIGKILL after a grace period). */
  async stop(): Promise<void> {
    const child = this.running();
    if (child === undefined) return;
    this.resume();
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL: a crash, as far as etcd's data dir is concerned. */
  async kill(): Promise<void> {
    const child = this.running();
    if (child === undefined) return;
    child.kill("SIGKILL");
    await this.exited;
    this.paused = false;
  }

  /** SIGSTOP: etcd keeps its sockets but answers nothing until resume(). */
  pause(): void {
    const child = this.running();
    if (child === undefined || this.paused) return;
    child.kill("SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    const child = this.running();
    if (child === undefined || !this.paused) return;
    child.kill("SIGCONT");
    this.paused = false;
  }

  /** Stops etcd if it runs, then starts it again on the same data dir and ports. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Kills etcd (by its PID) if it still runs and removes its data dir. Safe to call twice. */
  async cleanup(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Every etcd a test file started, so one afterEach takes them all down. */
export class EtcdScope {
  private readonly servers: EtcdServer[] = [];

  async start(): Promise<EtcdServer> {
    const server = await EtcdServer.start();
    this.servers.push(server);
    return server;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.cleanup()));
  }
}
