import { Value_Type, type Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { validateRole } from "./roles.js";

function validateOne(r: Resource): string | undefined {
  if (r.name === "") return "a resource has no name";
  switch (r.type) {
    case Value_Type.SCALAR: {
      const value = r.scalar?.value;
      if (value === undefined) return `scalar resource '${r.name}' has no scalar value`;
      if (Number.isNaN(value)) return `resource '${r.name}' is NaN`;
      if (!Number.isFinite(value)) return `resource '${r.name}' is infinite`;
      if (value < 0) return `resource '${r.name}' is negative (${value})`;
      if (r.ranges !== undefined || r.set !== undefined) return `scalar resource '${r.name}' also carries ranges or a set`;
      return undefined;
    }
    case Value_Type.RANGES: {
      if (r.ranges === undefined) return `ranges resource '${r.name}' has no ranges`;
      const sorted = [...r.ranges.range].sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
      for (const [i, range] of sorted.entries()) {
        if (range.begin > range.end) return `resource '${r.name}' has a range that ends before it begins (${range.begin}-${range.end})`;
        const prev = sorted[i - 1];
        if (prev !== undefined && range.begin <= prev.end) return `resource '${r.name}' has overlapping ranges`;
      }
      return undefined;
    }
    case Value_Type.SET: {
      if (r.set === undefined) return `set resource '${r.name}' has no set`;
      if (new Set(r.set.item).size !== r.set.item.length) return `resource '${r.name}' has duplicate set items`;
      return undefined;
    }
    default:
      return `resource '${r.name}' has type ${Value_Type[r.type] ?? r.type}, which resources cannot have`;
  }
}

/**
 * Why a list of resources is not well-formed, or undefined: every resource
 * named, typed, with a value of its type; scalars finite and non-negative;
 * ranges ordered and disjoint; set items unique; reservation roles valid.
 */
export function validateResources(resources: Resource[]): string | undefined {
  for (const r of resources) {
    const problem = validateOne(r);
    if (problem !== undefined) return problem;
    for (const reservation of r.reservations) {
      const roleProblem = validateRole(reservation.role);
      if (roleProblem !== undefined) return `resource '${r.name}' is reserved for an invalid role '${reservation.role}': ${roleProblem}`;
    }
  }
  return undefined;
}
