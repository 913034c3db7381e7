/**
 * The allocator at the sizes of issue 15, for `npm run bench -- --only=scale`:
 * Mesos' DeclineOffers shape (see allocator-bench.ts) at 10,000 agents ×
 * 1,000 frameworks, with a target of 100 ms per cycle (about a tenth of Mesos
 * 1.8's published figure), and at 40,000 agents × 4,000 frameworks, with
 * the time per cycle and the heap. Runs alone with
 * `node --expose-gc --import tsx bench/allocator-scale.ts [AGENTSxFRAMEWORKS ...]`
 * and prints JSON.
 */
import { type AllocatorFigures, runAllocatorBench } from "./allocator-bench.js";

export const ALLOCATOR_SCALE_SIZES: ReadonlyArray<readonly [number, number]> = [
  [10_000, 1_000],
  [40_000, 4_000],
];

/** Mesos' published DeclineOffers figures where there is one for the size (Mesos 1.8). */
export const MESOS_DECLINE_CYCLE: Readonly<Record<string, string>> = {
  "10000x1000": "Mesos 1.8: ~1.06-1.1 s",
  "20000x2000": "Mesos 1.8: ~3.8 s",
};

/** Targets per cycle, ms. */
export const DECLINE_CYCLE_TARGET_MS: Readonly<Record<string, number>> = { "10000x1000": 100 };

export interface AllocatorScaleRow {
  agents: number;
  frameworks: number;
  /** The bench's figures, or why the size failed. */
  figures: AllocatorFigures | { error: string };
  targetMs?: number;
  /**
   * Whether the mean cycle after the first met the target, in wall time and
   * in CPU time of this process (on a shared machine wall time also counts
   * waiting for a core, so both are given).
   */
  met?: { wall: boolean; cpu: boolean };
  /** Mesos' figure for the same size, when it published one. */
  mesos?: string;
}

/** Each size in turn (a size that throws is reported, the rest still run); call with `--expose-gc` for heap figures. */
export async function runAllocatorScaleBench(sizes = ALLOCATOR_SCALE_SIZES): Promise<AllocatorScaleRow[]> {
  const results = await runAllocatorBench(sizes);
  return results.map((r) => {
    const key = `${r.agents}x${r.frameworks}`;
    const row: AllocatorScaleRow = {
      agents: r.agents,
      frameworks: r.frameworks,
      figures: "error" in r ? { error: r.error } : r,
    };
    const target = DECLINE_CYCLE_TARGET_MS[key];
    if (target !== undefined) {
      row.targetMs = target;
      if (!("error" in r)) row.met = { wall: r.declineCycleMs < target, cpu: r.declineCycleCpuMs < target };
    }
    const mesos = MESOS_DECLINE_CYCLE[key];
    if (mesos !== undefined) row.mesos = mesos;
    return row;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map((arg) => {
    const m = /^(\d+)x(\d+)$/.exec(arg);
    if (m === null) throw new Error(`size '${arg}' is not AGENTSxFRAMEWORKS`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  const rows = await runAllocatorScaleBench(sizes.length > 0 ? sizes : ALLOCATOR_SCALE_SIZES);
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}
