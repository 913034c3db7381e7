import { roundScalar } from "../resources/index.js";
import { type Amount, type Bag, isEmptyAmount, type Kind } from "./bag.js";
import type { Quantities, QuotaLedger } from "./quota-ledger.js";

/**
 * The two stages of a pass, as in Mesos 1.9: first roles below their quota
 * guarantees get resources toward them; then everyone by DRF.
 */
export type Stage = "guarantees" | "fair";

/** What of an agent's free resources one role is offered, and what of it counts toward quota. */
export interface Portion {
  resources: Bag;
  /** The unreserved, non-revocable scalars in `resources`. */
  unreserved: ReadonlyMap<string, number>;
}

/** Without quota nobody reads what a portion counts toward it: one empty map for all. */
const NOTHING_COUNTED: ReadonlyMap<string, number> = new Map();

/** Unreserved resources to any role; reserved ones to their role and its descendants. */
export function allocatableTo(kind: Kind, role: string): boolean {
  const reserved = kind.reservedTo;
  return (
    reserved === "*" ||
    reserved === role ||
    (role.length > reserved.length && role.startsWith(reserved) && role[reserved.length] === "/")
  );
}

/**
 * Whether stage two could give `role` anything of `free`: a kind that
 * quota does not cap, or room under both its limits and the headroom. Most
 * roles at their limits are turned away here without building anything.
 */
function mayGetAnything(free: Bag, role: string, ledger: QuotaLedger): boolean {
  for (const [kind, amount] of free) {
    if (isEmptyAmount(amount) || !allocatableTo(kind, role)) continue;
    if (!kind.quota || (ledger.limitRoom(role, kind.name) > 0 && ledger.headroomRoom(kind.name) > 0)) return true;
  }
  return false;
}

/**
 * What of `free` may go to `role` in `stage`. Reservations (in stage one
 * only the role's own), non-scalar and revocable resources always go along.
 * Unreserved scalars go toward the role's unmet guarantees first (stage one
 * only; within limits but not subject to headroom, so guarantees are met
 * even when the cluster is overcommitted); beyond that they stay within the
 * limits on the role's path and leave the headroom other roles' guarantees
 * need. In stage one the role gets nothing unless some of it goes toward
 * its guarantees. Without a ledger (no quota anywhere) this is all of
 * `free` allocatable to the role.
 */
export function portionFor(
  free: Bag,
  role: string,
  ledger: QuotaLedger | undefined,
  stage: Stage,
): Portion | undefined {
  const resources: Bag = new Map();
  if (ledger === undefined) {
    for (const kind of free.keys()) {
      const amount = free.get(kind) as Amount;
      if (!isEmptyAmount(amount) && allocatableTo(kind, role)) resources.set(kind, amount);
    }
    return { resources, unreserved: NOTHING_COUNTED };
  }
  const unreserved: Quantities = new Map();
  if (stage === "fair" && !mayGetAnything(free, role, ledger)) return { resources: new Map(), unreserved };
  // Asked for every role on every agent with something free: the maps are
  // made only once a kind that counts toward quota shows up.
  let unmet: Quantities | undefined;
  let limitRoom: Quantities | undefined;
  let headroom: Quantities | undefined;
  let towardGuarantees = false;
  for (const [kind, amount] of free) {
    if (isEmptyAmount(amount) || !allocatableTo(kind, role)) continue;
    if (!kind.quota) {
      if (stage === "fair" || !kind.quotaScalar || kind.reservedTo === role) resources.set(kind, amount);
      continue;
    }
    const name = kind.name;
    unmet ??= stage === "guarantees" ? ledger.unsatisfied(role) : new Map<string, number>();
    limitRoom ??= new Map<string, number>();
    headroom ??= new Map<string, number>();
    const room = limitRoom.get(name) ?? ledger.limitRoom(role, name);
    // A guarantee is within the role's own limit (validated), but an
    // ancestor's limit may already be used up by the role's siblings.
    const guaranteed = Math.max(0, Math.min(amount as number, unmet.get(name) ?? 0, room));
    if (guaranteed > 0) towardGuarantees = true;
    unmet.set(name, roundScalar((unmet.get(name) ?? 0) - guaranteed));
    const lRoom = roundScalar(room - guaranteed);
    const hRoom = headroom.get(name) ?? ledger.headroomRoom(name);
    const extra = Math.max(0, Math.min((amount as number) - guaranteed, lRoom, hRoom));
    limitRoom.set(name, roundScalar(lRoom - extra));
    headroom.set(name, roundScalar(hRoom - extra));
    const offered = roundScalar(guaranteed + extra);
    if (offered <= 0) continue;
    resources.set(kind, offered);
    unreserved.set(name, roundScalar((unreserved.get(name) ?? 0) + offered));
  }
  if (stage === "guarantees" && !towardGuarantees) return undefined;
  return { resources, unreserved };
}
