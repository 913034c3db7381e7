import { roundScalar } from "../resources/index.js";
import { type Bag, DRF_KINDS, type Kind, quantityOf } from "./bag.js";
import { selfAndAncestors } from "./limits.js";

export { DRF_KINDS };

type Quantities = Map<string, number>;

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

function bumpRole(byRole: Map<string, Quantities>, role: string, name: string, n: number): void {
  const q = byRole.get(role) ?? new Map<string, number>();
  bump(q, name, n);
  if (q.size === 0) byRole.delete(role);
  else byRole.set(role, q);
}

/**
 * Quantities by name id (Kind.nameId), zero where nothing is counted.
 * Arrays, not maps by name: every charge bumps a dozen of these, and a
 * map's get and set per bump were most of a charge's cost in the share
 * book (profiled at 10,000 agents × 1,000 frameworks).
 */
type Tally = number[];

/** Adds `n` to `tally[id]`, rounded as bump rounds (growing the array with zeros as needed). */
function bumpAt(tally: Tally, id: number, n: number): void {
  while (tally.length <= id) tally.push(0);
  tally[id] = roundSum((tally[id] as number) + n);
}

function tallyOf<K>(byKey: Map<K, Tally>, key: K): Tally {
  let tally = byKey.get(key);
  if (tally === undefined) {
    tally = [];
    byKey.set(key, tally);
  }
  return tally;
}

function isZero(tally: Tally): boolean {
  for (let i = 0; i < tally.length; i++) if (tally[i] !== 0) return false;
  return true;
}

/** The largest of held / total over DRF_KINDS (name ids 0 to DRF_KINDS.length - 1, see Kind.nameId). */
function dominant(held: Tally | undefined, totals: Tally): number {
  if (held === undefined) return 0;
  let share = 0;
  for (let id = 0; id < DRF_KINDS.length; id++) {
    const total = totals[id] ?? 0;
    if (total > 0) share = Math.max(share, (held[id] ?? 0) / total);
  }
  return share;
}

/**
 * What one charge changes per kind, filled by the caller and read by
 * ShareBook.recharge: one, reused, instead of a map per charge.
 */
export class Delta {
  readonly kinds: Kind[] = [];
  readonly amounts: number[] = [];
  size = 0;

  clear(): void {
    this.size = 0;
  }

  add(kind: Kind, n: number): void {
    this.kinds[this.size] = kind;
    this.amounts[this.size] = n;
    this.size++;
  }
}

/**
 * Running totals for DRF: the cluster's quantities and what each role, and
 * each framework within a role, holds (of counted kinds, see Kind.counted). Kept incrementally so that sorting
 * during a pass costs no walk over every agent. Invariant: each quantity
 * equals the sum of the charges applied to it (rounded to 0.001). Tallies
 * that reach zero are kept (see forgetFramework).
 */
export class ShareBook {
  /** The cluster's quantities of every name, by name id. */
  private readonly totals: Tally = [];
  /** Names by id, as far as this book has seen them. */
  private readonly names: string[] = [...DRF_KINDS];
  private readonly byRole = new Map<string, Tally>();
  private readonly byFramework = new Map<string, Map<string, Tally>>();
  /**
   * What each node of the role tree and everything below it holds, kept
   * with every charge: hierarchical DRF re-orders the tree after each offer
   * and would otherwise sum every role for every node.
   */
  private readonly bySubtree = new Map<string, Tally>();
  /** Reserved scalars in the cluster by the role they are reserved to, allocated or not. */
  private readonly reservedByRole = new Map<string, Quantities>();
  /** Unreserved scalars: the cluster's, and those held, per role and in all. */
  private readonly unreservedTotal: Quantities = new Map();
  private readonly unreservedByRole = new Map<string, Tally>();
  private readonly unreservedHeld: Tally = [];
  /** See pathOf. */
  private readonly paths = new Map<string, readonly string[]>();

  /** Adds (sign 1) or removes (sign -1) an agent's total from the cluster. */
  addTotal(resources: Bag, sign: 1 | -1): void {
    for (const [kind, amount] of resources) {
      const n = quantityOf(amount);
      if (n === 0) continue;
      this.names[kind.nameId] = kind.name;
      bumpAt(this.totals, kind.nameId, sign * n);
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
    apply(unreservedFree, this.quantitiesOf(this.unreservedHeld), -1);
    const held: Array<[string, ReadonlyMap<string, number>]> = [];
    for (const [role, tally] of this.unreservedByRole) if (!isZero(tally)) held.push([role, this.quantitiesOf(tally)]);
    return { consumedParts: [...this.reservedByRole, ...held], unreservedFree };
  }

  /** The tally as a map by name, without zeros. */
  private quantitiesOf(tally: Tally): Quantities {
    const out: Quantities = new Map();
    for (let id = 0; id < tally.length; id++) {
      const n = tally[id] as number;
      if (n !== 0) out.set(this.names[id] as string, n);
    }
    return out;
  }

  /**
   * Records that `frameworkId`'s holding in `role` changed by `delta`
   * (quantity per kind). Runs on every charge: each map is looked up once
   * per call, not once per kind.
   */
  recharge(role: string, frameworkId: string, delta: Delta): void {
    const size = delta.size;
    if (size === 0) return;
    const roleQ = tallyOf(this.byRole, role);
    let frameworks = this.byFramework.get(role);
    if (frameworks === undefined) {
      frameworks = new Map();
      this.byFramework.set(role, frameworks);
    }
    const frameworkQ = tallyOf(frameworks, frameworkId);
    let unreservedQ: Tally | undefined;
    for (let i = 0; i < size; i++) {
      const kind = delta.kinds[i] as Kind;
      const n = delta.amounts[i] as number;
      const id = kind.nameId;
      if (this.names.length <= id) this.names[id] = kind.name;
      bumpAt(roleQ, id, n);
      bumpAt(frameworkQ, id, n);
      if (kind.quota) {
        unreservedQ ??= tallyOf(this.unreservedByRole, role);
        bumpAt(unreservedQ, id, n);
        bumpAt(this.unreservedHeld, id, n);
      }
    }
    for (const node of this.pathOf(role)) {
      const q = tallyOf(this.bySubtree, node);
      for (let i = 0; i < size; i++) bumpAt(q, (delta.kinds[i] as Kind).nameId, delta.amounts[i] as number);
    }
  }

  /**
   * Drops what the book keeps for a framework that holds nothing any more
   * (it was removed): tallies are kept at zero otherwise, since a
   * framework that declines everything would make and drop one per offer.
   */
  forgetFramework(frameworkId: string): void {
    for (const [role, frameworks] of this.byFramework) {
      const tally = frameworks.get(frameworkId);
      if (tally !== undefined && isZero(tally)) frameworks.delete(frameworkId);
      if (frameworks.size === 0) this.byFramework.delete(role);
    }
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
    return dominant(this.bySubtree.get(role), this.totals) / weight;
  }

  /** The framework's dominant share of what it holds in `role`. */
  frameworkShare(role: string, frameworkId: string): number {
    return dominant(this.byFramework.get(role)?.get(frameworkId), this.totals);
  }
}
