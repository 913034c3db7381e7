import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { addResources, isEmptyResources, subtractResources, unallocated } from "../resources/index.js";
import type { ShareBook } from "./shares.js";

/**
 * One agent's ledger. Invariants: `free` is `total` minus everything in
 * `held`, clamped at zero, so it is always contained in `total`; held
 * resources have no allocation_info and no empty entries.
 */
export interface AgentEntry {
  total: Resource[];
  free: Resource[];
  /** framework id → role → resources held. */
  readonly held: Map<string, Map<string, Resource[]>>;
}

/** A new ledger with everything free. */
export function newAgent(total: Resource[]): AgentEntry {
  const bare = addResources([], unallocated(total));
  return { total: bare, free: bare, held: new Map() };
}

/** `total` minus everything held. */
export function freeOf(agent: AgentEntry): Resource[] {
  let free = agent.total;
  for (const byRole of agent.held.values()) for (const r of byRole.values()) free = subtractResources(free, r);
  return free;
}

/**
 * Adds (sign 1) or takes back (sign -1) resources held by a framework in a
 * role, keeping `free` and the share book in step. Taking back more than is
 * held takes back only what is held, so bookkeeping cannot go negative.
 */
export function charge(agent: AgentEntry, book: ShareBook, frameworkId: string, role: string, resources: Resource[], sign: 1 | -1): void {
  const byRole = agent.held.get(frameworkId) ?? new Map<string, Resource[]>();
  const before = byRole.get(role) ?? [];
  const bare = unallocated(resources);
  const after = sign === 1 ? addResources(before, bare) : subtractResources(before, bare);
  if (isEmptyResources(after)) byRole.delete(role);
  else byRole.set(role, after);
  if (byRole.size === 0) agent.held.delete(frameworkId);
  else agent.held.set(frameworkId, byRole);
  book.recharge(role, frameworkId, before, after);
  agent.free = freeOf(agent);
}

/** Takes back everything a framework holds on the agent (all frameworks when omitted). */
export function release(agent: AgentEntry, book: ShareBook, frameworkId?: string): void {
  for (const [id, byRole] of [...agent.held]) {
    if (frameworkId !== undefined && id !== frameworkId) continue;
    for (const [role, held] of [...byRole]) charge(agent, book, id, role, held, -1);
  }
}

/** Everything held on the agent, optionally only in one role. */
export function heldOn(agent: AgentEntry, role?: string): Resource[] {
  let all: Resource[] = [];
  for (const byRole of agent.held.values()) {
    for (const [r, held] of byRole) if (role === undefined || r === role) all = addResources(all, held);
  }
  return all;
}
