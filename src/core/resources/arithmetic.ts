import { clone, create, toBinary } from "@bufbuild/protobuf";
import { ResourceSchema, Value_Type, type Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { addRanges, containsRanges, rangesSize, roundScalar, subtractRanges } from "./values.js";

/**
 * Resources as a multiset. Two resources combine only when they are the same
 * kind: everything but the value is equal (name, type, reservations, disk,
 * allocation role, shared, revocable, provider). No function mutates its
 * inputs.
 */
export function kindKey(resource: Resource): string {
  const shape = clone(ResourceSchema, resource);
  shape.scalar = undefined;
  shape.ranges = undefined;
  shape.set = undefined;
  // The deprecated `role` field and an empty reservation stack mean the same.
  if (shape.role === "*" || shape.role === "") shape.role = "*";
  return Buffer.from(toBinary(ResourceSchema, shape)).toString("base64");
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
      return true;
  }
}

function combine(into: Resource, from: Resource, sign: 1 | -1): void {
  switch (into.type) {
    case Value_Type.SCALAR:
      into.scalar = { $typeName: "mesos.v1.Value.Scalar", value: roundScalar((into.scalar?.value ?? 0) + sign * (from.scalar?.value ?? 0)) };
      return;
    case Value_Type.RANGES: {
      const a = into.ranges?.range ?? [];
      const b = from.ranges?.range ?? [];
      into.ranges = { $typeName: "mesos.v1.Value.Ranges", range: sign === 1 ? addRanges(a, b) : subtractRanges(a, b) };
      return;
    }
    case Value_Type.SET: {
      const items = new Set(into.set?.item ?? []);
      for (const item of from.set?.item ?? []) {
        if (sign === 1) items.add(item);
        else items.delete(item);
      }
      into.set = { $typeName: "mesos.v1.Value.Set", item: [...items] };
      return;
    }
  }
}

function merge(a: Resource[], b: Resource[], sign: 1 | -1): Resource[] {
  const out = a.map((r) => clone(ResourceSchema, r));
  const byKind = new Map(out.map((r) => [kindKey(r), r]));
  for (const r of b) {
    const key = kindKey(r);
    const existing = byKind.get(key);
    if (existing !== undefined) {
      combine(existing, r, sign);
    } else if (sign === 1) {
      const copy = clone(ResourceSchema, r);
      combine(copy, create(ResourceSchema, { type: r.type }), 1); // normalizes value
      out.push(copy);
      byKind.set(key, copy);
    }
  }
  return out.filter((r) => !isEmptyResource(r));
}

export function addResources(a: Resource[], b: Resource[]): Resource[] {
  return merge(merge([], a, 1), b, 1);
}

/**
 * `a - b`. Callers check `containsResources(a, b)` first: what `b` has beyond
 * `a` is ignored, and scalars never go below zero.
 */
export function subtractResources(a: Resource[], b: Resource[]): Resource[] {
  return merge(addResources([], a), b, -1).filter((r) => r.type !== Value_Type.SCALAR || (r.scalar?.value ?? 0) > 0);
}

export function containsResources(superset: Resource[], subset: Resource[]): boolean {
  const outer = new Map(addResources([], superset).map((r) => [kindKey(r), r]));
  return addResources([], subset).every((r) => {
    const have = outer.get(kindKey(r));
    if (have === undefined) return false;
    switch (r.type) {
      case Value_Type.SCALAR:
        return roundScalar(have.scalar?.value ?? 0) >= roundScalar(r.scalar?.value ?? 0);
      case Value_Type.RANGES:
        return containsRanges(have.ranges?.range ?? [], r.ranges?.range ?? []);
      case Value_Type.SET: {
        const items = new Set(have.set?.item ?? []);
        return (r.set?.item ?? []).every((i) => items.has(i));
      }
      default:
        return false;
    }
  });
}

export function isEmptyResources(resources: Resource[]): boolean {
  return resources.every(isEmptyResource);
}

/** The amount of one resource name, summed over reservations. */
export function scalarOf(resources: Resource[], name: string): number {
  return roundScalar(resources.filter((r) => r.name === name && r.type === Value_Type.SCALAR).reduce((n, r) => n + (r.scalar?.value ?? 0), 0));
}

/** Amounts by name: scalars summed, ranges counted (ports), sets counted. */
export function quantitiesOf(resources: Resource[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) {
    const amount =
      r.type === Value_Type.SCALAR ? (r.scalar?.value ?? 0) : r.type === Value_Type.RANGES ? rangesSize(r.ranges?.range ?? []) : (r.set?.item.length ?? 0);
    out.set(r.name, roundScalar((out.get(r.name) ?? 0) + amount));
  }
  return out;
}
