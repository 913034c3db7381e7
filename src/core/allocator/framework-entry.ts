import type { AgentEntry } from "./agent-book.js";
import type { AgentPredicate } from "./constraints.js";

/**
 * The allocator's books on one framework. Its decline filters are kept on
 * both sides: here by agent (to expire and revive them) and on each agent
 * by framework (AgentEntry.declinedBy), which is what a pass reads: it
 * asks about every framework it tries on an agent, and the agent's own
 * small map is at hand then, where each framework's map was a cache miss
 * (profiled at 10,000 agents × 1,000 frameworks).
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

/** Keeps `agent` from the framework until `until` (ms), or longer if an earlier filter says so. */
export function addFilter(f: FrameworkEntry, agentId: string, agent: AgentEntry, until: number): void {
  const end = Math.max(until, f.filters.get(agentId) ?? -Infinity);
  f.filters.set(agentId, end);
  agent.declinedBy ??= new Map();
  agent.declinedBy.set(f.id, end);
  f.filtersLastUntil = Math.min(f.filtersLastUntil, until);
}

/** Drops every filter of the framework (it revived or is gone). */
export function clearFilters(f: FrameworkEntry, agents: ReadonlyMap<string, AgentEntry>): void {
  for (const agentId of f.filters.keys()) forget(agents.get(agentId), f.id);
  f.filters.clear();
  f.filtersLastUntil = Infinity;
}

/** Drops the framework's filters that ended by `now`; returns when the next one ends. */
export function expireFilters(f: FrameworkEntry, agents: ReadonlyMap<string, AgentEntry>, now: number): number {
  let earliest = Infinity;
  for (const agentId of [...f.filters.keys()]) {
    const until = f.filters.get(agentId) as number;
    if (until <= now) {
      f.filters.delete(agentId);
      forget(agents.get(agentId), f.id);
    } else {
      earliest = Math.min(earliest, until);
    }
  }
  f.filtersLastUntil = earliest;
  return earliest;
}

function forget(agent: AgentEntry | undefined, frameworkId: string): void {
  if (agent?.declinedBy === undefined) return;
  agent.declinedBy.delete(frameworkId);
  if (agent.declinedBy.size === 0) agent.declinedBy = undefined;
}
