import { create } from "@bufbuild/protobuf";
import {
  type Resource,
  Value_RangesSchema,
  Value_ScalarSchema,
  Value_SetSchema,
  Value_Type,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { kindKey } from "./kind.js";
import { addRanges, containsRanges, normalizeRanges, rangesSize, roundScalar, subtractRanges } from "./values.js";

// Resources are a multiset: one entry per kind (see kindKey) once normalized.
// Every function here copies; none mutates its arguments. Results share
// nested messages (reservations, disk, allocation_info, labels) with the
// arguments: replace them, never change them in place.

/**
 * A shallow copy: `combine` replaces a copy's value (scalar, ranges, set)
 * with a new message rather than changing the one it shares with the
 * original, and a reflective deep clone per entry was most of the cost of
 * a fleet re-registering. The prototype is kept: protobuf-es reads unset
 * proto2 fields from it (a spread would lose them).
 */
function shallowCopy(r: Resource): Resource {
  return Object.assign(Object.create(Object.getPrototypeOf(r) as object) as Resource, r);
}

function isEmptyResource(r: Resource): boolean {
  switch (r.type) {
    case Value_Type.SCALAR:
      return roundScalar(r.scalar?.value ?? 0) === 0;
    case Value_Type.RANGES:
      return (r.ranges?.range.length ?? 0) === 0;
    case Value_Type.SET:
      return (r.set?.item.length ?? 0) === 0;
    default:
      // TEXT and unknown types carry no quantity a resource can have.
      return true;
  }
}

/** Rewrites `into`'s value as `into ± from` (same kind assumed). */
function combine(into: Resource, from: Resource | undefined, sign: 1 | -1): void {
  switch (into.type) {
    case Value_Type.SCALAR: {
      const value = roundScalar((into.scalar?.value ?? 0) + sign * (from?.scalar?.value ?? 0));
      into.scalar = create(Value_ScalarSchema, { value });
      return;
    }
    case Value_Type.RANGES: {
      const a = into.ranges?.range ?? [];
      const b = from?.ranges?.range ?? [];
      into.ranges = create(Value_RangesSchema, { range: sign === 1 ? addRanges(a, b) : subtractRanges(a, b) });
      return;
    }
    case Value_Type.SET: {
      const items = new Set(into.set?.item ?? []);
      for (const item of from?.set?.item ?? []) {
        if (sign === 1) items.add(item);
        else items.delete(item);
      }
      into.set = create(Value_SetSchema, { item: [...items].sort() });
      return;
    }
  }
}

function merge(a: Resource[], b: Resource[], sign: 1 | -1): Resource[] {
  const out = a.map(shallowCopy);
  const byKind = new Map(out.map((r) => [kindKey(r), r]));
  for (const r of b) {
    const key = kindKey(r);
    const existing = byKind.get(key);
    if (existing !== undefined) {
      combine(existing, r, sign);
    } else if (sign === 1) {
      const copy = shallowCopy(r);
      combine(copy, undefined, 1); // rounds scalars, sorts ranges and set items
      out.push(copy);
      byKind.set(key, copy);
    }
  }
  return out.filter((r) => !isEmptyResource(r));
}

/**
 * `a + b` as a normalized multiset: one entry per kind, ranges merged and
 * sorted, set items unique, scalars rounded to 0.001; empty entries (and
 * TEXT or untyped ones) dropped. Order follows first appearance.
 */
export function addResources(a: Resource[], b: Resource[]): Resource[] {
  return merge(merge([], a, 1), b, 1);
}

/**
 * `a - b`, normalized as by addResources. Callers check
 * `containsResources(a, b)` first; otherwise what `b` has beyond `a` is
 * ignored: kinds absent from `a` are skipped and a scalar never goes below
 * zero (it disappears instead).
 */
export function subtractResources(a: Resource[], b: Resource[]): Resource[] {
  return merge(addResources([], a), b, -1).filter((r) => r.type !== Value_Type.SCALAR || (r.scalar?.value ?? 0) > 0);
}

function containsOne(have: Resource, want: Resource): boolean {
  switch (want.type) {
    case Value_Type.SCALAR:
      return roundScalar(have.scalar?.value ?? 0) >= roundScalar(want.scalar?.value ?? 0);
    case Value_Type.RANGES:
      return containsRanges(have.ranges?.range ?? [], want.ranges?.range ?? []);
    case Value_Type.SET: {
      const items = new Set(have.set?.item ?? []);
      return (want.set?.item ?? []).every((i) => items.has(i));
    }
    default:
      return false;
  }
}

/**
 * Whether `subset` fits in `superset` kind by kind. Reserved and unreserved
 * resources never stand in for each other, nor do different allocation roles.
 * The empty list is contained in everything.
 */
export function containsResources(superset: Resource[], subset: Resource[]): boolean {
  const outer = new Map(addResources([], superset).map((r) => [kindKey(r), r]));
  return addResources([], subset).every((r) => {
    const have = outer.get(kindKey(r));
    return have !== undefined && containsOne(have, r);
  });
}

/** True when nothing is left: no entry has a non-zero amount. */
export function isEmptyResources(resources: Resource[]): boolean {
  return resources.every(isEmptyResource);
}

/** The scalar amount of `name`, summed over reservations and roles (0 when absent). */
export function scalarOf(resources: Resource[], name: string): number {
  let total = 0;
  for (const r of resources)
    if (r.name === name && r.type === Value_Type.SCALAR) total = roundScalar(total + (r.scalar?.value ?? 0));
  return total;
}

/**
 * Amounts by name across all kinds: scalars summed, ranges counted (number
 * of ports), sets counted (number of items). Names with nothing are absent.
 */
export function quantitiesOf(resources: Resource[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) {
    let amount = 0;
    if (r.type === Value_Type.SCALAR) amount = r.scalar?.value ?? 0;
    else if (r.type === Value_Type.RANGES) amount = rangesSize(normalizeRanges(r.ranges?.range ?? []));
    else if (r.type === Value_Type.SET) amount = new Set(r.set?.item ?? []).size;
    if (amount !== 0) out.set(r.name, roundScalar((out.get(r.name) ?? 0) + amount));
  }
  return out;
}
