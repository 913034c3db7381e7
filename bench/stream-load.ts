/**
 * How busy the machine was apart from the benchmark: the CPU every process
 * used (/proc/stat) minus the CPU of the benchmark's own processes, in cores.
 * On a shared machine this says how far wall-time figures can be trusted.
 */
import { readFileSync } from "node:fs";
import { ticksPerSecond } from "./cpu.js";
import { cpuTimeUs } from "./proc.js";

/** Busy time of all CPUs since boot, µs (user, nice, system, irq, softirq, steal). */
function machineBusyUs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return (ticks * 1e6) / ticksPerSecond();
}

function ownUs(pids: (number | undefined)[]): number {
  const self = process.cpuUsage();
  return pids.reduce<number>(
    (sum, pid) => sum + (pid === undefined ? 0 : (cpuTimeUs(pid) ?? 0)),
    self.user + self.system,
  );
}

/** Starts counting; `end` gives other processes' CPU in cores over the elapsed wall time. */
export function machineBusy(pids: (number | undefined)[]): { end(): { othersCores: number; wallS: number } } {
  const start = process.hrtime.bigint();
  const all0 = machineBusyUs();
  const own0 = ownUs(pids);
  return {
    end() {
      const wallS = Number(process.hrtime.bigint() - start) / 1e9;
      const others = machineBusyUs() - all0 - (ownUs(pids) - own0);
      return { othersCores: Math.round((others / 1e6 / wallS) * 100) / 100, wallS: Math.round(wallS * 10) / 10 };
    },
  };
}
