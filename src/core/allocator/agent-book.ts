import { addInto, combine, containsBag, isEmptyAmount, quantityOf, subtractFrom, type Amount, type Bag, type Kind } from "./bag.js";
import type { ShareBook } from "./shares.js";

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
}

/** A new ledger with everything free. */
export function newAgent(total: Bag): AgentEntry {
  return { total, free: new Map(total), held: new Map() };
}

/** free[kind] = total[kind] minus each holding in turn, as freeOf subtracted them. */
function refreshKind(agent: AgentEntry, kind: Kind): void {
  const total = agent.total.get(kind);
  if (total === undefined) return;
  let free: Amount = total;
  for (const byRole of agent.held.values()) {
    for (const bag of byRole.values()) {
      const held = bag.get(kind);
      if (held !== undefined) free = combine(free, held, -1);
    }
  }
  agent.free.set(kind, free);
}

/** Recomputes `free` in full (after `total` changed). */
export function refreshFree(agent: AgentEntry): void {
  agent.free = new Map(agent.total);
  for (const kind of agent.total.keys()) refreshKind(agent, kind);
}

/**
 * Adds (sign 1) or takes back (sign -1) resources held by a framework in a
 * role, keeping `free` and the share book in step. Taking back more than is
 * held takes back only what is held, so bookkeeping cannot go negative.
 */
export function charge(agent: AgentEntry, book: ShareBook, frameworkId: string, role: string, resources: Bag, sign: 1 | -1): void {
  let byRole = agent.held.get(frameworkId);
  if (byRole === undefined) {
    if (sign === -1) return;
    byRole = new Map();
    agent.held.set(frameworkId, byRole);
  }
  let held = byRole.get(role);
  if (held === undefined) {
    if (sign === -1) return;
    held = new Map();
    byRole.set(role, held);
  }
  const delta = new Map<Kind, number>();
  for (const [kind, amount] of resources) {
    const before = held.get(kind);
    if (before === undefined && sign === -1) continue;
    const after = before === undefined ? amount : combine(before, amount, sign);
    if (kind.counted) {
      const change = quantityOf(after) - (before === undefined ? 0 : quantityOf(before));
      if (change !== 0) delta.set(kind, change);
    }
    if (isEmptyAmount(after)) held.delete(kind);
    else held.set(kind, after);
  }
  if (held.size === 0) byRole.delete(role);
  if (byRole.size === 0) agent.held.delete(frameworkId);
  for (const kind of resources.keys()) refreshKind(agent, kind);
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
