import { clone } from "@bufbuild/protobuf";
import { ResourceSchema, Value_Type, type Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import { roundScalar } from "../resources/index.js";

/** Resource name → the most a role (with its sub-roles) may hold. */
export type Limits = ReadonlyMap<string, number>;

/** `role` and every ancestor, innermost first: `eng/web` → `eng/web`, `eng`. */
export function selfAndAncestors(role: string): string[] {
  const parts = role.split("/");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("/"));
}

/**
 * Cuts `portion` down so that offering it keeps every role on the path to
 * `role` within its quota limits. `headroom(name)` is the least room left
 * for that name over those roles (Infinity when none limits it). Only scalar
 * resources are limited, as in Mesos; a scalar with no room left is dropped.
 */
export function capToLimits(portion: Resource[], headroom: (name: string) => number): Resource[] {
  const room = new Map<string, number>();
  const out: Resource[] = [];
  for (const r of portion) {
    if (r.type !== Value_Type.SCALAR) {
      out.push(r);
      continue;
    }
    const left = room.get(r.name) ?? headroom(r.name);
    if (left === Infinity) {
      out.push(r);
      continue;
    }
    const amount = Math.min(r.scalar?.value ?? 0, Math.max(0, left));
    room.set(r.name, roundScalar(left - amount));
    if (roundScalar(amount) <= 0) continue;
    if (amount === r.scalar?.value) {
      out.push(r);
    } else {
      const cut = clone(ResourceSchema, r);
      cut.scalar = { $typeName: "mesos.v1.Value.Scalar", value: roundScalar(amount) };
      out.push(cut);
    }
  }
  return out;
}
