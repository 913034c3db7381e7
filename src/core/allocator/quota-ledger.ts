import { roundScalar } from "../resources/index.js";
import { selfAndAncestors } from "./limits.js";

/** Resource name → amount (scalars only). */
export type Quantities = Map<string, number>;

/** A role's quota (Mesos 1.9+): what it is guaranteed and the most it may hold, by scalar name. */
export interface RoleQuota {
  guarantees: ReadonlyMap<string, number>;
  limits: ReadonlyMap<string, number>;
}

function add(into: Quantities, delta: ReadonlyMap<string, number>, sign: 1 | -1 = 1): void {
  for (const [name, n] of delta) {
    const next = roundScalar((into.get(name) ?? 0) + sign * n);
    if (next === 0) into.delete(name);
    else into.set(name, next);
  }
}

/** `minuend - subtrahend`, keeping only what stays positive. */
function positiveDifference(
  minuend: ReadonlyMap<string, number>,
  subtrahend: ReadonlyMap<string, number> | undefined,
): Quantities {
  const out: Quantities = new Map();
  for (const [name, n] of minuend) {
    const left = roundScalar(n - (subtrahend?.get(name) ?? 0));
    if (left > 0) out.set(name, left);
  }
  return out;
}

/**
 * One pass's view of quota, as Mesos 1.9's allocator keeps it while it
 * allocates. A role's consumed quota is everything reserved to it or its
 * sub-roles (allocated or not) plus the unreserved resources they hold.
 * The required headroom is what the roles still need to meet their
 * guarantees; the available headroom is the cluster's unreserved free
 * scalars. Offering an unreserved scalar beyond a guarantee must keep
 * available >= required, so every guarantee can still be met later.
 *
 * Built from the share book at the start of a pass and then kept up to date
 * by `charged`, so no decision during the pass walks the cluster again.
 */
export class QuotaLedger {
  private readonly consumedByRole = new Map<string, Quantities>();
  private readonly required: Quantities = new Map();
  private readonly available: Quantities;
  /** Guaranteed roles with no guaranteed ancestor: their shortfalls add up to the required headroom. */
  private readonly topmost: Set<string>;
  /** Roles whose guarantees are not met yet. */
  private readonly hungry = new Set<string>();
  private readonly cappedOut = new Set<string>();
  /** Per role, the roles on its path (itself first) that have a quota; memoized, asked for every role on every agent. */
  private readonly quotaPaths = new Map<string, readonly string[]>();

  /**
   * `consumedParts` lists, per role, its reservations and its unreserved
   * holdings (both scalars); `unreservedFree` is the cluster's unreserved,
   * unallocated scalars.
   */
  constructor(
    private readonly quotas: ReadonlyMap<string, RoleQuota>,
    consumedParts: Iterable<[string, ReadonlyMap<string, number>]>,
    unreservedFree: Quantities,
  ) {
    this.available = unreservedFree;
    for (const role of quotas.keys()) this.consumedByRole.set(role, new Map());
    for (const [role, q] of consumedParts) {
      for (const owner of selfAndAncestors(role)) {
        const consumed = this.consumedByRole.get(owner);
        if (consumed !== undefined) add(consumed, q);
      }
    }
    const guaranteed = [...quotas].filter(([, quota]) => quota.guarantees.size > 0).map(([role]) => role);
    this.topmost = new Set(
      guaranteed.filter((role) =>
        selfAndAncestors(role)
          .slice(1)
          .every((a) => !quotas.get(a)?.guarantees.size),
      ),
    );
    for (const role of this.topmost) add(this.required, this.unsatisfied(role));
    for (const role of guaranteed) if (this.unsatisfied(role).size > 0) this.hungry.add(role);
  }

  private quotaPath(role: string): readonly string[] {
    let path = this.quotaPaths.get(role);
    if (path === undefined) {
      path = selfAndAncestors(role).filter((r) => this.quotas.has(r));
      this.quotaPaths.set(role, path);
    }
    return path;
  }

  /**
   * Whether `role` can get no unreserved scalar at all any more: each one
   * still free somewhere is at its limits or held back for headroom.
   * Within a pass rooms only shrink, so once true it stays true (memoized).
   */
  isCappedOut(role: string): boolean {
    if (this.cappedOut.has(role)) return true;
    for (const name of this.available.keys()) {
      if (this.limitRoom(role, name) > 0 && this.headroomRoom(name) > 0) return false;
    }
    this.cappedOut.add(role);
    return true;
  }

  /** Whether `role` has guarantees it does not meet yet. */
  isHungry(role: string): boolean {
    return this.hungry.has(role);
  }

  /** Whether any guarantee is still unmet (stage one has work to do). */
  get anyUnsatisfied(): boolean {
    return this.hungry.size > 0;
  }

  /** What `role` still lacks to meet its guarantees (empty when met or none). */
  unsatisfied(role: string): Quantities {
    const guarantees = this.quotas.get(role)?.guarantees;
    if (guarantees === undefined || guarantees.size === 0) return new Map();
    return positiveDifference(guarantees, this.consumedByRole.get(role));
  }

  /** How much more of `name` `role` may take under its own and its ancestors' limits. */
  limitRoom(role: string, name: string): number {
    let room = Infinity;
    for (const r of this.quotaPath(role)) {
      const limit = this.quotas.get(r)?.limits.get(name);
      if (limit !== undefined) room = Math.min(room, limit - (this.consumedByRole.get(r)?.get(name) ?? 0));
    }
    return room;
  }

  /**
   * How much unreserved `name` may go out beyond guarantees: the surplus of
   * available over required headroom (Infinity while no guarantee is unmet).
   */
  headroomRoom(name: string): number {
    if (this.required.size === 0) return Infinity;
    return (this.available.get(name) ?? 0) - (this.required.get(name) ?? 0);
  }

  /** `role` was just offered these unreserved scalars. */
  charged(role: string, unreserved: ReadonlyMap<string, number>): void {
    if (unreserved.size === 0) return;
    add(this.available, unreserved, -1);
    for (const owner of this.quotaPath(role)) {
      const consumed = this.consumedByRole.get(owner);
      if (consumed === undefined) continue;
      const before = this.topmost.has(owner) ? this.unsatisfied(owner) : undefined;
      add(consumed, unreserved);
      if (before !== undefined) {
        add(this.required, before, -1);
        add(this.required, this.unsatisfied(owner));
      }
      if (this.hungry.has(owner) && this.unsatisfied(owner).size === 0) this.hungry.delete(owner);
    }
  }
}
