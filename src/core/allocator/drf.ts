import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import {
  addResources,
  allocatableToRole,
  allocateTo,
  containsResources,
  isEmptyResources,
  quantitiesOf,
  subtractResources,
  unallocated,
} from "../resources/index.js";
import { charge, freeOf, heldOn, newAgent, release, type AgentEntry } from "./agent-book.js";
import type { AgentFacts, AgentPredicate } from "./constraints.js";
import { capToLimits, selfAndAncestors, type Limits } from "./limits.js";
import { PassOrder } from "./pass-order.js";
import { ShareBook } from "./shares.js";
import type { Allocation, Allocator, AllocatorOptions, FrameworkRoles, ResourceConversion, RoleSummary } from "./types.js";

const DEFAULT_MIN_ALLOCATABLE: Array<Map<string, number>> = [new Map([["cpus", 0.01]]), new Map([["mem", 32]])];

interface FrameworkEntry {
  roles: string[];
  offerFilters: Map<string, AgentPredicate>;
  suppressed: Set<string>;
  active: boolean;
  /** agent id → time (ms) before which that agent is not offered. */
  filters: Map<string, number>;
}

interface Pick {
  frameworkId: string;
  role: string;
}

// Plain code-unit order: deterministic, unlike localeCompare.
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A Dominant Resource Fairness allocator over the role tree (see
 * role-tree.ts; flat roles are the one-level case). Each pass
 * walks the agents; on each it repeatedly picks the role with the lowest
 * weighted dominant share that can use some of the free resources, and in it
 * the framework with the lowest share that is active, unsuppressed and
 * unfiltered, and offers it everything allocatable to the role. Shares are
 * updated at once, so the next pick sees the last one.
 */
class DrfAllocator implements Allocator {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly facts = new Map<string, AgentFacts>();
  private readonly frameworks = new Map<string, FrameworkEntry>();
  private readonly weights = new Map<string, number>();
  private readonly limits = new Map<string, Limits>();
  private readonly book = new ShareBook();
  private readonly minAllocatable: Array<Map<string, number>>;
  /** Agents whose free resources changed since the last pass. */
  private readonly changedAgents = new Set<string>();
  /** Demand changed: the next reactive pass covers every agent. */
  private everyAgentChanged = false;

  constructor(private readonly options: AllocatorOptions) {
    this.minAllocatable = options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE;
  }

  addAgent(agentId: string, total: Resource[], facts?: AgentFacts): void {
    this.removeAgent(agentId);
    const agent = newAgent(total);
    this.agents.set(agentId, agent);
    if (facts !== undefined) this.facts.set(agentId, facts);
    this.changedAgents.add(agentId);
    this.book.addTotal(agent.total, 1);
  }

  removeAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    release(agent, this.book);
    this.book.addTotal(agent.total, -1);
    this.agents.delete(agentId);
    this.facts.delete(agentId);
    for (const f of this.frameworks.values()) f.filters.delete(agentId);
  }

  addFramework(frameworkId: string, info: FrameworkRoles): void {
    this.updateFramework(frameworkId, info);
  }

  updateFramework(frameworkId: string, info: FrameworkRoles): void {
    this.everyAgentChanged = true;
    const base = this.frameworks.get(frameworkId);
    this.frameworks.set(frameworkId, {
      roles: [...new Set(info.roles)],
      offerFilters: info.offerFilters ?? base?.offerFilters ?? new Map(),
      suppressed: new Set(info.suppressedRoles ?? base?.suppressed ?? []),
      active: base?.active ?? true,
      filters: base?.filters ?? new Map(),
    });
  }

  removeFramework(frameworkId: string): void {
    this.everyAgentChanged = true;
    this.frameworks.delete(frameworkId);
    for (const agent of this.agents.values()) release(agent, this.book, frameworkId);
  }

  activateFramework(frameworkId: string): void {
    const f = this.frameworks.get(frameworkId);
    if (f !== undefined) f.active = true;
    this.everyAgentChanged = true;
  }

  deactivateFramework(frameworkId: string): void {
    const f = this.frameworks.get(frameworkId);
    if (f !== undefined) f.active = false;
  }

  suppress(frameworkId: string, roles?: string[]): void {
    const f = this.frameworks.get(frameworkId);
    if (f !== undefined) for (const role of roles ?? f.roles) f.suppressed.add(role);
  }

  revive(frameworkId: string, roles?: string[]): void {
    const f = this.frameworks.get(frameworkId);
    if (f === undefined) return;
    if (roles === undefined) f.suppressed.clear();
    else for (const role of roles) f.suppressed.delete(role);
    f.filters.clear();
    this.everyAgentChanged = true;
  }

  recoverResources(frameworkId: string, agentId: string, resources: Resource[], filter?: { refuseSeconds: number; now: number }): void {
    this.chargeByRole(frameworkId, agentId, resources, -1);
    if (this.agents.has(agentId)) this.changedAgents.add(agentId);
    const f = this.frameworks.get(frameworkId);
    if (f === undefined || filter === undefined || !this.agents.has(agentId)) return;
    // NaN and non-positive durations mean "no filter", as a decline with refuse_seconds 0 does in Mesos.
    if (!(filter.refuseSeconds > 0)) return;
    const until = filter.now + filter.refuseSeconds * 1000;
    f.filters.set(agentId, Math.max(until, f.filters.get(agentId) ?? -Infinity));
  }

  addAllocated(frameworkId: string, agentId: string, resources: Resource[]): void {
    this.chargeByRole(frameworkId, agentId, resources, 1);
  }

  convertResources(agentId: string, conversion: ResourceConversion, frameworkId?: string): boolean {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return false;
    const consumed = unallocated(conversion.consumed);
    const converted = unallocated(conversion.converted);
    let role: string | undefined;
    if (frameworkId === undefined) {
      if (!containsResources(agent.free, consumed)) return false;
    } else {
      const roles = new Set(conversion.consumed.map((r) => r.allocationInfo?.role || (this.frameworks.get(frameworkId)?.roles[0] ?? "*")));
      if (roles.size !== 1) return false;
      role = [...roles][0] as string;
      if (!containsResources(agent.held.get(frameworkId)?.get(role) ?? [], consumed)) return false;
      charge(agent, this.book, frameworkId, role, consumed, -1);
    }
    this.book.addTotal(agent.total, -1);
    agent.total = addResources(subtractResources(agent.total, consumed), converted);
    this.book.addTotal(agent.total, 1);
    if (frameworkId !== undefined && role !== undefined) charge(agent, this.book, frameworkId, role, converted, 1);
    else agent.free = freeOf(agent);
    this.changedAgents.add(agentId);
    return true;
  }

  setLimits(role: string, limits: Limits): void {
    if (limits.size === 0) this.limits.delete(role);
    else this.limits.set(role, new Map(limits));
    this.everyAgentChanged = true;
  }

  setWeight(role: string, weight: number): void {
    if (!Number.isFinite(weight) || weight <= 0) throw new RangeError(`weight of role '${role}' must be a positive number, not ${weight}`);
    this.weights.set(role, weight);
    this.everyAgentChanged = true;
  }

  allocate(now: number): Allocation[] {
    return this.pass(now, this.agentOrder());
  }

  allocateChanged(now: number): Allocation[] {
    if (this.everyAgentChanged) return this.allocate(now);
    return this.pass(now, [...this.changedAgents].filter((id) => this.agents.has(id)).sort(byName));
  }

  private pass(now: number, agentIds: string[]): Allocation[] {
    this.changedAgents.clear();
    this.everyAgentChanged = false;
    this.expireFilters(now);
    const order = new PassOrder(
      this.roleMembers(),
      (role) => this.book.roleShare(role, this.weights.get(role) ?? 1),
      (role, frameworkId) => this.book.frameworkShare(role, frameworkId),
      (role) => this.book.subtreeShare(role, this.weights.get(role) ?? 1),
    );
    const out: Allocation[] = [];
    for (const agentId of agentIds) {
      const agent = this.agents.get(agentId);
      if (agent !== undefined) this.allocateAgent(agentId, agent, order, now, out);
    }
    return out;
  }

  roles(): RoleSummary[] {
    const members = this.roleMembers();
    const names = new Set<string>([...this.weights.keys(), ...members.keys()]);
    for (const agent of this.agents.values()) for (const byRole of agent.held.values()) for (const role of byRole.keys()) names.add(role);
    return [...names].sort(byName).map((role) => ({
      role,
      weight: this.weights.get(role) ?? 1,
      frameworks: members.get(role) ?? [],
      allocated: [...this.agents.values()].reduce<Resource[]>((all, agent) => addResources(all, heldOn(agent, role)), []),
    }));
  }

  agentAllocated(agentId: string): Resource[] {
    const agent = this.agents.get(agentId);
    return agent === undefined ? [] : heldOn(agent);
  }

  /** Splits resources by allocation role, defaulting to the framework's first role. */
  private chargeByRole(frameworkId: string, agentId: string, resources: Resource[], sign: 1 | -1): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    const fallback = this.frameworks.get(frameworkId)?.roles[0] ?? "*";
    const byRole = new Map<string, Resource[]>();
    for (const r of resources) {
      const role = r.allocationInfo?.role || fallback;
      byRole.set(role, [...(byRole.get(role) ?? []), r]);
    }
    for (const [role, rs] of byRole) charge(agent, this.book, frameworkId, role, rs, sign);
  }

  private expireFilters(now: number): void {
    for (const f of this.frameworks.values()) {
      for (const [agentId, until] of f.filters) if (until <= now) f.filters.delete(agentId);
    }
  }

  /** role → its frameworks, sorted by id. */
  private roleMembers(): Map<string, string[]> {
    const members = new Map<string, string[]>();
    for (const [id, f] of [...this.frameworks].sort(([a], [b]) => byName(a, b))) {
      for (const role of f.roles) members.set(role, [...(members.get(role) ?? []), id]);
    }
    return members;
  }

  private agentOrder(): string[] {
    const ids = [...this.agents.keys()].sort(byName);
    const random = this.options.random;
    if (random === undefined) return ids;
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return ids;
  }

  /** Offers one agent's free resources, possibly to several roles in turn. */
  private allocateAgent(agentId: string, agent: AgentEntry, order: PassOrder, now: number, out: Allocation[]): void {
    // Each (framework, role) is served at most once per agent per pass: it
    // takes everything allocatable to the role, so a second turn has nothing.
    const served = new Set<string>();
    while (!isEmptyResources(agent.free)) {
      const pick = this.pick(agentId, agent.free, order, served, now);
      if (pick === undefined) return;
      served.add(`${pick.frameworkId}\n${pick.role}`);
      const portion = this.offerable(agent.free, pick.role);
      charge(agent, this.book, pick.frameworkId, pick.role, portion, 1);
      order.charged(pick.role, pick.frameworkId);
      out.push({ frameworkId: pick.frameworkId, agentId, role: pick.role, resources: allocateTo(portion, pick.role) });
    }
  }

  /** The next (framework, role) to offer `free` to, in DRF order, if any. */
  private pick(agentId: string, free: Resource[], order: PassOrder, served: Set<string>, now: number): Pick | undefined {
    for (const { key: role } of order.roles()) {
      if (!this.meetsMinimum(this.offerable(free, role))) continue;
      for (const { key: frameworkId } of order.frameworks(role)) {
        if (!served.has(`${frameworkId}\n${role}`) && this.eligible(frameworkId, role, agentId, now)) return { frameworkId, role };
      }
    }
    return undefined;
  }

  private eligible(frameworkId: string, role: string, agentId: string, now: number): boolean {
    const f = this.frameworks.get(frameworkId);
    if (f === undefined || !f.active || f.suppressed.has(role)) return false;
    if ((f.filters.get(agentId) ?? -Infinity) > now) return false;
    const constraint = f.offerFilters.get(role);
    return constraint === undefined || constraint(this.facts.get(agentId) ?? { hostname: "", attributes: [] });
  }

  /** What of `free` may go to `role`: its reservations or none, within the quota limits on its path. */
  private offerable(free: Resource[], role: string): Resource[] {
    const portion = free.filter((r) => allocatableToRole(r, role));
    const limited = selfAndAncestors(role).filter((r) => this.limits.has(r));
    if (limited.length === 0) return portion;
    const held = new Map(limited.map((r) => [r, this.book.subtreeQuantities(r)]));
    return capToLimits(portion, (name) =>
      Math.min(...limited.map((r) => (this.limits.get(r)?.get(name) ?? Infinity) - (held.get(r)?.get(name) ?? 0))),
    );
  }

  private meetsMinimum(resources: Resource[]): boolean {
    if (resources.length === 0) return false;
    const q = quantitiesOf(resources);
    return this.minAllocatable.some((min) => [...min].every(([name, n]) => (q.get(name) ?? 0) >= n));
  }
}

/**
 * Creates an empty DRF allocator (see Allocator for its invariants). Pure:
 * time only enters as `now` arguments; with `options.random` the agent order
 * is shuffled by it, otherwise every pass is deterministic.
 */
export function createAllocator(options: AllocatorOptions = {}): Allocator {
  return new DrfAllocator(options);
}
