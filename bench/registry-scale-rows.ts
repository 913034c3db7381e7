/** The etcd registry at scale (registry-scale-bench.ts) as report rows (bench/main.ts). */

import type { RegistryScaleResult } from "./registry-scale-bench.js";
import type { Row } from "./report.js";

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sizes = (result: RegistryScaleResult): string => result.rows.map((r) => fmt(r.agents)).join(" / ");
const each = (result: RegistryScaleResult, cell: (r: RegistryScaleResult["rows"][number]) => string): string =>
  result.rows.map(cell).join(" / ");

const recoveryText = (r: RegistryScaleResult["takeovers"][number]["standbyRecovery"]): string =>
  r === undefined
    ? "?"
    : r.kind === "caught-up"
      ? `caught up in ${fmt(r.ms)} ms: ${fmt(r.changed)} keys changed, ${fmt(r.deleted)} deleted since followed`
      : `read whole in ${fmt(r.ms)} ms: ${r.why}`;

const METHOD =
  "Leadership.registry.apply(admit-agent) on a throwaway etcd with its default limits (1.5 MiB a request, 128 ops a transaction), one key per registry entry; agents with 4 resources and 2 attributes";
/** Growth allowed from the smallest size to the largest before "does not grow" is called missed. */
const GROWTH = 1.5;

/**
 * Rows for the registry-at-scale section; `failed` makes the row for a
 * section that threw. "Does not grow" is judged on CPU per admission (this
 * process: the store and the etcd client), steadier than wall time on a
 * shared machine; wall times are beside it.
 */
export function registryScaleRows(
  result: RegistryScaleResult | string,
  failed: (figure: string, target: string, method: string, why: string) => Row,
): Row[] {
  if (typeof result === "string") return [failed("etcd registry at scale", "", METHOD, result)];
  const first = result.rows[0];
  const last = result.rows[result.rows.length - 1];
  const grows = (pick: (r: RegistryScaleResult["rows"][number]) => number): boolean | undefined =>
    first === undefined || last === undefined ? undefined : pick(last) <= GROWTH * pick(first);
  const { recovery } = result;
  return [
    {
      figure: `etcd registry: one admission stored, ${sizes(result)} agents stored`,
      value: `p50 ${each(result, (r) => `${fmt(r.sequentialP50Ms, 2)} ms`)}; CPU ${each(result, (r) => `${fmt(r.sequentialCpuUs)} µs`)}`,
      target: `does not grow (CPU ≤ ${GROWTH}× from first to last)`,
      met: grows((r) => r.sequentialCpuUs),
      method: `${METHOD}; one at a time; each writes one entry of ${last?.entryBytes ?? "?"} bytes`,
    },
    {
      figure: `etcd registry: 1,000 admissions at once, per admission, ${sizes(result)} agents stored`,
      value: `${each(result, (r) => `${fmt(r.groupedMsPerAdmission, 2)} ms`)}; CPU ${each(result, (r) => `${fmt(r.groupedCpuUs)} µs`)}`,
      target: `does not grow (CPU ≤ ${GROWTH}× from first to last)`,
      met: grows((r) => r.groupedCpuUs),
      method: `${METHOD}; group commit, up to 125 entries a transaction; filling ran at ${fmt(result.fillPerSec)} admissions/s`,
    },
    {
      figure: `the one-value layout of old, per write, ${sizes(result)} agents`,
      value: `encode ${each(result, (r) => `${fmt(r.wholeValueEncodeMs)} ms`)}; ${each(result, (r) => `${fmt(r.wholeValueBytes / 1024)} KiB gzip'd (${fmt(r.wholeValueRawBytes / 1024)} KiB raw)${r.wholeValueFits ? "" : " OVER 1.5 MiB"}`)}`,
      target: "",
      met: undefined,
      method:
        "what the store replaced did on every write: gzip of the whole registry (same run, same registry); these synthetic agents compress far better than real ones",
    },
    ...result.takeovers.map(
      (t): Row => ({
        figure: `etcd registry: a standby takes over ${fmt(t.agents)} agents`,
        value: `resign → new leader ${fmt(t.standbyMs)} ms (${recoveryText(t.standbyRecovery)}); master core built in ${fmt(t.coreMs)} ms; a candidate that followed nothing ${fmt(t.coldMs)} ms`,
        target: "",
        met: undefined,
        method:
          "a standby coordinator campaigning (following the registry) while the leader fills it; the leader resigns; the standby's campaign resolves once its registry is caught up under its fence; then testMasterCore(registry) as lead() builds it; then a fresh coordinator campaigns with nothing followed",
      }),
    ),
    {
      figure: `etcd registry: recovery at ${fmt(recovery.agents)} agents`,
      value: `new leader's campaign ${fmt(recovery.campaignMs)} ms; paged read alone ${fmt(recovery.readMs)} ms, book ${fmt(recovery.buildMs)} ms; decoding the same registry from one value ${fmt(recovery.wholeValueDecodeMs)} ms`,
      target: "",
      met: undefined,
      method:
        "the leader resigns, a new coordinator that followed nothing campaigns (election; its follower's first read, decode, book; the fenced catch-up); then readStoredRegistry alone (median of 3); the one-value decode is the floor any layout pays to turn bytes into agents",
    },
  ];
}
