/**
 * The machine's own launch limit: how fast this Node.js process can spawn
 * `true` and reap it, with as many in flight as suits the machine best.
 * Plateau's launch rate is reported as a fraction of this, measured in the
 * same run, so the figure says how much of the machine the launch path
 * leaves on the table rather than how fast the machine is today.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { ticksPerSecond } from "./cpu.js";

/** Rate at one concurrency. */
export interface SpawnRate {
  /** 0: on the main thread; n: spread over n worker threads of the process. */
  threads: number;
  concurrency: number;
  spawns: number;
  perSec: number;
  /** CPU per spawn of the spawning process and of the reaped `true`s, ms. */
  cpuMsPerSpawn: number;
}

/** The fastest of the concurrencies tried, and all of them. */
export interface MachineLimit {
  perSec: number;
  threads: number;
  concurrency: number;
  /** CPU per spawn at that concurrency (spawner and child), ms. */
  cpuMsPerSpawn: number;
  tried: SpawnRate[];
}

/** In-flight counts tried: from one at a time to more than any core count here. */
export const LIMIT_CONCURRENCIES = [1, 2, 4, 8, 16, 32, 64];

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("true", [], { stdio: "ignore" });
    child.once("error", reject);
    // "close" would wait for stdio too; with stdio ignored "exit" is the reap.
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`true exited with ${code}`))));
  });
}

/** CPU seconds of this process and of its reaped children (utime, stime, cutime, cstime). */
function cpuWithChildren(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticksPerSecond();
}

/** Spawns and reaps `true` `spawns` times, `concurrency` at a time. */
export async function spawnRate(spawns: number, concurrency: number): Promise<SpawnRate> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < spawns) {
      started++;
      await spawnTrue();
    }
  };
  const t0 = process.hrtime.bigint();
  const cpu0 = cpuWithChildren();
  await Promise.all(Array.from({ length: Math.min(concurrency, spawns) }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMsPerSpawn = ((cpuWithChildren() - cpu0) * 1000) / spawns;
  return { threads: 0, concurrency, spawns, perSec: spawns / seconds, cpuMsPerSpawn };
}

/** Plain JS for a worker thread: spawns and reaps `n` trues, `c` at a time, then posts "done". */
const WORKER_SOURCE = `
const { spawn } = require("node:child_process");
const { parentPort, workerData: { n, c } } = require("node:worker_threads");
let started = 0;
const one = () => new Promise((resolve, reject) => {
  const child = spawn("true", [], { stdio: "ignore" });
  child.once("error", reject);
  child.once("exit", resolve);
});
const worker = async () => { while (started < n) { started++; await one(); } };
Promise.all(Array.from({ length: Math.min(c, n) }, worker)).then(() => parentPort.postMessage("done"));
`;

/**
 * The same from `threads` worker threads at once (Plateau's executor host
 * spawns on a thread of its own, so the limit may too).
 */
export async function threadedSpawnRate(spawns: number, threads: number, concurrency: number): Promise<SpawnRate> {
  const t0 = process.hrtime.bigint();
  const cpu0 = cpuWithChildren();
  const each = Math.ceil(spawns / threads);
  await Promise.all(
    Array.from({ length: threads }, async () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { n: each, c: concurrency } });
      await new Promise((resolve, reject) => worker.once("message", resolve).once("error", reject));
      await worker.terminate();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMsPerSpawn = ((cpuWithChildren() - cpu0) * 1000) / (each * threads);
  return { threads, concurrency, spawns: each * threads, perSec: (each * threads) / seconds, cpuMsPerSpawn };
}

/**
 * Tries each concurrency on the main thread, and 16 at a time on one and on
 * two worker threads, with `spawns` spawns each (after a short warm-up), and
 * keeps the fastest.
 */
export async function measureMachineLimit(spawns = 1_000, concurrencies = LIMIT_CONCURRENCIES): Promise<MachineLimit> {
  await spawnRate(50, 4);
  const tried: SpawnRate[] = [];
  for (const c of concurrencies) tried.push(await spawnRate(spawns, c));
  for (const threads of [1, 2]) tried.push(await threadedSpawnRate(spawns, threads, 16));
  const best = tried.reduce((a, b) => (b.perSec > a.perSec ? b : a));
  return {
    perSec: best.perSec,
    threads: best.threads,
    concurrency: best.concurrency,
    cpuMsPerSpawn: best.cpuMsPerSpawn,
    tried,
  };
}
