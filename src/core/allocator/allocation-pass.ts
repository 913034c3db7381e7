import { addResources } from "../resources/index.js";
import { type AgentEntry, charge } from "./agent-book.js";
import { type Amount, type Bag, isEmptyAmount, isEmptyBag, type KindTable, quantityNamed, quantityOf } from "./bag.js";
import type { FrameworkEntry } from "./framework-entry.js";
import { type Portion, portionFor, type Stage } from "./offer-portion.js";
import type { PassOrder } from "./pass-order.js";
import type { QuotaLedger } from "./quota-ledger.js";
import type { ShareBook } from "./shares.js";
import type { Allocation } from "./types.js";

/** What a pass needs from the allocator around it. */
export interface PassContext {
  readonly agents: ReadonlyMap<string, AgentEntry>;
  readonly book: ShareBook;
  readonly kinds: KindTable;
  readonly minAllocatable: ReadonlyArray<ReadonlyMap<string, number>>;
  /** Active, unsuppressed in `role`, not filtering the agent, and the agent passes its offer constraints. */
  eligible(framework: FrameworkEntry, role: string, agentId: string, agent: AgentEntry, now: number): boolean;
}

/**
 * One allocation pass over some agents, in two stages as in Mesos 1.9+:
 * stage one offers roles below their quota guarantees resources toward them
 * (only when some guarantee is unmet), stage two offers what is left by DRF
 * within limits and headroom. Agents' ledgers, the share book, the DRF
 * order and the quota ledger are charged as each offer is made, so each
 * decision sees the ones before it.
 */
export function runPass(
  ctx: PassContext,
  order: PassOrder,
  ledger: QuotaLedger | undefined,
  agentIds: readonly string[],
  now: number,
): Allocation[] {
  return new AllocationPass(ctx, order, ledger, now).run(agentIds);
}

class AllocationPass {
  private readonly offers: OfferBatch;
  /**
   * Who was served on the agent at hand in stage two (framework and role
   * at the same index, `served` of them); reused from agent to agent, and
   * never shortened: setting an array's length to 0 gives up its storage,
   * and the next push took new room for 17.
   */
  private readonly servedFrameworks: string[] = [];
  private readonly servedRoles: string[] = [];
  private served = 0;
  /**
   * What pick() found, in fields rather than a new object per offer: each
   * object made per offer was garbage the young generation swept (a cycle
   * at 10,000 agents allocated about 1 KB per offer).
   */
  private pickedFramework = "";
  private pickedRole = "";
  private pickedPortion: Portion | undefined;

  constructor(
    private readonly ctx: PassContext,
    private readonly order: PassOrder,
    private readonly ledger: QuotaLedger | undefined,
    private readonly now: number,
  ) {
    this.offers = new OfferBatch(ledger?.anyUnsatisfied === true);
  }

  run(agentIds: readonly string[]): Allocation[] {
    const ledger = this.ledger;
    if (ledger?.anyUnsatisfied) {
      for (const agentId of agentIds) {
        const agent = this.ctx.agents.get(agentId);
        if (agent !== undefined) this.allocateGuarantees(agentId, agent, ledger);
      }
    }
    for (const agentId of agentIds) {
      const agent = this.ctx.agents.get(agentId);
      if (agent !== undefined) this.allocateAgent(agentId, agent);
    }
    return this.offers.list;
  }

  /**
   * Stage one on one agent: roles below their guarantees, in DRF order, get
   * resources toward them, each of their frameworks in turn until met.
   */
  private allocateGuarantees(agentId: string, agent: AgentEntry, ledger: QuotaLedger): void {
    const order = this.order;
    // Mesos sorts once per agent in this stage; the copies also keep the
    // loops off lists that charging re-sorts.
    if (!ledger.anyUnsatisfied) return;
    for (const { key: role } of flatten(order.roles())) {
      if (!ledger.isHungry(role)) continue;
      if (isEmptyBag(agent.free)) return;
      for (const { key: frameworkId, framework } of flatten(order.frameworks(role))) {
        if (!ledger.isHungry(role)) break;
        if (framework === undefined || !this.ctx.eligible(framework, role, agentId, agent, this.now)) continue;
        const portion = portionFor(agent.free, role, ledger, "guarantees");
        if (portion === undefined || !this.meetsMinimum(portion.resources)) continue;
        this.offer(agentId, agent, frameworkId, role, portion);
      }
    }
  }

  /** Stage two on one agent: its free resources by DRF, possibly to several roles in turn. */
  private allocateAgent(agentId: string, agent: AgentEntry): void {
    // Each (framework, role) is served at most once per agent per stage: it
    // takes everything allocatable to the role, so a second turn has nothing.
    // A list, not a set of joined keys: an agent is mostly offered to one or two.
    this.served = 0;
    while (!isEmptyBag(agent.free)) {
      if (!this.pick(agentId, agent)) return;
      const { pickedFramework, pickedRole } = this;
      this.servedFrameworks[this.served] = pickedFramework;
      this.servedRoles[this.served] = pickedRole;
      this.served++;
      this.offer(agentId, agent, pickedFramework, pickedRole, this.pickedPortion as Portion);
    }
  }

  private offer(agentId: string, agent: AgentEntry, frameworkId: string, role: string, portion: Portion): void {
    charge(agent, this.ctx.book, frameworkId, role, portion.resources, 1, true);
    this.ledger?.charged(role, portion.unreserved);
    this.order.charged(role, frameworkId);
    this.offers.add({ frameworkId, agentId, role, resources: this.ctx.kinds.resourcesOf(portion.resources, role) });
  }

  /**
   * Finds the next (framework, role) to offer the agent's free resources to
   * in stage two, in DRF order, into the picked fields; false when none.
   */
  private pick(agentId: string, agent: AgentEntry): boolean {
    const ledger = this.ledger;
    const free = agent.free;
    // Roles at their limits cannot use an agent that has only unreserved scalars left.
    const onlyQuota = ledger !== undefined && onlyQuotaKinds(free);
    for (const roles of this.order.roles()) {
      for (const { key: role } of roles) {
        if (onlyQuota && ledger.isCappedOut(role)) continue;
        const portion = this.offerable(free, role, "fair");
        if (portion === undefined) continue;
        const frameworkId = this.firstEligible(agentId, agent, role);
        if (frameworkId !== undefined) {
          this.pickedFramework = frameworkId;
          this.pickedRole = role;
          this.pickedPortion = portion;
          return true;
        }
      }
    }
    return false;
  }

  /** The role's first framework in DRF order not yet served on the agent and eligible for it. */
  private firstEligible(agentId: string, agent: AgentEntry, role: string): string | undefined {
    for (const frameworks of this.order.frameworks(role)) {
      for (const entry of frameworks) {
        const framework = entry.framework;
        if (framework === undefined || this.wasServed(entry.key, role)) continue;
        if (this.ctx.eligible(framework, role, agentId, agent, this.now)) return entry.key;
      }
    }
    return undefined;
  }

  /** What of `free` may go to `role` in `stage` (see portionFor), if it reaches the minimum allocatable. */
  private offerable(free: Bag, role: string, stage: Stage): Portion | undefined {
    const portion = portionFor(free, role, this.ledger, stage);
    return portion !== undefined && this.meetsMinimum(portion.resources) ? portion : undefined;
  }

  private wasServed(frameworkId: string, role: string): boolean {
    const frameworks = this.servedFrameworks;
    for (let i = 0; i < this.served; i++)
      if (frameworks[i] === frameworkId && this.servedRoles[i] === role) return true;
    return false;
  }

  private meetsMinimum(resources: Bag): boolean {
    if (resources.size === 0) return false;
    // Called for every role on every agent: no intermediate maps.
    for (const min of this.ctx.minAllocatable) {
      let all = true;
      // Keys, then get: destructured entries were an array per entry.
      for (const name of min.keys()) {
        if (quantityOfName(resources, name) < (min.get(name) as number)) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  }
}

/**
 * quantityNamed without rounding when one kind has the name (its amount is
 * rounded already, so the sum would be the same): asked for every role on
 * every agent, and each rounding made a heap number.
 */
function quantityOfName(resources: Bag, name: string): number {
  let found: Amount | undefined;
  // Keys, then get: destructured entries were an array per kind per call.
  for (const kind of resources.keys()) {
    if (kind.name !== name) continue;
    if (found !== undefined) return quantityNamed(resources, name);
    found = resources.get(kind);
  }
  return found === undefined ? 0 : quantityOf(found);
}

/**
 * A copy of an order's chunks as one list, by hand: Array.prototype.flat
 * made Mesos' quota shape (3,000 roles, copied for every agent) four times
 * slower than a spread of one array.
 */
function flatten<T>(chunks: readonly (readonly T[])[]): T[] {
  if (chunks.length === 1) return [...(chunks[0] as readonly T[])];
  const out: T[] = [];
  for (const chunk of chunks) for (const item of chunk) out.push(item);
  return out;
}

function onlyQuotaKinds(free: Bag): boolean {
  for (const [kind, amount] of free) if (!kind.quota && !isEmptyAmount(amount)) return false;
  return true;
}

/**
 * A pass's proposals, one per (agent, framework, role): what stage two
 * offers a framework that stage one already served on the agent joins the
 * same offer, as in Mesos.
 */
class OfferBatch {
  readonly list: Allocation[] = [];
  private readonly byKey = new Map<string, Allocation>();

  /** Without stage one, every (agent, framework, role) is served once: nothing to merge. */
  constructor(private readonly merging: boolean) {}

  add(offer: Allocation): void {
    if (!this.merging) {
      this.list.push(offer);
      return;
    }
    const key = `${offer.agentId}\n${offer.frameworkId}\n${offer.role}`;
    const earlier = this.byKey.get(key);
    if (earlier === undefined) {
      this.byKey.set(key, offer);
      this.list.push(offer);
    } else {
      earlier.resources = addResources(earlier.resources, offer.resources);
    }
  }
}
