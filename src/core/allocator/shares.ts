import { roundScalar } from "../resources/index.js";
import { type Bag, DRF_KINDS, type Kind, quantityOf } from "./bag.js";
import { selfAndAncestors } from "./limits.js";

export { DRF_KINDS };

type Quantities = Map<string, number>;

const EMPTY: ReadonlyMap<string, number> = new Map();

/**
 * roundScalar(sum), skipping the arithmetic when the sum is a whole number
 * it would leave alone (cpus, mem and disk mostly are): bumped a dozen
 * times per charge.
 */
function roundSum(sum: number): number {
  if (Number.isInteger(sum) && Math.abs(sum) <= MAX_EXACT) return sum === 0 ? 0 : sum;
  return roundScalar(sum);
}

/** Past this, `x * 1000` in roundScalar is no longer exact for whole numbers. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER / 1000;

function bump(into: Quantities, name: string, n: number): void {
  const next = roundSum((into.get(name) ?? 0) + n);
  if (next === 0) into.delete(name);
  else into.set(name, next);
}

function apply(into: Quantities, delta: ReadonlyMap<string, number>, sign: 1 | -1): void {
  for (const [name, n] of delta) bump(into, name, sign * n);
}

/** The quantities under `key`, added (empty) when missing; the caller drops them again if they stay empty. */
function entryOf(byKey: Map<string, Quantities>, key: string): Quantities {
  let q = byKey.get(key);
  if (q === undefined) {
    q = new Map();
    byKey.set(key, q);
  }
  return q;
}

function bumpRole(byRole: Map<string, Quantities>, role: string, name: string, n: number): void {
  const q = byRole.get(role) ?? new Map<string, number>();
  bump(q, name, n);
  if (q.size === 0) byRole.delete(role);
  else byRole.set(role, q);
}

function dominant(allocated: ReadonlyMap<string, number> | undefined, totals: Quantities): number {
  if (allocated === undefined) return 0;
  let share = 0;
  for (const kind of DRF_KINDS) {
    const total = totals.get(kind) ?? 0;
    if (total > 0) share = Math.max(share, (allocated?.get(kind) ?? 0) / total);
  }
  return share;
}

/**
 * Running totals for DRF: the cluster's quantities and what each role, and
 * each framework within a role, holds (of counted kinds, see Kind.counted). Kept incrementally so that sorting
 * during a pass costs no walk over every agent. Invariant: each quantity
 * equals the sum of the charges applied to it (rounded to 0.001), and
 * entries that reach zero are dropped.
 */
export class ShareBook {
  private readonly totals: Quantities = new Map();
  private readonly byRole = new Map<string, Quantities>();
  private readonly byFramework = new Map<string, Map<string, Quantities>>();
  /**
   * What each node of the role tree and everything below it holds, kept
   * with every charge: hierarchical DRF re-orders the tree after each offer
   * and would otherwise sum every role for every node.
   */
  private readonly bySubtree = new Map<string, Quantities>();
  /** Reserved scalars in the cluster by the role they are reserved to, allocated or not. */
  private readonly reservedByRole = new Map<string, Quantities>();
  /** Unreserved scalars: the cluster's, and those held, per role and in all. */
  private readonly unreservedTotal: Quantities = new Map();
  private readonly unreservedByRole = new Map<string, Quantities>();
  private readonly unreservedHeld: Quantities = new Map();
  /** See pathOf. */
  private readonly paths = new Map<string, readonly string[]>();

  /** Adds (sign 1) or removes (sign -1) an agent's total from the cluster. */
  addTotal(resources: Bag, sign: 1 | -1): void {
    for (const [kind, amount] of resources) {
      const n = quantityOf(amount);
      if (n === 0) continue;
      bump(this.totals, kind.name, sign * n);
      if (kind.quota) bump(this.unreservedTotal, kind.name, sign * n);
      else if (kind.quotaScalar) bumpRole(this.reservedByRole, kind.reservedTo, kind.name, sign * n);
    }
  }

  /**
   * What counts toward each role's quota (its reservations, and the
   * unreserved scalars it holds; a role may appear twice), and the
   * cluster's unreserved scalars nobody holds.
   */
  quotaInputs(): { consumedParts: Array<[string, ReadonlyMap<string, number>]>; unreservedFree: Quantities } {
    const unreservedFree = new Map(this.unreservedTotal);
    apply(unreservedFree, this.unreservedHeld, -1);
    return { consumedParts: [...this.reservedByRole, ...this.unreservedByRole], unreservedFree };
  }

  /**
   * Records that `frameworkId`'s holding in `role` changed by `delta`
   * (quantity per kind). Runs on every charge: each map is looked up once
   * per call, not once per kind.
   */
  recharge(role: string, frameworkId: string, delta: ReadonlyMap<Kind, number>): void {
    if (delta.size === 0) return;
    const roleQ = entryOf(this.byRole, role);
    const frameworks = this.byFramework.get(role) ?? new Map<string, Quantities>();
    if (frameworks.size === 0) this.byFramework.set(role, frameworks);
    const frameworkQ = entryOf(frameworks, frameworkId);
    let unreservedQ: Quantities | undefined;
    // Keys, then get: destructured entries were an array per kind per charge.
    for (const kind of delta.keys()) {
      const n = delta.get(kind) as number;
      bump(roleQ, kind.name, n);
      bump(frameworkQ, kind.name, n);
      if (kind.quota) {
        unreservedQ ??= entryOf(this.unreservedByRole, role);
        bump(unreservedQ, kind.name, n);
        bump(this.unreservedHeld, kind.name, n);
      }
    }
    for (const node of this.pathOf(role)) {
      const q = entryOf(this.bySubtree, node);
      for (const kind of delta.keys()) bump(q, kind.name, delta.get(kind) as number);
      if (q.size === 0) this.bySubtree.delete(node);
    }
    if (unreservedQ?.size === 0) this.unreservedByRole.delete(role);
    if (frameworkQ.size === 0) frameworks.delete(frameworkId);
    if (frameworks.size === 0) this.byFramework.delete(role);
    if (roleQ.size === 0) this.byRole.delete(role);
  }

  /** selfAndAncestors(role), memoized: asked on every charge, and roles are few. */
  private pathOf(role: string): readonly string[] {
    let nodes = this.paths.get(role);
    if (nodes === undefined) {
      nodes = selfAndAncestors(role);
      this.paths.set(role, nodes);
    }
    return nodes;
  }

  /** The role's dominant share divided by its weight (weight > 0). */
  roleShare(role: string, weight: number): number {
    return dominant(this.byRole.get(role), this.totals) / weight;
  }

  /**
   * The dominant share of everything held in `role` and its sub-roles
   * (`eng` counts `eng/web`), divided by the role's weight.
   */
  subtreeShare(role: string, weight: number): number {
    return dominant(this.subtreeQuantities(role), this.totals) / weight;
  }

  /** What `role` and its sub-roles hold, by resource name. */
  subtreeQuantities(role: string): ReadonlyMap<string, number> {
    return this.bySubtree.get(role) ?? EMPTY;
  }

  /** The framework's dominant share of what it holds in `role`. */
  frameworkShare(role: string, frameworkId: string): number {
    return dominant(this.byFramework.get(role)?.get(frameworkId), this.totals);
  }
}
