import { statfsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { Resource } from "../../gen/mesos/v1/mesos_pb.js";
import { parseResources } from "../core/resources/index.js";

/**
 * What this machine offers when `--resources` is not given, sized the way
 * Mesos does: all CPUs; memory and the work dir's filesystem less a reserve
 * for the system (1 GB of memory, 5 GB of disk, or half when small).
 */
export function detectResources(workDir: string): Resource[] {
  const memMb = Math.floor(totalmem() / (1024 * 1024));
  const stats = statfsSync(workDir);
  // The filesystem's size, not what is free now: sandboxes and volumes fill
  // it, and an agent must come back after a restart with the disk it had
  // (its checkpointed reservations and volumes must still fit).
  const diskMb = Math.floor((Number(stats.blocks) * Number(stats.bsize)) / (1024 * 1024));
  const mem = memMb - Math.min(1024, Math.floor(memMb / 2));
  const disk = diskMb - Math.min(5120, Math.floor(diskMb / 2));
  return parseResources(`cpus:${cpus().length};mem:${mem};disk:${disk};ports:[31000-32000]`);
}

/** Fills in names the operator left out of `--resources` from the detected ones. */
export function agentResources(flag: string | undefined, workDir: string): Resource[] {
  if (flag === undefined || flag.trim() === "") return detectResources(workDir);
  const given = parseResources(flag);
  const named = new Set(given.map((r) => r.name));
  return [...given, ...detectResources(workDir).filter((r) => !named.has(r.name))];
}
