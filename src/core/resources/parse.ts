import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  AttributeSchema,
  ResourceSchema,
  Resource_ReservationInfo_Type,
  Value_Type,
  type Attribute,
  type Resource,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { addResources } from "./arithmetic.js";
import { validateRole } from "./roles.js";
import { normalizeRanges } from "./values.js";

/** A resource or attribute string that cannot be read; the message names the part. */
export class ResourceParseError extends Error {
  override name = "ResourceParseError";
}

type ParsedValue =
  | { type: Value_Type.SCALAR; scalar: number }
  | { type: Value_Type.RANGES; ranges: Array<{ begin: bigint; end: bigint }> }
  | { type: Value_Type.SET; items: string[] }
  | { type: Value_Type.TEXT; text: string };

function parseRanges(text: string, token: string): Array<{ begin: bigint; end: bigint }> {
  const body = text.slice(1, -1).trim();
  if (body === "") return [];
  return body.split(",").map((part) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new ResourceParseError(`Bad range '${part.trim()}' in '${token}' (expected BEGIN-END)`);
    const begin = BigInt(m[1] ?? "0");
    const end = BigInt(m[2] ?? m[1] ?? "0");
    if (begin > end) throw new ResourceParseError(`Range '${part.trim()}' in '${token}' ends before it begins`);
    return { begin, end };
  });
}

function parseValue(text: string, token: string, allowText: boolean): ParsedValue {
  const value = text.trim();
  if (value.startsWith("[") && value.endsWith("]")) return { type: Value_Type.RANGES, ranges: parseRanges(value, token) };
  if (value.startsWith("{") && value.endsWith("}")) {
    const items = value.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "");
    return { type: Value_Type.SET, items };
  }
  if (value !== "" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value)) return { type: Value_Type.SCALAR, scalar: Number(value) };
  if (allowText && value !== "") return { type: Value_Type.TEXT, text: value };
  throw new ResourceParseError(`Bad value '${value}' in '${token}' (expected a number, [ranges] or {set})`);
}

function parseResourceToken(token: string, defaultRole: string): Resource {
  const colon = token.indexOf(":");
  if (colon < 0) throw new ResourceParseError(`Bad resource '${token}' (expected NAME:VALUE or NAME(ROLE):VALUE)`);
  const head = token.slice(0, colon).trim();
  const m = /^([^()\s]+)\s*(?:\(([^()]*)\))?$/.exec(head);
  if (m === null) throw new ResourceParseError(`Bad resource name '${head}' in '${token}'`);
  const name = m[1] ?? "";
  const role = (m[2] ?? defaultRole).trim();
  const roleProblem = validateRole(role);
  if (roleProblem !== undefined) throw new ResourceParseError(`Bad role '${role}' in '${token}': ${roleProblem}`);
  const value = parseValue(token.slice(colon + 1), token, false);
  const resource = create(ResourceSchema, { name, type: value.type });
  if (value.type === Value_Type.SCALAR) {
    if (!Number.isFinite(value.scalar) || value.scalar < 0) throw new ResourceParseError(`Resource '${token}' must be a finite, non-negative number`);
    resource.scalar = { $typeName: "mesos.v1.Value.Scalar", value: value.scalar };
  } else if (value.type === Value_Type.RANGES) {
    resource.ranges = create(ResourceSchema, { ranges: { range: normalizeRanges(value.ranges.map((r) => ({ $typeName: "mesos.v1.Value.Range", ...r }))) } }).ranges;
  } else if (value.type === Value_Type.SET) {
    resource.set = { $typeName: "mesos.v1.Value.Set", item: [...new Set(value.items)] };
  }
  if (role !== "*") resource.reservations = [{ $typeName: "mesos.v1.Resource.ReservationInfo", type: Resource_ReservationInfo_Type.STATIC, role, principal: "" }];
  return resource;
}

/**
 * Reads the agent `--resources` forms: `cpus:4;mem:4096;ports:[31000-32000];cpus(prod):2;zones:{a,b}`
 * or a JSON array of Mesos Resource objects. A role in parentheses is a
 * static reservation. Repeated kinds add up.
 */
export function parseResources(text: string, defaultRole = "*"): Resource[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ResourceParseError(`Resources look like JSON but do not parse: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new ResourceParseError("JSON resources must be an array");
    try {
      return addResources([], parsed.map((r) => fromJson(ResourceSchema, r as JsonValue)));
    } catch (err) {
      throw new ResourceParseError(`Bad JSON resource: ${(err as Error).message}`);
    }
  }
  const tokens = trimmed.split(";").map((t) => t.trim()).filter((t) => t !== "");
  return addResources([], tokens.map((t) => parseResourceToken(t, defaultRole)));
}

/** Reads `rack:a;zone:west;cores:8;ports:[1-5];colors:{r,g}` agent attributes. */
export function parseAttributes(text: string): Attribute[] {
  return text
    .split(";")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .map((token) => {
      const colon = token.indexOf(":");
      if (colon <= 0) throw new ResourceParseError(`Bad attribute '${token}' (expected NAME:VALUE)`);
      const name = token.slice(0, colon).trim();
      const value = parseValue(token.slice(colon + 1), token, true);
      const attribute = create(AttributeSchema, { name, type: value.type });
      if (value.type === Value_Type.SCALAR) attribute.scalar = { $typeName: "mesos.v1.Value.Scalar", value: value.scalar };
      else if (value.type === Value_Type.RANGES) attribute.ranges = { $typeName: "mesos.v1.Value.Ranges", range: normalizeRanges(value.ranges.map((r) => ({ $typeName: "mesos.v1.Value.Range", ...r }))) };
      else if (value.type === Value_Type.SET) attribute.set = { $typeName: "mesos.v1.Value.Set", item: value.items };
      else attribute.text = { $typeName: "mesos.v1.Value.Text", value: value.text };
      return attribute;
    });
}
