import {
  type Amount,
  addInto,
  type Bag,
  combine,
  containsAmount,
  containsBag,
  isEmptyAmount,
  type Kind,
  quantityOf,
  subtractFrom,
} from "./bag.js";
import { Delta, type ShareBook } from "./shares.js";

/**
 * One agent's ledger. Invariants: `free` is `total` minus everything in
 * `held`, clamped at zero, so it is always contained in `total`; it keeps
 * every kind of `total` in `total`'s order, empty or not, so that it reads
 * as the old `total - held` list did. Held bags have no empty entries.
 */
export interface AgentEntry {
  total: Bag;
  free: Bag;
  /** framework id → role → resources held. */
  readonly held: Map<string, Map<string, Bag>>;
  /**
   * Every holding fits in what was free when it was charged, so holdings
   * are disjoint and `free` is exactly `total` minus their sum: a charge
   * can then update `free` by itself instead of walking every holder.
   * False once something was charged beyond what was free (an agent
   * re-registering with more than its total, say); then `free` is always
   * recomputed as before.
   */
  exact: boolean;
  /** framework id → time (ms) before which this agent is not offered to it (see framework-entry.ts). */
  declinedBy: Map<string, number> | undefined;
}

/** A new ledger with everything free. */
export function newAgent(total: Bag): AgentEntry {
  return { total, free: new Map(total), held: new Map(), exact: true, declinedBy: undefined };
}

/**
 * free[kind] = total[kind] minus each holding in turn, as freeOf subtracted
 * them; whether each holding fit in what was left before it.
 */
function refreshKind(agent: AgentEntry, kind: Kind): boolean {
  const total = agent.total.get(kind);
  if (total === undefined) return false;
  let free: Amount = total;
  let fits = true;
  for (const byRole of agent.held.values()) {
    for (const bag of byRole.values()) {
      const held = bag.get(kind);
      if (held === undefined) continue;
      if (fits && !containsAmount(free, held)) fits = false;
      free = combine(free, held, -1);
    }
  }
  agent.free.set(kind, free);
  return fits;
}

/** Recomputes `free` in full (after `total` changed). */
export function refreshFree(agent: AgentEntry): void {
  agent.free = new Map(agent.total);
  let exact = true;
  for (const kind of agent.total.keys()) if (!refreshKind(agent, kind)) exact = false;
  for (const byRole of agent.held.values())
    for (const bag of byRole.values()) for (const kind of bag.keys()) if (!agent.total.has(kind)) exact = false;
  agent.exact = exact;
}

/** Keeps free[kind] in step with a holding that changed by `amount` (held `before` it). */
function updateFree(agent: AgentEntry, kind: Kind, amount: Amount, before: Amount | undefined, sign: 1 | -1): void {
  const free = agent.free.get(kind);
  if (agent.exact && free !== undefined) {
    if (sign === 1 && containsAmount(free, amount)) {
      agent.free.set(kind, combine(free, amount, -1));
      return;
    }
    // What comes back was held by this holder alone, so it was not free.
    if (sign === -1 && before !== undefined && containsAmount(before, amount)) {
      agent.free.set(kind, combine(free, amount, 1));
      return;
    }
    if (sign === 1) agent.exact = false;
  } else if (agent.exact && sign === 1) {
    agent.exact = false;
  }
  refreshKind(agent, kind);
}

/**
 * What one charge changes in the share book, reused by every charge (they
 * never nest, and recharge reads it before returning): charging runs once
 * per offer and per recovered resource, and a fresh map each time was
 * garbage the young generation then had to sweep.
 */
const DELTA = new Delta();

/**
 * Adds (sign 1) or takes back (sign -1) resources held by a framework in a
 * role, keeping `free` and the share book in step. Taking back more than is
 * held takes back only what is held, so bookkeeping cannot go negative.
 * With `owned`, the caller hands `resources` over: when the framework held
 * nothing in the role, the bag becomes its holding instead of a copy (an
 * offer's portion, built for it alone: one map less to outlive the pass).
 */
export function charge(
  agent: AgentEntry,
  book: ShareBook,
  frameworkId: string,
  role: string,
  resources: Bag,
  sign: 1 | -1,
  owned = false,
): void {
  let byRole = agent.held.get(frameworkId);
  if (byRole === undefined) {
    if (sign === -1) return;
    byRole = new Map();
    agent.held.set(frameworkId, byRole);
  }
  let held = byRole.get(role);
  const fresh = held === undefined;
  if (held === undefined) {
    if (sign === -1) return;
    held = owned ? resources : new Map();
    byRole.set(role, held);
  }
  const delta = DELTA;
  delta.clear();
  // Keys, then get: destructured entries were an array per kind per charge.
  for (const kind of resources.keys()) {
    const amount = resources.get(kind) as Amount;
    const before = fresh ? undefined : held.get(kind);
    if (before === undefined && sign === -1) continue;
    const after = before === undefined ? amount : combine(before, amount, sign);
    if (kind.counted) {
      const change = quantityOf(after) - (before === undefined ? 0 : quantityOf(before));
      if (change !== 0) delta.add(kind, change);
    }
    if (isEmptyAmount(after)) held.delete(kind);
    else if (!(fresh && owned)) held.set(kind, after);
    updateFree(agent, kind, amount, before, sign);
  }
  if (held.size === 0) byRole.delete(role);
  if (byRole.size === 0) agent.held.delete(frameworkId);
  book.recharge(role, frameworkId, delta);
}

/** Takes back everything a framework holds on the agent (all frameworks when omitted). */
export function release(agent: AgentEntry, book: ShareBook, frameworkId?: string): void {
  for (const [id, byRole] of [...agent.held]) {
    if (frameworkId !== undefined && id !== frameworkId) continue;
    for (const [role, held] of [...byRole]) charge(agent, book, id, role, new Map(held), -1);
  }
}

/** Everything held on the agent, optionally only in one role. */
export function heldOn(agent: AgentEntry, role?: string): Bag {
  const all: Bag = new Map();
  for (const byRole of agent.held.values()) {
    for (const [r, held] of byRole) if (role === undefined || r === role) addInto(all, held);
  }
  return all;
}

/** Whether the framework holds `resources` in `role` on the agent. */
export function holds(agent: AgentEntry, frameworkId: string, role: string, resources: Bag): boolean {
  return containsBag(agent.held.get(frameworkId)?.get(role) ?? new Map(), resources);
}

/** Replaces the agent's total by `total - consumed + converted` and recomputes what is free. */
export function convertTotal(agent: AgentEntry, consumed: Bag, converted: Bag): void {
  const total = new Map(agent.total);
  subtractFrom(total, consumed);
  addInto(total, converted);
  agent.total = total;
  refreshFree(agent);
}
