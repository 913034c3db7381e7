/**
 * The machine's own launch limit: how fast this Node.js process can spawn
 * `true` and reap it, with as many in flight as suits the machine best.
 * Plateau's launch rate is reported as a fraction of this, measured in the
 * same run, so the figure says how much of the machine the launch path
 * leaves on the table rather than how fast the machine is today.
 */
import { spawn } from "node:child_process";

/** Rate at one concurrency. */
export interface SpawnRate {
  concurrency: number;
  spawns: number;
  perSec: number;
}

/** The fastest of the concurrencies tried, and all of them. */
export interface MachineLimit {
  perSec: number;
  concurrency: number;
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
  await Promise.all(Array.from({ length: Math.min(concurrency, spawns) }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { concurrency, spawns, perSec: spawns / seconds };
}

/**
 * Tries each concurrency with `spawns` spawns (after a short warm-up) and
 * keeps the fastest.
 */
export async function measureMachineLimit(spawns = 1_000, concurrencies = LIMIT_CONCURRENCIES): Promise<MachineLimit> {
  await spawnRate(50, 4);
  const tried: SpawnRate[] = [];
  for (const c of concurrencies) tried.push(await spawnRate(spawns, c));
  const best = tried.reduce((a, b) => (b.perSec > a.perSec ? b : a));
  return { perSec: best.perSec, concurrency: best.concurrency, tried };
}
