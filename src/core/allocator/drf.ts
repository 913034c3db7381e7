import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import {
  addResources,
  allocatableToRole,
  allocateTo,
  isEmptyResources,
  quantitiesOf,
  subtractResources,
  unallocated,
} from "../resources/index.js";
import type { Allocation, Allocator, AllocatorOptions, FrameworkRoles, RoleSummary } from "./types.js";

/** The resource kinds Dominant Resource Fairness weighs. */
const DRF_KINDS = ["cpus", "mem", "disk", "gpus"];

const DEFAULT_MIN_ALLOCATABLE = [new Map([["cpus", 0.01]]), new Map([["mem", 32]])];

interface AgentEntry {
  total: Resource[];
  /** framework id → role → resources (without allocation_info). */
  allocated: Map<string, Map<string, Resource[]>>;
}

interface FrameworkEntry {
  roles: string[];
  suppressed: Set<string>;
  active: boolean;
  /** agent id → the time until which that agent is filtered. */
  filters: Map<string, number>;
}

type Quantities = Map<string, number>;

function addQuantities(into: Quantities, resources: Resource[], sign = 1): void {
  for (const [name, n] of quantitiesOf(resources)) into.set(name, (into.get(name) ?? 0) + sign * n);
}

/** max over kinds of allocated/total: the share DRF equalizes. */
function dominantShare(allocated: Quantities | undefined, totals: Quantities, weight = 1): number {
  let share = 0;
  for (const kind of DRF_KINDS) {
    const total = totals.get(kind) ?? 0;
    if (total > 0) share = Math.max(share, (allocated?.get(kind) ?? 0) / total);
  }
  return share / weight;
}

/**
 * A first, flat-role Dominant Resource Fairness allocator. Each pass walks the
 * agents; for each, it offers the free resources to the role with the lowest
 * weighted dominant share, and within it to the framework with the lowest
 * share, skipping frameworks that are inactive, suppressed or filtered.
 */
export function createAllocator(options: AllocatorOptions = {}): Allocator {
  const agents = new Map<string, AgentEntry>();
  const frameworks = new Map<string, FrameworkEntry>();
  const weights = new Map<string, number>();
  const minAllocatable = options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE;

  const roleOf = (frameworkId: string, r: Resource): string =>
    r.allocationInfo?.role ?? frameworks.get(frameworkId)?.roles[0] ?? "*";

  const charge = (agentId: string, frameworkId: string, resources: Resource[], sign: 1 | -1): void => {
    const agent = agents.get(agentId);
    if (agent === undefined) return;
    const byRole = agent.allocated.get(frameworkId) ?? new Map<string, Resource[]>();
    for (const r of resources) {
      const role = roleOf(frameworkId, r);
      const current = byRole.get(role) ?? [];
      const [bare] = unallocated([r]);
      if (bare === undefined) continue;
      const next = sign === 1 ? addResources(current, [bare]) : subtractResources(current, [bare]);
      if (isEmptyResources(next)) byRole.delete(role);
      else byRole.set(role, next);
    }
    if (byRole.size === 0) agent.allocated.delete(frameworkId);
    else agent.allocated.set(frameworkId, byRole);
  };

  const freeOn = (agent: AgentEntry): Resource[] => {
    let free = agent.total;
    for (const byRole of agent.allocated.values()) for (const r of byRole.values()) free = subtractResources(free, r);
    return free;
  };

  const meetsMinimum = (resources: Resource[]): boolean => {
    const q = quantitiesOf(resources);
    return minAllocatable.some((min) => [...min].every(([name, n]) => (q.get(name) ?? 0) >= n));
  };

  /** Shares by role and by framework, from everything allocated now. */
  const shares = () => {
    const totals: Quantities = new Map();
    const byRole = new Map<string, Quantities>();
    const byFramework = new Map<string, Quantities>();
    for (const agent of agents.values()) {
      addQuantities(totals, agent.total);
      for (const [frameworkId, roles] of agent.allocated) {
        for (const [role, resources] of roles) {
          const rq = byRole.get(role) ?? new Map();
          addQuantities(rq, resources);
          byRole.set(role, rq);
          const fq = byFramework.get(frameworkId) ?? new Map();
          addQuantities(fq, resources);
          byFramework.set(frameworkId, fq);
        }
      }
    }
    return { totals, byRole, byFramework };
  };

  const candidates = (s: ReturnType<typeof shares>): Array<{ frameworkId: string; role: string }> => {
    const roles = new Map<string, string[]>();
    for (const [id, f] of frameworks) for (const role of f.roles) roles.set(role, [...(roles.get(role) ?? []), id]);
    const ordered = [...roles.keys()].sort(
      (a, b) => dominantShare(s.byRole.get(a), s.totals, weights.get(a)) - dominantShare(s.byRole.get(b), s.totals, weights.get(b)) || a.localeCompare(b),
    );
    return ordered.flatMap((role) =>
      (roles.get(role) ?? [])
        .sort((a, b) => dominantShare(s.byFramework.get(a), s.totals) - dominantShare(s.byFramework.get(b), s.totals) || a.localeCompare(b))
        .map((frameworkId) => ({ frameworkId, role })),
    );
  };

  const eligible = (frameworkId: string, role: string, agentId: string, now: number): boolean => {
    const f = frameworks.get(frameworkId);
    if (f === undefined || !f.active || f.suppressed.has(role)) return false;
    const until = f.filters.get(agentId);
    if (until !== undefined && until > now) return false;
    if (until !== undefined) f.filters.delete(agentId);
    return true;
  };

  /** Offers one agent's free resources, possibly to several roles in turn. */
  const allocateAgent = (agentId: string, agent: AgentEntry, now: number, out: Allocation[]): void => {
    let free = freeOn(agent);
    const skipped = new Set<string>();
    while (!isEmptyResources(free)) {
      const s = shares();
      const next = candidates(s).find(({ frameworkId, role }) => {
        if (skipped.has(`${frameworkId}/${role}`) || !eligible(frameworkId, role, agentId, now)) return false;
        return meetsMinimum(free.filter((r) => allocatableToRole(r, role)));
      });
      if (next === undefined) return;
      skipped.add(`${next.frameworkId}/${next.role}`);
      const portion = free.filter((r) => allocatableToRole(r, next.role));
      const offered = allocateTo(portion, next.role);
      charge(agentId, next.frameworkId, offered, 1);
      free = subtractResources(free, portion);
      out.push({ frameworkId: next.frameworkId, agentId, role: next.role, resources: offered });
    }
  };

  const order = (ids: string[]): string[] => {
    if (options.random === undefined) return ids.sort();
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(options.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return ids;
  };

  const setRoles = (frameworkId: string, info: FrameworkRoles, base?: FrameworkEntry): void => {
    frameworks.set(frameworkId, {
      roles: [...info.roles],
      suppressed: new Set(info.suppressedRoles ?? base?.suppressed ?? []),
      active: base?.active ?? true,
      filters: base?.filters ?? new Map(),
    });
  };

  return {
    addAgent(agentId, total) {
      agents.set(agentId, { total: addResources([], unallocated(total)), allocated: new Map() });
    },
    removeAgent(agentId) {
      agents.delete(agentId);
    },
    addFramework(frameworkId, info) {
      setRoles(frameworkId, info);
    },
    updateFramework(frameworkId, info) {
      setRoles(frameworkId, info, frameworks.get(frameworkId));
    },
    removeFramework(frameworkId) {
      frameworks.delete(frameworkId);
      for (const agent of agents.values()) agent.allocated.delete(frameworkId);
    },
    activateFramework(frameworkId) {
      const f = frameworks.get(frameworkId);
      if (f !== undefined) f.active = true;
    },
    deactivateFramework(frameworkId) {
      const f = frameworks.get(frameworkId);
      if (f !== undefined) f.active = false;
    },
    suppress(frameworkId, roles) {
      const f = frameworks.get(frameworkId);
      (roles ?? f?.roles ?? []).forEach((r) => f?.suppressed.add(r));
    },
    revive(frameworkId, roles) {
      const f = frameworks.get(frameworkId);
      if (f === undefined) return;
      if (roles === undefined) f.suppressed.clear();
      else roles.forEach((r) => f.suppressed.delete(r));
      f.filters.clear();
    },
    recoverResources(frameworkId, agentId, resources, filter) {
      charge(agentId, frameworkId, resources, -1);
      const f = frameworks.get(frameworkId);
      if (f !== undefined && filter !== undefined && filter.refuseSeconds > 0) {
        f.filters.set(agentId, filter.now + filter.refuseSeconds * 1000);
      }
    },
    addAllocated(frameworkId, agentId, resources) {
      charge(agentId, frameworkId, resources, 1);
    },
    setWeight(role, weight) {
      weights.set(role, weight);
    },
    allocate(now) {
      const out: Allocation[] = [];
      for (const agentId of order([...agents.keys()])) {
        const agent = agents.get(agentId);
        if (agent !== undefined) allocateAgent(agentId, agent, now, out);
      }
      return out;
    },
    roles(): RoleSummary[] {
      const summaries = new Map<string, RoleSummary>();
      const summary = (role: string) => {
        const existing = summaries.get(role);
        if (existing !== undefined) return existing;
        const created: RoleSummary = { role, weight: weights.get(role) ?? 1, frameworks: [], allocated: [] };
        summaries.set(role, created);
        return created;
      };
      for (const [id, f] of frameworks) for (const role of f.roles) summary(role).frameworks.push(id);
      for (const agent of agents.values()) {
        for (const roles of agent.allocated.values()) {
          for (const [role, resources] of roles) summary(role).allocated = addResources(summary(role).allocated, resources);
        }
      }
      return [...summaries.values()].sort((a, b) => a.role.localeCompare(b.role));
    },
    agentAllocated(agentId) {
      const agent = agents.get(agentId);
      if (agent === undefined) return [];
      let all: Resource[] = [];
      for (const roles of agent.allocated.values()) for (const r of roles.values()) all = addResources(all, r);
      return all;
    },
  };
}

