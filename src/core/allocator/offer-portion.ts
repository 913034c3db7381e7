import { clone } from "@bufbuild/protobuf";
import { ResourceSchema, Value_Type, type Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { allocatableToRole, isReserved, reservationRole, roundScalar } from "../resources/index.js";
import type { Quantities, QuotaLedger } from "./quota-ledger.js";

/**
 * The two stages of a pass, as in Mesos 1.9: first roles below their quota
 * guarantees get resources toward them; then everyone by DRF.
 */
export type Stage = "guarantees" | "fair";

/** What of an agent's free resources one role is offered, and what of it counts toward quota. */
export interface Portion {
  resources: Resource[];
  /** The unreserved, non-revocable scalars in `resources`. */
  unreserved: Quantities;
}

/** Unreserved, non-revocable scalars: what quota guarantees, limits and headroom are about. */
function countsTowardQuota(r: Resource): boolean {
  return r.type === Value_Type.SCALAR && r.revocable === undefined && !isReserved(r);
}

function chop(r: Resource, amount: number): Resource {
  if (amount === r.scalar?.value) return r;
  const cut = clone(ResourceSchema, r);
  cut.scalar = { $typeName: "mesos.v1.Value.Scalar", value: amount };
  return cut;
}

/**
 * What of `free` may go to `role` in `stage`. Reservations (in stage one
 * only the role's own), non-scalar and revocable resources always go along.
 * Unreserved scalars go toward the role's unmet guarantees first (stage one
 * only; within limits but not subject to headroom, so guarantees are met
 * even when the cluster is overcommitted); beyond that they stay within the limits on the role's
 * path and leave the headroom other roles' guarantees need. In stage one the
 * role gets nothing unless some of it goes toward its guarantees. Without a
 * ledger (no quota anywhere) this is all of `free` allocatable to the role.
 */
export function portionFor(free: Resource[], role: string, ledger: QuotaLedger | undefined, stage: Stage): Portion | undefined {
  const unreserved: Quantities = new Map();
  if (ledger === undefined) {
    const resources = free.filter((r) => allocatableToRole(r, role));
    return { resources, unreserved };
  }
  const unmet = stage === "guarantees" ? ledger.unsatisfied(role) : new Map<string, number>();
  const limitRoom = new Map<string, number>();
  const headroom = new Map<string, number>();
  let towardGuarantees = false;
  const resources: Resource[] = [];
  for (const r of free) {
    if (!allocatableToRole(r, role)) continue;
    if (!countsTowardQuota(r)) {
      if (stage === "fair" || r.type !== Value_Type.SCALAR || r.revocable !== undefined || reservationRole(r) === role) resources.push(r);
      continue;
    }
    const amount = r.scalar?.value ?? 0;
    const room = limitRoom.get(r.name) ?? ledger.limitRoom(role, r.name);
    // A guarantee is within the role's own limit (validated), but an
    // ancestor's limit may already be used up by the role's siblings.
    const guaranteed = Math.max(0, Math.min(amount, unmet.get(r.name) ?? 0, room));
    if (guaranteed > 0) towardGuarantees = true;
    unmet.set(r.name, roundScalar((unmet.get(r.name) ?? 0) - guaranteed));
    const lRoom = roundScalar(room - guaranteed);
    const hRoom = headroom.get(r.name) ?? ledger.headroomRoom(r.name);
    const extra = Math.max(0, Math.min(amount - guaranteed, lRoom, hRoom));
    limitRoom.set(r.name, roundScalar(lRoom - extra));
    headroom.set(r.name, roundScalar(hRoom - extra));
    const offered = roundScalar(guaranteed + extra);
    if (offered <= 0) continue;
    resources.push(chop(r, offered));
    unreserved.set(r.name, roundScalar((unreserved.get(r.name) ?? 0) + offered));
  }
  if (stage === "guarantees" && !towardGuarantees) return undefined;
  return { resources, unreserved };
}
