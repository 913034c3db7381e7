import type { AgentPredicate } from "./constraints.js";

/**
 * The allocator's books on one framework. A pass's DRF order carries a
 * reference to it in each framework's entry (see pass-order.ts), so that
 * trying a framework on an agent looks nothing up by id.
 */
export interface FrameworkEntry {
  readonly id: string;
  roles: string[];
  offerFilters: Map<string, AgentPredicate>;
  suppressed: Set<string>;
  active: boolean;
  /** agent id → time (ms) before which that agent is not offered. */
  filters: Map<string, number>;
  /** No filter expires before this (ms): a pass skips the framework's filters until then. */
  filtersLastUntil: number;
}

/** Keeps the agent from the framework until `until` (ms), or longer if an earlier filter says so. */
export function addFilter(f: FrameworkEntry, agentId: string, until: number): void {
  f.filters.set(agentId, Math.max(until, f.filters.get(agentId) ?? -Infinity));
  f.filtersLastUntil = Math.min(f.filtersLastUntil, until);
}

/** Drops every filter of the framework (it revived). */
export function clearFilters(f: FrameworkEntry): void {
  f.filters.clear();
  f.filtersLastUntil = Infinity;
}

/** Drops the framework's filters that ended by `now`; returns when the next one ends. */
export function expireFilters(f: FrameworkEntry, now: number): number {
  let earliest = Infinity;
  for (const agentId of [...f.filters.keys()]) {
    const until = f.filters.get(agentId) as number;
    if (until <= now) f.filters.delete(agentId);
    else earliest = Math.min(earliest, until);
  }
  f.filtersLastUntil = earliest;
  return earliest;
}
