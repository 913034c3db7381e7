import { Value_Type, type Attribute, type Resource, type Value_Range } from "../../../gen/mesos/v1/mesos_pb.js";
import { reservationRole } from "./roles.js";

function formatRanges(ranges: Value_Range[]): string {
  return `[${ranges.map((r) => `${r.begin}-${r.end}`).join(", ")}]`;
}

function formatValue(v: { type: Value_Type; scalar?: { value: number }; ranges?: { range: Value_Range[] }; set?: { item: string[] }; text?: { value: string } }): string {
  switch (v.type) {
    case Value_Type.SCALAR:
      return String(v.scalar?.value ?? 0);
    case Value_Type.RANGES:
      return formatRanges(v.ranges?.range ?? []);
    case Value_Type.SET:
      return `{${(v.set?.item ?? []).join(", ")}}`;
    default:
      return v.text?.value ?? "";
  }
}

/** Mesos' text form: `cpus:2; mem:1024; ports:[31000-32000]; cpus(prod):1`. */
export function formatResources(resources: Resource[]): string {
  if (resources.length === 0) return "{}";
  return resources
    .map((r) => {
      const role = reservationRole(r);
      return `${r.name}${role === "*" ? "" : `(${role})`}:${formatValue(r)}`;
    })
    .join("; ");
}

export function formatAttributes(attributes: Attribute[]): string {
  return attributes.map((a) => `${a.name}:${formatValue(a)}`).join(";");
}
