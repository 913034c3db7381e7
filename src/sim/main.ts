/**
 * `npm run simulate`: runs the seeded whole-cluster simulation over many
 * seeds and prints one summary line; a failing seed prints itself, the
 * invariant it broke and the last steps before, and replays exactly with
 * `npm run simulate -- --seed=N` (same --steps). The one file of src/sim
 * that touches the process (arguments, output, exit code).
 *
 *   --seeds=N   how many seeds (1..N; default 2000)
 *   --seed=N    just this one
 *   --from=N    first seed of the range (default 1)
 *   --steps=N   steps of the fault phase per seed (default 2000)
 */
import { runSimulation, type SimResult } from "./cluster.js";

function flag(name: string): number | undefined {
  const arg = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a whole number, not ${arg}`);
  return value;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function report(result: SimResult, steps: number): void {
  const f = result.failure;
  if (f === undefined) return;
  say(`seed=${result.seed} step=${f.step} ${f.message}`);
  say(`  reproduce: npm run simulate -- --seed=${result.seed} --steps=${steps}`);
  say("  last steps:");
  for (const line of f.trace) say(`    ${line}`);
}

function main(): void {
  const steps = flag("steps") ?? 2000;
  const one = flag("seed");
  const from = flag("from") ?? 1;
  const seeds = one !== undefined ? [one] : Array.from({ length: flag("seeds") ?? 2000 }, (_, i) => from + i);
  const started = performance.now();
  let failed = 0;
  let launched = 0;
  let elections = 0;
  let totalSteps = 0;
  for (const seed of seeds) {
    const result = runSimulation({ seed, steps });
    launched += result.tasksLaunched;
    elections += result.elections;
    totalSteps += result.steps;
    if (result.failure !== undefined) {
      failed++;
      report(result, steps);
    } else if (one !== undefined) {
      say(`seed=${seed} ok: ${JSON.stringify(result)}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  say(
    `simulate: ${seeds.length} seeds, ${failed} failed; ${totalSteps} steps, ${launched} tasks launched, ${elections} elections in ${seconds.toFixed(1)} s`,
  );
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
