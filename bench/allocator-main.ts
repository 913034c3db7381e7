/**
 * The allocator benchmarks alone, without the process-spawning sections of
 * `npm run bench`: `node --expose-gc --import tsx bench/allocator-main.ts
 * [AGENTSxFRAMEWORKS ...]`. Prints the figures as JSON; writes no results.
 */
import { ALLOCATOR_SIZES, runAllocatorBench } from "./allocator-bench.js";

const sizes = process.argv.slice(2).map((arg) => {
  const [agents, frameworks] = arg.split("x").map(Number);
  if (!Number.isInteger(agents) || !Number.isInteger(frameworks)) throw new Error(`size '${arg}' is not AGENTSxFRAMEWORKS`);
  return [agents as number, frameworks as number] as const;
});

const results = await runAllocatorBench(sizes.length > 0 ? sizes : ALLOCATOR_SIZES);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
