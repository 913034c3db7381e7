import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { type AgentEntry, charge, convertTotal, heldOn, holds, newAgent, release } from "./agent-book.js";
import { type PassContext, runPass } from "./allocation-pass.js";
import { addInto, type Bag, containsBag, KindTable } from "./bag.js";
import type { AgentFacts } from "./constraints.js";
import { addFilter, clearFilters, expireFilters, type FrameworkEntry } from "./framework-entry.js";
import type { Limits } from "./limits.js";
import { PassOrder } from "./pass-order.js";
import { QuotaLedger, type RoleQuota } from "./quota-ledger.js";
import { ShareBook } from "./shares.js";
import type {
  Allocation,
  Allocator,
  AllocatorOptions,
  FrameworkRoles,
  ResourceConversion,
  RoleSummary,
} from "./types.js";

const DEFAULT_MIN_ALLOCATABLE: Array<Map<string, number>> = [new Map([["cpus", 0.01]]), new Map([["mem", 32]])];

// Plain code-unit order: deterministic, unlike localeCompare.
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A Dominant Resource Fairness allocator over the role tree (see
 * role-tree.ts; flat roles are the one-level case) with Mesos 1.9 quota.
 * This class keeps the books (agents, frameworks, filters, weights,
 * quotas); each pass (allocation-pass.ts) walks the agents and, on each,
 * repeatedly picks the role with the lowest weighted dominant share that can
 * use some of the free resources, and in it the framework with the lowest
 * share that is active, unsuppressed and unfiltered, and offers it
 * everything allocatable to the role within its quota. Shares are updated
 * at once, so the next pick sees the last one.
 */
class DrfAllocator implements Allocator, PassContext {
  readonly agents = new Map<string, AgentEntry>();
  private readonly facts = new Map<string, AgentFacts>();
  private readonly frameworks = new Map<string, FrameworkEntry>();
  private readonly weights = new Map<string, number>();
  private readonly quotas = new Map<string, RoleQuota>();
  readonly book = new ShareBook();
  readonly kinds = new KindTable();
  readonly minAllocatable: Array<Map<string, number>>;
  /** Agents whose free resources changed since the last pass. */
  private readonly changedAgents = new Set<string>();
  /** See roleMembers(). */
  private members: Map<string, string[]> | undefined;
  /** Demand changed: the next reactive pass covers every agent. */
  private everyAgentChanged = false;
  /**
   * The DRF order, kept from pass to pass so that an event-driven pass
   * after one task ended does not sort every framework again (at 1,000
   * frameworks that sort was most of such a pass). Dropped when what every
   * share depends on changes: the cluster's totals (an agent added, removed
   * or converted), the weights, or which frameworks are in which roles.
   */
  private order: PassOrder | undefined;
  /**
   * role → frameworks whose holding changed outside a pass since the order
   * was last brought up to date. Every charge outside a pass goes through
   * chargeByRole or drops the order; charges within a pass move the order
   * as they are made (allocation-pass.ts).
   */
  private readonly moved = new Map<string, Set<string>>();
  /**
   * Agent ids sorted by name, kept until an agent comes or goes: sorting
   * 40,000 ids took about a tenth of a pass at that size.
   */
  private sortedAgentIds: string[] | undefined;
  /** No framework's filter expires before this (ms): a pass skips expireFilters until then. */
  private filtersExpireAt = Infinity;

  constructor(private readonly options: AllocatorOptions) {
    this.minAllocatable = options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE;
  }

  addAgent(agentId: string, total: Resource[], facts?: AgentFacts): void {
    this.removeAgent(agentId);
    const agent = newAgent(this.kinds.bagOf(total));
    this.agents.set(agentId, agent);
    this.sortedAgentIds = undefined;
    if (facts !== undefined) this.facts.set(agentId, facts);
    this.changedAgents.add(agentId);
    this.book.addTotal(agent.total, 1);
    this.order = undefined;
  }

  removeAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    release(agent, this.book);
    this.book.addTotal(agent.total, -1);
    this.order = undefined;
    this.agents.delete(agentId);
    this.sortedAgentIds = undefined;
    this.facts.delete(agentId);
    for (const f of this.frameworks.values()) f.filters.delete(agentId);
  }

  addFramework(frameworkId: string, info: FrameworkRoles): void {
    this.updateFramework(frameworkId, info);
  }

  updateFramework(frameworkId: string, info: FrameworkRoles): void {
    this.everyAgentChanged = true;
    this.members = undefined;
    this.order = undefined;
    const base = this.frameworks.get(frameworkId);
    this.frameworks.set(frameworkId, {
      id: frameworkId,
      roles: [...new Set(info.roles)],
      offerFilters: info.offerFilters ?? base?.offerFilters ?? new Map(),
      suppressed: new Set(info.suppressedRoles ?? base?.suppressed ?? []),
      active: base?.active ?? true,
      filters: base?.filters ?? new Map(),
      filtersLastUntil: base?.filtersLastUntil ?? Infinity,
    });
  }

  removeFramework(frameworkId: string): void {
    this.everyAgentChanged = true;
    this.members = undefined;
    this.order = undefined;
    const f = this.frameworks.get(frameworkId);
    if (f !== undefined) clearFilters(f, this.agents);
    this.frameworks.delete(frameworkId);
    for (const agent of this.agents.values()) release(agent, this.book, frameworkId);
    this.book.forgetFramework(frameworkId);
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
    clearFilters(f, this.agents);
    this.everyAgentChanged = true;
  }

  recoverResources(
    frameworkId: string,
    agentId: string,
    resources: Resource[],
    filter?: { refuseSeconds: number; now: number },
  ): void {
    this.chargeByRole(frameworkId, agentId, resources, -1);
    if (this.agents.has(agentId)) this.changedAgents.add(agentId);
    const f = this.frameworks.get(frameworkId);
    const agent = this.agents.get(agentId);
    if (f === undefined || filter === undefined || agent === undefined) return;
    // NaN and non-positive durations mean "no filter", as a decline with refuse_seconds 0 does in Mesos.
    if (!(filter.refuseSeconds > 0)) return;
    const until = filter.now + filter.refuseSeconds * 1000;
    addFilter(f, agentId, agent, until);
    this.filtersExpireAt = Math.min(this.filtersExpireAt, until);
  }

  addAllocated(frameworkId: string, agentId: string, resources: Resource[]): void {
    this.chargeByRole(frameworkId, agentId, resources, 1);
  }

  convertResources(agentId: string, conversion: ResourceConversion, frameworkId?: string): boolean {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return false;
    const consumed = this.kinds.bagOf(conversion.consumed);
    const converted = this.kinds.bagOf(conversion.converted);
    let role: string | undefined;
    if (frameworkId === undefined) {
      if (!containsBag(agent.free, consumed)) return false;
    } else {
      const roles = new Set(
        conversion.consumed.map((r) => r.allocationInfo?.role || (this.frameworks.get(frameworkId)?.roles[0] ?? "*")),
      );
      if (roles.size !== 1) return false;
      role = [...roles][0] as string;
      if (!holds(agent, frameworkId, role, consumed)) return false;
      charge(agent, this.book, frameworkId, role, consumed, -1);
    }
    this.book.addTotal(agent.total, -1);
    convertTotal(agent, consumed, converted);
    this.book.addTotal(agent.total, 1);
    this.order = undefined;
    if (frameworkId !== undefined && role !== undefined) charge(agent, this.book, frameworkId, role, converted, 1);
    this.changedAgents.add(agentId);
    return true;
  }

  setLimits(role: string, limits: Limits): void {
    this.setQuota(role, { guarantees: this.quotas.get(role)?.guarantees ?? new Map(), limits });
  }

  setQuota(role: string, quota: RoleQuota): void {
    for (const [name, n] of [...quota.guarantees, ...quota.limits]) {
      if (!(n >= 0))
        throw new RangeError(`quota of '${name}' for role '${role}' must be a non-negative number, not ${n}`);
    }
    if (quota.guarantees.size === 0 && quota.limits.size === 0) this.quotas.delete(role);
    else this.quotas.set(role, { guarantees: new Map(quota.guarantees), limits: new Map(quota.limits) });
    this.everyAgentChanged = true;
  }

  quota(role: string): RoleQuota {
    return this.quotas.get(role) ?? { guarantees: new Map(), limits: new Map() };
  }

  setWeight(role: string, weight: number): void {
    if (!Number.isFinite(weight) || weight <= 0)
      throw new RangeError(`weight of role '${role}' must be a positive number, not ${weight}`);
    this.weights.set(role, weight);
    this.everyAgentChanged = true;
    this.order = undefined;
  }

  allocate(now: number): Allocation[] {
    return this.pass(now, this.agentOrder());
  }

  allocateChanged(now: number): Allocation[] {
    if (this.everyAgentChanged) return this.allocate(now);
    return this.pass(now, [...this.changedAgents].filter((id) => this.agents.has(id)).sort(byName));
  }

  private pass(now: number, agentIds: readonly string[]): Allocation[] {
    this.changedAgents.clear();
    this.everyAgentChanged = false;
    this.expireFilters(now);
    return runPass(this, this.orderForPass(), this.quotaLedger(), agentIds, now);
  }

  /** The kept order brought up to date with what moved since, or a new one (see `order`). */
  private orderForPass(): PassOrder {
    if (this.options.fullRecompute === true) this.order = undefined;
    if (this.order === undefined) {
      this.order = new PassOrder(
        this.roleMembers(),
        (role) => this.book.roleShare(role, this.weights.get(role) ?? 1),
        (role, frameworkId) => this.book.frameworkShare(role, frameworkId),
        (role) => this.book.subtreeShare(role, this.weights.get(role) ?? 1),
        (frameworkId) => this.frameworks.get(frameworkId),
      );
    } else {
      this.order.refresh(this.moved);
    }
    this.moved.clear();
    return this.order;
  }

  /** The pass's quota view, or undefined when no role has quota (nothing to enforce). */
  private quotaLedger(): QuotaLedger | undefined {
    if (this.quotas.size === 0) return undefined;
    const { consumedParts, unreservedFree } = this.book.quotaInputs();
    return new QuotaLedger(this.quotas, consumedParts, unreservedFree);
  }

  roles(): RoleSummary[] {
    const members = this.roleMembers();
    const names = new Set<string>([...this.weights.keys(), ...members.keys()]);
    for (const agent of this.agents.values())
      for (const byRole of agent.held.values()) for (const role of byRole.keys()) names.add(role);
    return [...names].sort(byName).map((role) => ({
      role,
      weight: this.weights.get(role) ?? 1,
      frameworks: [...(members.get(role) ?? [])],
      allocated: this.kinds.resourcesOf(
        [...this.agents.values()].reduce<Bag>((all, agent) => {
          addInto(all, heldOn(agent, role));
          return all;
        }, new Map()),
      ),
    }));
  }

  agentAllocated(agentId: string): Resource[] {
    const agent = this.agents.get(agentId);
    return agent === undefined ? [] : this.kinds.resourcesOf(heldOn(agent));
  }

  /** Splits resources by allocation role, defaulting to the framework's first role. */
  private chargeByRole(frameworkId: string, agentId: string, resources: Resource[], sign: 1 | -1): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    const fallback = this.frameworks.get(frameworkId)?.roles[0] ?? "*";
    const byRole = new Map<string, Resource[]>();
    for (const r of resources) {
      const role = r.allocationInfo?.role || fallback;
      const same = byRole.get(role);
      if (same === undefined) byRole.set(role, [r]);
      else same.push(r);
    }
    for (const [role, rs] of byRole) {
      charge(agent, this.book, frameworkId, role, this.kinds.bagOf(rs), sign);
      if (this.order === undefined) continue;
      const frameworkIds = this.moved.get(role);
      if (frameworkIds === undefined) this.moved.set(role, new Set([frameworkId]));
      else frameworkIds.add(frameworkId);
    }
  }

  /**
   * Drops expired filters. Declines pile filters up (10,000 a cycle in
   * Mesos' DeclineOffers shape, lasting much longer than a cycle), so a
   * framework's are walked only once the earliest of them has expired, and
   * the frameworks only once the earliest of all has (an event-driven pass
   * would otherwise visit every framework).
   */
  private expireFilters(now: number): void {
    if (this.filtersExpireAt > now) return;
    let next = Infinity;
    for (const f of this.frameworks.values()) {
      if (f.filtersLastUntil > now) {
        next = Math.min(next, f.filtersLastUntil);
        continue;
      }
      next = Math.min(next, expireFilters(f, this.agents, now));
    }
    this.filtersExpireAt = next;
  }

  /** role → its frameworks, sorted by id; cached until the frameworks or their roles change. */
  private roleMembers(): Map<string, string[]> {
    if (this.members !== undefined) return this.members;
    const members = new Map<string, string[]>();
    for (const [id, f] of [...this.frameworks].sort(([a], [b]) => byName(a, b))) {
      for (const role of f.roles) {
        const ids = members.get(role);
        if (ids === undefined) members.set(role, [id]);
        else ids.push(id);
      }
    }
    this.members = members;
    return members;
  }

  /** Every agent, by name, or shuffled by `options.random`: a list the caller may keep (never changed later). */
  private agentOrder(): readonly string[] {
    this.sortedAgentIds ??= [...this.agents.keys()].sort(byName);
    const random = this.options.random;
    if (random === undefined) return this.sortedAgentIds;
    const ids = [...this.sortedAgentIds];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return ids;
  }

  eligible(f: FrameworkEntry, role: string, agentId: string, agent: AgentEntry, now: number): boolean {
    // Asked for every framework a pass tries on every agent: look only into what is not empty.
    if (!f.active || (f.suppressed.size > 0 && f.suppressed.has(role))) return false;
    const declinedBy = agent.declinedBy;
    if (declinedBy !== undefined && (declinedBy.get(f.id) ?? -Infinity) > now) return false;
    if (f.offerFilters.size === 0) return true;
    const constraint = f.offerFilters.get(role);
    return constraint === undefined || constraint(this.facts.get(agentId) ?? { hostname: "", attributes: [] });
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
