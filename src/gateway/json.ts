/**
 * Mesos' JSON mapping of protobuf messages, which differs from proto3's
 * canonical JSON: proto field names (`framework_id`), 64-bit integers as JSON
 * numbers, enums by name, bytes as base64, and proto2 fields with a declared
 * default written even when unset. Parsing follows Mesos too: unknown fields
 * are ignored, and a `null` field counts as unset (some client libraries send
 * every unset field as null).
 */
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageShape,
  ScalarType,
} from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";

export type { JsonValue };

/** A JSON object as Mesos writes it. */
export type JsonObject = { [key: string]: JsonValue };

/** Parses a JSON value into `schema`'s message; throws with a reason when it does not fit. */
export function parseMesosJson<Desc extends DescMessage>(schema: Desc, json: JsonValue): MessageShape<Desc> {
  return fromJson(schema, stripNullItems(json), { ignoreUnknownFields: true });
}

/**
 * protobuf-es already treats a null field as unset; a null inside a list is
 * what the same libraries send for an unset element, so it goes too.
 */
function stripNullItems(json: JsonValue): JsonValue {
  if (Array.isArray(json)) return json.filter((v) => v !== null).map(stripNullItems);
  if (json !== null && typeof json === "object") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(json)) out[k] = stripNullItems(v);
    return out;
  }
  return json;
}

/** Writes a message the way Mesos' JSON endpoints do. */
export function toMesosJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonObject {
  return writeMessage(reflect(schema, message));
}

function writeMessage(r: ReflectMessage): JsonObject {
  const out: JsonObject = {};
  for (const field of r.fields) {
    const value = writeField(r, field);
    if (value !== undefined) out[field.name] = value;
  }
  return out;
}

function writeField(r: ReflectMessage, field: DescField): JsonValue | undefined {
  switch (field.fieldKind) {
    case "scalar": {
      if (!r.isSet(field)) {
        const fallback = field.getDefaultValue();
        return fallback === undefined ? undefined : scalar(field.scalar, fallback);
      }
      return scalar(field.scalar, r.get(field));
    }
    case "enum": {
      if (!r.isSet(field)) {
        const fallback = field.getDefaultValue();
        return fallback === undefined ? undefined : enumName(field.enum, fallback);
      }
      return enumName(field.enum, r.get(field));
    }
    case "message":
      return r.isSet(field) ? writeMessage(r.get(field)) : undefined;
    case "list": {
      const list = r.get(field);
      if (list.size === 0) return undefined;
      const items: JsonValue[] = [];
      for (const item of list) {
        if (field.listKind === "message") items.push(writeMessage(item as ReflectMessage));
        else if (field.listKind === "enum") items.push(enumName(field.enum, item as number));
        else items.push(scalar(field.scalar, item));
      }
      return items;
    }
    case "map": {
      const map = r.get(field);
      if (map.size === 0) return undefined;
      const obj: JsonObject = {};
      for (const [key, item] of map) {
        const k = String(key);
        if (field.mapKind === "message") obj[k] = writeMessage(item as ReflectMessage);
        else if (field.mapKind === "enum") obj[k] = enumName(field.enum, item as number);
        else obj[k] = scalar(field.scalar, item);
      }
      return obj;
    }
  }
}

function enumName(desc: DescEnum, value: number): JsonValue {
  return desc.values.find((v) => v.number === value)?.name ?? value;
}

function scalar(type: ScalarType, value: unknown): JsonValue {
  switch (type) {
    case ScalarType.BYTES:
      return Buffer.from(value as Uint8Array).toString("base64");
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // Mesos writes 64-bit integers as JSON numbers, precision and all.
      return Number(value as bigint);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return Number.isFinite(value as number) ? (value as number) : String(value);
    default:
      return value as JsonValue;
  }
}
