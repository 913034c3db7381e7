import { cpus, freemem, loadavg, totalmem } from "node:os";

/**
 * The host's numbers under Mesos' `system/*` metric names, which masters
 * (leading or not) and agents all report. Read at each call: they change.
 */
export function systemMetrics(): Record<string, number> {
  const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
  return {
    "system/cpus_total": cpus().length,
    "system/mem_total_bytes": totalmem(),
    "system/mem_free_bytes": freemem(),
    "system/load_1min": load1,
    "system/load_5min": load5,
    "system/load_15min": load15,
  };
}

/**
 * Mesos' Duration text (`5secs`, `100ms`, `1.5mins`) in milliseconds, as
 * /metrics/snapshot's `timeout` takes it; a string saying what is wrong otherwise.
 */
export function parseDuration(text: string): number | string {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|secs|mins|hrs|days|weeks)\s*$/.exec(text);
  if (match === null) return `expecting a number with a unit (ns, us, ms, secs, mins, hrs, days, weeks)`;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    ms: 1,
    secs: 1000,
    mins: 60_000,
    hrs: 3_600_000,
    days: 86_400_000,
    weeks: 604_800_000,
  };
  return Number(match[1]) * (unit[match[2] ?? ""] ?? 1);
}
