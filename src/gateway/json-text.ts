/**
 * Mesos' JSON of a message written straight to text: the same bytes as
 * `JSON.stringify(toMesosJson(schema, message))` (json.ts), field for field
 * and in the same order, but compiled once per message type into plain
 * property reads, with no reflection object and no intermediate JSON object
 * per message.
 *
 * Why: a v1 GET_STATE at 20,000 agents and 400,000 tasks is about 1.6 GB of
 * such objects through toMesosJson, then a string of 200 MB, then its bytes;
 * written as text it is one pass, and `jsonTextChunks` hands it out in
 * chunks as it goes, so the whole answer is never in memory at once.
 *
 * A list item can be written by the caller instead (`ItemText`), which is
 * how unchanged tasks, agents and frameworks keep their text between reads.
 */
import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";

/** Writes one list item's text, or undefined to have it written here. */
export type ItemText = (desc: DescMessage, item: Message) => string | undefined;

/** A message's text (its `{...}`). */
type MessageText = (message: Message, item: ItemText | undefined) => string;

/** One field's `"name":value`, or undefined when Mesos' JSON leaves it out. */
type FieldText = (message: Record<string, unknown>, item: ItemText | undefined) => string | undefined;

const compiled = new WeakMap<DescMessage, MessageText>();

function compile(desc: DescMessage): MessageText {
  const known = compiled.get(desc);
  if (known !== undefined) return known;
  const fields: FieldText[] = [];
  // Joined, not appended: `+=` makes a tree of string pieces that V8
  // flattens only when read, and a kept task's text held as such a tree
  // took several times its size and most of the garbage collector's time.
  const text: MessageText = (message, item) => {
    const parts = ["{"];
    for (let i = 0; i < fields.length; i++) {
      const field = (fields[i] as FieldText)(message as unknown as Record<string, unknown>, item);
      if (field === undefined) continue;
      if (parts.length > 1) parts.push(",");
      parts.push(field);
    }
    parts.push("}");
    return parts.join("");
  };
  // Registered before its fields compile: message types can nest themselves.
  compiled.set(desc, text);
  for (const field of desc.fields) fields.push(fieldText(field));
  return text;
}

/** The message's JSON text; `item` may write list items (at any depth) itself. */
export function messageText(desc: DescMessage, message: Message, item?: ItemText): string {
  return compile(desc)(message, item);
}

/** A list item's text: the caller's, or written here. */
export function itemText(desc: DescMessage, message: Message, item: ItemText | undefined): string {
  return item?.(desc, message) ?? compile(desc)(message, item);
}

/** Whether the field is set, as protobuf-es' reflection decides (reflect/unsafe.js). */
function presence(field: DescField): (m: Record<string, unknown>) => boolean {
  const name = field.localName;
  if (field.oneof !== undefined) {
    const group = field.oneof.localName;
    return (m) => (m[group] as { case: unknown }).case === name;
  }
  // Explicit presence (proto2, and proto3 `optional`): an own property, not the prototype's default.
  if (field.presence !== 2) return (m) => m[name] !== undefined && Object.hasOwn(m, name);
  if (field.fieldKind === "enum") {
    const zero = field.enum.values[0]?.number;
    return (m) => m[name] !== zero;
  }
  if (field.fieldKind === "scalar") return (m) => !isZero(field.scalar, m[name]);
  return (m) => m[name] !== undefined;
}

function isZero(type: ScalarType, value: unknown): boolean {
  switch (type) {
    case ScalarType.BOOL:
      return value === false;
    case ScalarType.STRING:
      return value === "";
    case ScalarType.BYTES:
      return value instanceof Uint8Array && value.byteLength === 0;
    default:
      // 0, 0n, and "0" (64-bit fields read as strings).
      return value === 0 || value === 0n || value === "0";
  }
}

/** The value part of one field, from its stored value. */
function valueText(field: DescField): (value: unknown, item: ItemText | undefined) => string {
  if (field.fieldKind === "enum") return enumText(field.enum.values);
  if (field.fieldKind === "scalar") return scalarText(field.scalar);
  if (field.fieldKind === "message") {
    const desc = field.message;
    return (value, item) => compile(desc)(value as Message, item);
  }
  throw new Error(`valueText of a ${field.fieldKind} field`);
}

function fieldText(field: DescField): FieldText {
  const key = `${JSON.stringify(field.name)}:`;
  const name = field.localName;
  switch (field.fieldKind) {
    case "list":
      return listText(field, key);
    case "map":
      return mapText(field, key);
    default: {
      const isSet = presence(field);
      const value = valueText(field);
      const fallback = field.fieldKind === "message" ? undefined : field.getDefaultValue();
      const unset = fallback === undefined ? undefined : key + value(fallback, undefined);
      const group = field.oneof?.localName;
      if (group !== undefined)
        return (m, item) => (isSet(m) ? key + value((m[group] as { value: unknown }).value, item) : unset);
      return (m, item) => (isSet(m) ? key + value(m[name], item) : unset);
    }
  }
}

function listText(field: DescField & { fieldKind: "list" }, key: string): FieldText {
  const name = field.localName;
  if (field.listKind === "message") {
    const desc = field.message;
    return (m, item) => {
      const list = m[name] as Message[];
      if (list.length === 0) return undefined;
      let out = `${key}[`;
      for (let i = 0; i < list.length; i++) out += (i === 0 ? "" : ",") + itemText(desc, list[i] as Message, item);
      return `${out}]`;
    };
  }
  const value: (v: unknown) => string =
    field.listKind === "enum" ? enumText(field.enum.values) : scalarText(field.scalar);
  return (m) => {
    const list = m[name] as unknown[];
    if (list.length === 0) return undefined;
    return `${key}[${list.map((v) => value(v)).join(",")}]`;
  };
}

function mapText(field: DescField & { fieldKind: "map" }, key: string): FieldText {
  const name = field.localName;
  const value =
    field.mapKind === "message"
      ? (v: unknown, item: ItemText | undefined) => compile(field.message)(v as Message, item)
      : field.mapKind === "enum"
        ? enumText(field.enum.values)
        : scalarText(field.scalar);
  return (m, item) => {
    const entries = Object.entries(m[name] as Record<string, unknown>);
    if (entries.length === 0) return undefined;
    // As JSON.stringify orders an object's keys: integer-like keys first, ascending.
    const object: Record<string, string> = {};
    for (const [k, v] of entries) object[k] = value(v, item);
    return `${key}{${Object.entries(object)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(",")}}`;
  };
}

function enumText(values: readonly { number: number; name: string }[]): (value: unknown) => string {
  const names = new Map(values.map((v) => [v.number, JSON.stringify(v.name)]));
  return (value) => names.get(value as number) ?? String(value);
}

function scalarText(type: ScalarType): (value: unknown) => string {
  switch (type) {
    case ScalarType.BYTES:
      return (value) => `"${Buffer.from(value as Uint8Array).toString("base64")}"`;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // Mesos writes 64-bit integers as JSON numbers, precision and all.
      return (value) => JSON.stringify(Number(value as bigint));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (value) => JSON.stringify(Number.isFinite(value as number) ? value : String(value));
    case ScalarType.STRING:
      return (value) => JSON.stringify(value);
    default:
      return (value) => String(value);
  }
}

/**
 * The text in pieces, for writing as it is made: the message's fields one
 * by one, descending into singular message fields down to `depth` levels,
 * each list item of a message list apart. The concatenation is
 * `messageText(desc, message, item)`.
 */
export function* jsonTextPieces(desc: DescMessage, message: Message, item?: ItemText, depth = 4): Generator<string> {
  const m = message as unknown as Record<string, unknown>;
  let first = true;
  yield "{";
  for (const field of desc.fields) {
    const comma = first ? "" : ",";
    const set = presence(field)(m);
    if (field.fieldKind === "list" && field.listKind === "message" && depth > 0) {
      const list = m[field.localName] as Message[];
      if (list.length === 0) continue;
      yield `${comma}${JSON.stringify(field.name)}:[`;
      for (let i = 0; i < list.length; i++)
        yield (i === 0 ? "" : ",") + itemText(field.message, list[i] as Message, item);
      yield "]";
    } else if (field.fieldKind === "message" && field.oneof === undefined && depth > 0) {
      if (!set) continue;
      yield `${comma}${JSON.stringify(field.name)}:`;
      yield* jsonTextPieces(field.message, m[field.localName] as Message, item, depth - 1);
    } else {
      const text = fieldText(field)(m, item);
      if (text === undefined) continue;
      yield comma + text;
    }
    first = false;
  }
  yield "}";
}
