/**
 * The allocator benchmarks alone, without the process-spawning sections of
 * `npm run bench`: `node --expose-gc --import tsx bench/allocator-main.ts
 * [decline|mix|quota|nested|AGENTSxFRAMEWORKS ...]` (all of them by default).
 * Prints the figures as JSON; writes no results.
 */
import { ALLOCATOR_SIZES, runAllocatorBench } from "./allocator-bench.js";
import { runMixCase, runNestedCase, runQuotaCase } from "./allocator-scenarios.js";

const args = process.argv.slice(2);
const sizes = args
  .filter((arg) => /^\d+x\d+$/.test(arg))
  .map((arg) => {
    const [agents, frameworks] = arg.split("x").map(Number);
    if (!Number.isInteger(agents) || !Number.isInteger(frameworks))
      throw new Error(`size '${arg}' is not AGENTSxFRAMEWORKS`);
    return [agents as number, frameworks as number] as const;
  });
const all = args.length === 0;
const out: Record<string, unknown> = {};
if (all || args.includes("decline") || sizes.length > 0)
  out.decline = await runAllocatorBench(sizes.length > 0 ? sizes : ALLOCATOR_SIZES);
if (all || args.includes("mix")) out.mix = runMixCase(10_000);
if (all || args.includes("quota")) out.quota = runQuotaCase();
if (all || args.includes("nested")) out.nested = runNestedCase();
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
