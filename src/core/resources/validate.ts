import { type Resource, Value_Type } from "../../../gen/mesos/v1/mesos_pb.js";
import { reservationStack } from "./kind.js";
import { validateRole } from "./roles.js";

function validateScalar(r: Resource): string | undefined {
  const value = r.scalar?.value;
  if (value === undefined) return `scalar resource '${r.name}' has no scalar value`;
  if (Number.isNaN(value)) return `resource '${r.name}' is NaN`;
  if (!Number.isFinite(value)) return `resource '${r.name}' is infinite`;
  if (value < 0) return `resource '${r.name}' is negative (${value})`;
  return undefined;
}

function validateRanges(r: Resource): string | undefined {
  if (r.ranges === undefined) return `ranges resource '${r.name}' has no ranges`;
  const sorted = [...r.ranges.range].sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  for (const range of sorted) {
    if (range.begin > range.end)
      return `resource '${r.name}' has a range that ends before it begins (${range.begin}-${range.end})`;
  }
  // Sorted by begin, any overlap shows up between neighbours.
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const range = sorted[i];
    if (prev !== undefined && range !== undefined && range.begin <= prev.end) {
      return `resource '${r.name}' has overlapping ranges (${prev.begin}-${prev.end} and ${range.begin}-${range.end})`;
    }
  }
  return undefined;
}

function validateSet(r: Resource): string | undefined {
  if (r.set === undefined) return `set resource '${r.name}' has no set`;
  const seen = new Set<string>();
  for (const item of r.set.item) {
    if (seen.has(item)) return `resource '${r.name}' has the duplicate set item '${item}'`;
    seen.add(item);
  }
  return undefined;
}

function validateValue(r: Resource): string | undefined {
  switch (r.type) {
    case Value_Type.SCALAR:
      return validateScalar(r);
    case Value_Type.RANGES:
      return validateRanges(r);
    case Value_Type.SET:
      return validateSet(r);
    default:
      return `resource '${r.name}' has type ${Value_Type[r.type] ?? r.type}; resources must be SCALAR, RANGES or SET`;
  }
}

function validateReservations(r: Resource): string | undefined {
  if (r.reservations.length === 0 && r.role !== "*") {
    const problem = validateRole(r.role);
    if (problem !== undefined) return `resource '${r.name}' has an invalid role: ${problem}`;
  }
  for (const reservation of reservationStack(r)) {
    const problem = validateRole(reservation.role);
    if (problem !== undefined) return `resource '${r.name}' is reserved for an invalid role: ${problem}`;
    if (reservation.role === "*") return `resource '${r.name}' has a reservation for '*', which cannot be reserved for`;
  }
  return undefined;
}

/**
 * Why a list of resources is not well-formed, or undefined when it is: every
 * resource named and typed SCALAR, RANGES or SET with a value of that type;
 * scalars finite and non-negative; ranges not inverted and not overlapping;
 * set items unique; reservation roles valid and not `*`. Reports the first
 * problem found, naming the resource.
 */
export function validateResources(resources: Resource[]): string | undefined {
  for (const r of resources) {
    if (r.name.trim() === "") return "a resource has an empty name";
    const problem = validateValue(r) ?? validateReservations(r);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
