/** The HA sections' rows and notes for the report (bench/main.ts). */

import { type FailoverResult, type FailoverRound, HA_SHAPE } from "./ha-bench.js";
import type { RegistryResult } from "./registry-bench.js";
import type { Row } from "./report.js";
import { SIM_AGENT_RESOURCES, SIM_TASK_RESOURCES } from "./sim-agents.js";

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms: number): string => `${fmt(ms / 1000, 2)} s`;

function minMedian(values: number[]): { min: number; median: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN };
}

const SETUP = `3 \`plateau master --registry etcd://… --election-ttl ${HA_SHAPE.electionTtl} --port 0\` + a throwaway etcd; ${fmt(HA_SHAPE.agents)} simulated agents (one unified stream each to etcd://, ${HA_SHAPE.sessions} shared HTTP/2 connection slots (one connection per slot to each master dialled), the real agent's reconnect backoff 200 ms-10 s) reporting ${HA_SHAPE.tasksPerAgent} TASK_RUNNING tasks each (${SIM_TASK_RESOURCES}; agents ${SIM_AGENT_RESOURCES}) of one src/client scheduler (failover_timeout 300, default backoff); SIGKILL of the leader`;

/** Rows for the failover section; `failed` makes the row for a section that threw. */
export function failoverRows(
  result: FailoverResult | string,
  failed: (figure: string, target: string, method: string, why: string) => Row,
): Row[] {
  if (typeof result === "string") return [failed("HA failover", "", SETUP, result)];
  const kills = result.rounds.filter((r) => r.failure === "SIGKILL");
  const pauses = result.rounds.filter((r) => r.failure === "SIGSTOP");
  return [...killRows(result, kills), ...pauseRows(pauses)];
}

function stats(rounds: FailoverRound[], pick: (r: FailoverRound) => number): string {
  const { min, median } = minMedian(rounds.map(pick));
  return rounds.length === 1 ? seconds(min) : `${seconds(min)} / ${seconds(median)}`;
}

function killRows(result: FailoverResult, rounds: FailoverRound[]): Row[] {
  if (rounds.length === 0) return [];
  const n = rounds.length;
  const over = `min / median of ${n} kill${n === 1 ? "" : "s"}`;
  const agentsMedian = minMedian(rounds.map((r) => r.agentsReregisteredMs)).median;
  const cpu = minMedian(rounds.map((r) => r.benchCpuPct));
  const leaderCpu = rounds.map((r) => r.leaderCpuPct).filter((v): v is number => v !== undefined);
  return [
    {
      figure: "failover: new leader serving (a)",
      value: `${stats(rounds, (r) => r.leaderServingMs)} (${over})`,
      target: "",
      met: undefined,
      method: `${SETUP}; kill → an operator GET_MASTER through etcd:// (polled every 20 ms) names another master. A standby sees the dead leader's port refuse connections and revokes its lease, so a crash costs no TTL`,
    },
    {
      figure: `failover: ${fmt(result.agents)} agents re-registered (b)`,
      value: `${stats(rounds, (r) => r.agentsReregisteredMs)} (${over}); first agent ${stats(rounds, (r) => r.firstAgentMs)}, median agent ${stats(rounds, (r) => r.medianAgentMs)}; Mesos 1.5: ~4.3 s for 10,000 agents / 100,000 tasks, after ZooKeeper's session timeout`,
      target: "< 3 s",
      met: agentsMedian < 3000,
      method: `kill → the last agent's AgentEvent.Registered stamped with the new leader's epoch (timestamped on the agents, not polled); then GET_AGENTS showed ${rounds.map((r) => r.activeAgents).join("/")} active and GET_TASKS ${rounds.map((r) => fmt(r.tasks)).join("/")} tasks`,
    },
    {
      figure: "failover: framework resubscribed (c)",
      value: `${stats(rounds, (r) => r.frameworkResubscribedMs)} (${over})`,
      target: "",
      met: undefined,
      method: "kill → SUBSCRIBED seen by the scheduler",
    },
    {
      figure: "failover: CPU",
      value: `bench process ${fmt(cpu.min)}-${fmt(Math.max(...rounds.map((r) => r.benchCpuPct)))}% of one core; new leader ${leaderCpu.length === 0 ? "?" : `${fmt(Math.min(...leaderCpu))}-${fmt(Math.max(...leaderCpu))}%`}; registering the fleet at first: ${seconds(result.setupMs)}, bench ${fmt(result.setupBenchCpuPct)}%`,
      target: "",
      met: undefined,
      method:
        "process.cpuUsage() of the bench process (agents, scheduler, operator) and /proc/<pid>/stat of the new leader, over kill → last of (a)-(c), ÷ wall time",
    },
  ];
}

function pauseRows(rounds: FailoverRound[]): Row[] {
  if (rounds.length === 0) return [];
  return [
    {
      figure: "failover after the leader froze (a) / (b) / (c)",
      value: `${stats(rounds, (r) => r.leaderServingMs)} / ${stats(rounds, (r) => r.agentsReregisteredMs)} / ${stats(rounds, (r) => r.frameworkResubscribedMs)}${rounds.length === 1 ? "" : ` (min / median of ${rounds.length})`}`,
      target: "",
      met: undefined,
      method: `as above, but SIGSTOP instead of SIGKILL: the frozen leader's port still accepts connections, so its lease must run out (TTL ${HA_SHAPE.electionTtl} s, kept alive every TTL/3, expiry checked by etcd every 0.5 s); agents and the framework leave it once etcd announces the new leader`,
    },
  ];
}

export function failoverNotes(result: FailoverResult | string): string[] {
  if (typeof result === "string") return [];
  const notes = result.rounds.map(
    (r, i) =>
      `failover round ${i + 1} (${r.failure}): (a) ${fmt(r.leaderServingMs)} ms, (b) ${fmt(r.agentsReregisteredMs)} ms (first ${fmt(r.firstAgentMs)}, median ${fmt(r.medianAgentMs)}), (c) ${fmt(r.frameworkResubscribedMs)} ms; bench CPU ${fmt(r.benchCpuPct)}%, new leader CPU ${r.leaderCpuPct === undefined ? "?" : `${fmt(r.leaderCpuPct)}%`}; "leadership lost" logged ${r.leadershipLosses}${r.failure === "SIGSTOP" ? " (the frozen leader's own, once resumed, included)" : ""}`,
  );
  notes.push(
    `failover: the masters logged ${result.setupLeadershipLosses} "leadership lost" while the ${fmt(result.agents)} agents first registered (a leader's lease not confirmed within the 2 s TTL)`,
  );
  return [...notes, ...result.problems.map((p) => `failover: ${p}`)];
}

export function registryRows(
  result: RegistryResult | string,
  failed: (figure: string, target: string, method: string, why: string) => Row,
): Row[] {
  const method =
    "Leadership.registry.apply(update-weights of one role) vs etcd3 put of a value of the same size, one throwaway etcd, alternating phases";
  if (typeof result === "string") return [failed("registry writes", "≥ 0.8 of plain", method, result)];
  return result.rows.map((r) => {
    const ratio = r.fenced.opsPerSec / r.plain.opsPerSec;
    const how =
      r.concurrency === 1
        ? "one call at a time"
        : `${r.concurrency} calls outstanding; the fenced store takes them in order and group-commits those that arrive during a write`;
    const txn = Number.isFinite(r.txnOnly.opsPerSec)
      ? `; the store's transaction alone (same compares, no store) ${fmt(r.txnOnly.opsPerSec)}/s, ${fmt(r.txnOnly.cpuUsPerOp)} µs CPU/op`
      : "";
    return {
      figure: `registry writes, ${r.concurrency === 1 ? "sequential" : `${r.concurrency} in flight`}: fenced/plain`,
      value: `${fmt(ratio, 2)} (fenced ${fmt(r.fenced.opsPerSec)}/s, p50 ${fmt(r.fenced.p50Ms, 2)} ms, ${fmt(r.fenced.cpuUsPerOp)} µs CPU/op; plain ${fmt(r.plain.opsPerSec)}/s, p50 ${fmt(r.plain.p50Ms, 2)} ms, ${fmt(r.plain.cpuUsPerOp)} µs CPU/op${txn})`,
      target: "≥ 0.8",
      met: ratio >= 0.8,
      method: `${method}; ${how}; value ${result.valueBytes} bytes`,
    };
  });
}
