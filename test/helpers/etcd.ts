/**
 * A throwaway etcd for integration tests: Debian's etcd-server binary on
 * free loopback ports (never 2379/2380) with a temp data dir, optionally
 * serving TLS with throwaway certificates. The test owns
 * it: `cleanup()` (from afterEach) kills it by PID and removes its dir even
 * when the test failed halfway, paused or stopped.
 *
 *   start() ──> running ──pause()──> paused ──resume()──> running
 *                  │  ▲
 *      stop()/kill()  └──restart() (same data dir and ports)
 *                  ▼
 *               stopped ──cleanup()──> gone
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ETCD_BIN, etcdMissing } from "./etcd-bin.js";
import { freePort } from "./processes.js";

/**
 * Children still running when the worker exits (a crashed test run, a
 * forgotten cleanup): killed by PID so no etcd outlives its test file.
 */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** PEM files for an etcd that serves TLS and asks clients for certificates signed by `caFile`. */
export interface EtcdTestCertificates {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** A client certificate and key signed by the same CA. */
  readonly certFile: string;
  readonly keyFile: string;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(`openssl ${args.join(" ")} failed: ${result.error?.message ?? result.stderr}`);
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
export function makeTestCertificates(dir: string): EtcdTestCertificates {
  mkdirSync(dir, { recursive: true });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, [
    "req",
    "-x509",
    ...key,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=plateau-test-ca",
  ]);
  for (const [name, usage] of [
    ["server", "serverAuth"],
    ["client", "clientAuth"],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    openssl(dir, ["req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=plateau-test-${name}`]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
  }
  return {
    caFile: join(dir, "ca.crt"),
    serverCertFile: join(dir, "server.crt"),
    serverKeyFile: join(dir, "server.key"),
    certFile: join(dir, "client.crt"),
    keyFile: join(dir, "client.key"),
  };
}

function getJson(url: string, tls: EtcdTestCertificates | undefined): Promise<unknown> {
  if (tls === undefined) return fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.json());
  // fetch cannot present a client certificate; node:https can.
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        timeout: 2_000,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => {
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function healthy(clientUrl: string, tls: EtcdTestCertificates | undefined): Promise<boolean> {
  try {
    const body = (await getJson(`${clientUrl}/health`, tls)) as { health?: string };
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

  readonly dataDir: string;
  /** Set when started with `{ tls: true }`: etcd serves TLS and requires these client certificates. */
  readonly tls: EtcdTestCertificates | undefined;

  /** `name=peerUrl,...` of every member; set before the first launch. */
  private initialCluster = "";

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    /** Holds the data dir and any certificates; removed by cleanup(). */
    readonly rootDir: string,
    tls: boolean,
    readonly name: string,
  ) {
    this.dataDir = join(rootDir, "data");
    this.tls = tls ? makeTestCertificates(join(rootDir, "certs")) : undefined;
  }

  private get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  /** Throws, never skips: a run without etcd must not pass for one with it. */
  private static available(): void {
    const missing = etcdMissing();
    if (missing !== undefined) throw new Error(missing);
  }

  private static async create(tls: boolean, name: string): Promise<EtcdServer> {
    const rootDir = mkdtempSync(join(tmpdir(), "plateau-etcd-"));
    try {
      return new EtcdServer(await freePort(), await freePort(), rootDir, tls, name);
    } catch (err) {
      rmSync(rootDir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Starts the members together (a new cluster answers only once a quorum
   * is up) and waits until each answers. Another process may take a port
   * between freePort() and etcd's bind: then it all starts over.
   */
  private static async launchAll(make: () => Promise<EtcdServer[]>): Promise<EtcdServer[]> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const members = await make();
      const cluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
      for (const member of members) member.initialCluster = cluster;
      const launched = await Promise.allSettled(members.map((m) => m.launch()));
      const failed = launched.find((r) => r.status === "rejected");
      if (failed === undefined) return members;
      lastError = failed.reason;
      await Promise.all(members.map((m) => m.cleanup()));
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** Starts etcd on fresh ports and waits until it answers; `tls` makes it serve TLS to clients with certificates only. */
  static async start(options: { tls?: boolean } = {}): Promise<EtcdServer> {
    EtcdServer.available();
    const [server] = await EtcdServer.launchAll(async () => [
      await EtcdServer.create(options.tls === true, "plateau-test"),
    ]);
    if (server === undefined) throw new Error("no etcd started");
    return server;
  }

  /** Starts a cluster of `size` members, each on its own ports and data dir. */
  static async startCluster(size: number): Promise<EtcdServer[]> {
    EtcdServer.available();
    return EtcdServer.launchAll(async () => {
      const members: EtcdServer[] = [];
      try {
        for (let i = 0; i < size; i++) members.push(await EtcdServer.create(false, `plateau-test-${i}`));
      } catch (err) {
        await Promise.all(members.map((m) => m.cleanup()));
        throw err;
      }
      return members;
    });
  }

  /** host:port, as the etcd client takes it. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get clientUrl(): string {
    return `${this.tls === undefined ? "http" : "https"}://${this.endpoint}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What etcd wrote so far (the last 64 KiB), for failure messages. */
  logs(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    const child = spawn(
      ETCD_BIN,
      [
        `--name=${this.name}`,
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${this.clientUrl}`,
        `--advertise-client-urls=${this.clientUrl}`,
        `--listen-peer-urls=${this.peerUrl}`,
        `--initial-advertise-peer-urls=${this.peerUrl}`,
        `--initial-cluster=${this.initialCluster}`,
        // A fresh token per cluster, so members of two test clusters can
        // never join each other even if a port is reused.
        `--initial-cluster-token=${this.initialCluster}`,
        "--initial-cluster-state=new",
        ...(this.tls === undefined
          ? []
          : [
              `--cert-file=${this.tls.serverCertFile}`,
              `--key-file=${this.tls.serverKeyFile}`,
              `--trusted-ca-file=${this.tls.caFile}`,
              "--client-cert-auth",
            ]),
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
    while (!(await healthy(this.clientUrl, this.tls))) {
      if (gone)
        throw new Error(`etcd exited during start (exit ${child.exitCode ?? child.signalCode}):\n${this.output}`);
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

  /** Kills etcd (by its PID) if it still runs and removes its data dir and certificates. Safe to call twice. */
  async cleanup(): Promise<void> {
    await this.kill();
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/** Every etcd a test file started, so one afterEach takes them all down. */
export class EtcdScope {
  private readonly servers: EtcdServer[] = [];

  async start(options: { tls?: boolean } = {}): Promise<EtcdServer> {
    const server = await EtcdServer.start(options);
    this.servers.push(server);
    return server;
  }

  async startCluster(size: number): Promise<EtcdServer[]> {
    const members = await EtcdServer.startCluster(size);
    this.servers.push(...members);
    return members;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.cleanup()));
  }
}
