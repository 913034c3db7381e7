import { type Attribute, type Resource, type Value_Range, Value_Type } from "../../../gen/mesos/v1/mesos_pb.js";
import { reservationRole } from "./roles.js";

interface ValueLike {
  type: Value_Type;
  scalar?: { value: number } | undefined;
  ranges?: { range: Value_Range[] } | undefined;
  set?: { item: string[] } | undefined;
  text?: { value: string } | undefined;
}

function formatValue(v: ValueLike): string {
  switch (v.type) {
    case Value_Type.SCALAR:
      return String(v.scalar?.value ?? 0);
    case Value_Type.RANGES:
      return `[${(v.ranges?.range ?? []).map((r) => `${r.begin}-${r.end}`).join(", ")}]`;
    case Value_Type.SET:
      return `{${(v.set?.item ?? []).join(", ")}}`;
    default:
      return v.text?.value ?? "";
  }
}

/**
 * Mesos' text form, `cpus:2; mem:1024; ports:[31000-32000]; cpus(prod):1`,
 * in the order given (normalize with addResources first for one entry per
 * kind). `(role)` marks the innermost reservation and `[id:path]` a
 * persistent volume, as Mesos prints them; allocation roles are not
 * shown. The empty list prints as `{}`. Unreserved output parses back with
 * parseResources.
 */
export function formatResources(resources: Resource[]): string {
  if (resources.length === 0) return "{}";
  return resources
    .map((r) => {
      const role = reservationRole(r);
      const id = r.disk?.persistence?.id;
      const volume = id === undefined || id === "" ? "" : `[${id}:${r.disk?.volume?.containerPath ?? ""}]`;
      return `${r.name}${role === "*" ? "" : `(${role})`}${volume}:${formatValue(r)}`;
    })
    .join("; ");
}

/** `rack:a;cores:8;ports:[1-5];colors:{r, g}`: the form parseAttributes reads. */
export function formatAttributes(attributes: Attribute[]): string {
  return attributes.map((a) => `${a.name}:${formatValue(a)}`).join(";");
}
