import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  type Attribute,
  AttributeSchema,
  type Resource,
  Resource_ReservationInfo_Type,
  Resource_ReservationInfoSchema,
  ResourceSchema,
  type Value_Range,
  Value_RangeSchema,
  Value_Type,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { addResources } from "./arithmetic.js";
import { isReserved, validateRole } from "./roles.js";
import { validateResources } from "./validate.js";
import { normalizeRanges } from "./values.js";

/** A resource or attribute string that cannot be read; the message quotes the offending part. */
export class ResourceParseError extends Error {
  override name = "ResourceParseError";
}

type ParsedValue =
  | { type: Value_Type.SCALAR; scalar: number }
  | { type: Value_Type.RANGES; ranges: Array<{ begin: bigint; end: bigint }> }
  | { type: Value_Type.SET; items: string[] }
  | { type: Value_Type.TEXT; text: string };

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function parseRanges(body: string, token: string): Array<{ begin: bigint; end: bigint }> {
  if (body.trim() === "") return [];
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
  if (value.startsWith("[") && value.endsWith("]"))
    return { type: Value_Type.RANGES, ranges: parseRanges(value.slice(1, -1), token) };
  if (value.startsWith("{") && value.endsWith("}")) {
    const items = value
      .slice(1, -1)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    return { type: Value_Type.SET, items };
  }
  if (NUMBER.test(value)) return { type: Value_Type.SCALAR, scalar: Number(value) };
  if (allowText && value !== "" && !/[[\]{}]/.test(value)) return { type: Value_Type.TEXT, text: value };
  throw new ResourceParseError(`Bad value '${value}' in '${token}' (expected a number, [ranges] or {set})`);
}

const toRanges = (spans: Array<{ begin: bigint; end: bigint }>): Value_Range[] =>
  normalizeRanges(spans.map((s) => create(Value_RangeSchema, s)));

function staticReservation(role: string) {
  return create(Resource_ReservationInfoSchema, { type: Resource_ReservationInfo_Type.STATIC, role });
}

function resourceValue(value: ParsedValue, token: string): Partial<Pick<Resource, "scalar" | "ranges" | "set">> {
  switch (value.type) {
    case Value_Type.SCALAR:
      if (!Number.isFinite(value.scalar) || value.scalar < 0)
        throw new ResourceParseError(`Resource '${token}' must be a finite, non-negative number`);
      return { scalar: create(ResourceSchema, { scalar: { value: value.scalar } }).scalar };
    case Value_Type.RANGES:
      return { ranges: create(ResourceSchema, { ranges: { range: toRanges(value.ranges) } }).ranges };
    case Value_Type.SET: {
      const duplicate = value.items.find((item, i) => value.items.indexOf(item) !== i);
      if (duplicate !== undefined) throw new ResourceParseError(`Duplicate item '${duplicate}' in '${token}'`);
      return { set: create(ResourceSchema, { set: { item: value.items } }).set };
    }
    default:
      throw new ResourceParseError(`Bad value in '${token}'`);
  }
}

function parseResourceToken(token: string, defaultRole: string): Resource {
  const colon = token.indexOf(":");
  if (colon < 0) throw new ResourceParseError(`Bad resource '${token}' (expected NAME:VALUE or NAME(ROLE):VALUE)`);
  const head = token.slice(0, colon).trim();
  const m = /^([^()\s:;]+)\s*(?:\(([^()]*)\))?$/.exec(head);
  if (m === null) throw new ResourceParseError(`Bad resource name '${head}' in '${token}'`);
  const role = (m[2] ?? defaultRole).trim();
  const roleProblem = validateRole(role);
  if (roleProblem !== undefined) throw new ResourceParseError(`Bad role '${role}' in '${token}': ${roleProblem}`);
  const value = parseValue(token.slice(colon + 1), token, false);
  const resource = create(ResourceSchema, { name: m[1] ?? "", type: value.type, ...resourceValue(value, token) });
  if (role !== "*") resource.reservations = [staticReservation(role)];
  return resource;
}

const excerpt = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

function parseJsonResources(text: string, defaultRole: string): Resource[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ResourceParseError(`Resources look like JSON but do not parse: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!Array.isArray(parsed)) throw new ResourceParseError("JSON resources must be an array of Resource objects");
  const resources = parsed.map((item: unknown) => {
    let resource: Resource;
    try {
      resource = fromJson(ResourceSchema, item as JsonValue);
    } catch (err) {
      throw new ResourceParseError(`Bad JSON resource ${excerpt(item)}: ${(err as Error).message}`, { cause: err });
    }
    // As in the text form, the default role makes a static reservation.
    if (defaultRole !== "*" && !isReserved(resource)) resource.reservations = [staticReservation(defaultRole)];
    const problem = validateResources([resource]);
    if (problem !== undefined) throw new ResourceParseError(`Bad JSON resource ${excerpt(item)}: ${problem}`);
    return resource;
  });
  return addResources([], resources);
}

/**
 * Reads an agent's `--resources`: either `cpus:4;mem:4096;ports:[31000-32000];
 * cpus(prod):2;zones:{a,b}` (whitespace anywhere between parts) or a JSON
 * array of Mesos Resource objects with proto field names. A role in
 * parentheses, or `defaultRole` when not `*`, makes a STATIC reservation in
 * the refined `reservations` format. Repeated kinds add up; the result is
 * normalized as by addResources. Throws ResourceParseError naming the part.
 */
export function parseResources(text: string, defaultRole = "*"): Resource[] {
  const roleProblem = validateRole(defaultRole);
  if (roleProblem !== undefined) throw new ResourceParseError(`Bad default role '${defaultRole}': ${roleProblem}`);
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) return parseJsonResources(trimmed, defaultRole);
  const tokens = trimmed
    .split(";")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  return addResources(
    [],
    tokens.map((t) => parseResourceToken(t, defaultRole)),
  );
}

function parseAttributeToken(token: string): Attribute {
  const colon = token.indexOf(":");
  if (colon <= 0) throw new ResourceParseError(`Bad attribute '${token}' (expected NAME:VALUE)`);
  const name = token.slice(0, colon).trim();
  const value = parseValue(token.slice(colon + 1), token, true);
  switch (value.type) {
    case Value_Type.SCALAR:
      return create(AttributeSchema, { name, type: value.type, scalar: { value: value.scalar } });
    case Value_Type.RANGES:
      return create(AttributeSchema, { name, type: value.type, ranges: { range: toRanges(value.ranges) } });
    case Value_Type.SET:
      return create(AttributeSchema, { name, type: value.type, set: { item: value.items } });
    default:
      return create(AttributeSchema, { name, type: value.type, text: { value: value.text } });
  }
}

/**
 * Reads agent attributes `rack:a;zone:west;cores:8;ports:[1-5];colors:{r,g}`:
 * a number is SCALAR, `[..]` RANGES, `{..}` SET, anything else TEXT. Order is
 * kept and repeated names are kept as given (attributes are not a multiset).
 */
export function parseAttributes(text: string): Attribute[] {
  return text
    .split(";")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .map(parseAttributeToken);
}
