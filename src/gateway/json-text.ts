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

/** Where text is gathered: pieces joined once, at the end. */
type Out = string[];

/** Appends a message's text (its `{...}`). */
type MessageWriter = (message: Message, out: Out, item: ItemText | undefined) => void;

/** Appends one field's `"name":value` (after a comma unless `first`), or nothing when Mesos' JSON leaves it out. */
type FieldWriter = (message: Record<string, unknown>, out: Out, item: ItemText | undefined, first: boolean) => void;

const compiled = new WeakMap<DescMessage, MessageWriter>();

/**
 * Why one array for a whole message tree, joined once: a string per nested
 * message cost an array and a copy each, and `+=` instead makes a tree of
 * string pieces that V8 flattens only when read (a kept task's text held as
 * such a tree took several times its size and most of the GC's time).
 */
function compile(desc: DescMessage): MessageWriter {
  const known = compiled.get(desc);
  if (known !== undefined) return known;
  const fields: FieldWriter[] = [];
  const writer: MessageWriter = (message, out, item) => {
    out.push("{");
    const start = out.length;
    const m = message as unknown as Record<string, unknown>;
    for (let i = 0; i < fields.length; i++) (fields[i] as FieldWriter)(m, out, item, out.length === start);
    out.push("}");
  };
  // Registered before its fields compile: message types can nest themselves.
  compiled.set(desc, writer);
  for (const field of desc.fields) fields.push(fieldWriter(field));
  return writer;
}

/** The message's JSON text; `item` may write list items (at any depth) itself. */
export function messageText(desc: DescMessage, message: Message, item?: ItemText): string {
  const out: Out = [];
  compile(desc)(message, out, item);
  return out.join("");
}

function writeItem(desc: DescMessage, message: Message, out: Out, item: ItemText | undefined): void {
  const kept = item?.(desc, message);
  if (kept !== undefined) out.push(kept);
  else compile(desc)(message, out, item);
}

/** A list item's text: the caller's, or written here. */
export function itemText(desc: DescMessage, message: Message, item: ItemText | undefined): string {
  return item?.(desc, message) ?? messageText(desc, message, item);
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

/** Appends the value of a singular field, from its stored value. */
function valueWriter(field: DescField): (value: unknown, out: Out, item: ItemText | undefined) => void {
  if (field.fieldKind === "message") {
    const desc = field.message;
    return (value, out, item) => compile(desc)(value as Message, out, item);
  }
  if (field.fieldKind !== "enum" && field.fieldKind !== "scalar")
    throw new Error(`a ${field.fieldKind} field has no single value`);
  const text = field.fieldKind === "enum" ? enumText(field.enum.values) : scalarText(field.scalar);
  return (value, out) => {
    out.push(text(value));
  };
}

/**
 * Whether a singular field is set, as protobuf-es' reflection decides
 * (reflect/unsafe.js): explicit presence (proto2, proto3 `optional`) is an
 * own property, the prototype holding defaults; implicit presence is a
 * value other than zero.
 */
function presence(field: DescField): (m: Record<string, unknown>) => boolean {
  const name = field.localName;
  if (field.oneof !== undefined) {
    const group = field.oneof.localName;
    return (m) => (m[group] as { case: unknown }).case === name;
  }
  if (field.presence !== 2) return (m) => m[name] !== undefined && Object.hasOwn(m, name);
  if (field.fieldKind === "enum") {
    const zero = field.enum.values[0]?.number;
    return (m) => m[name] !== zero;
  }
  if (field.fieldKind === "scalar") return (m) => !isZero(field.scalar, m[name]);
  return (m) => m[name] !== undefined;
}

function fieldWriter(field: DescField): FieldWriter {
  const key = `${JSON.stringify(field.name)}:`;
  const keys = [`,${key}`, key] as const;
  if (field.fieldKind === "list") return listWriter(field, keys);
  if (field.fieldKind === "map") return mapWriter(field, keys);
  const name = field.localName;
  const isSet = presence(field);
  const value = valueWriter(field);
  const fallback = field.fieldKind === "message" ? undefined : field.getDefaultValue();
  const unsetOut: Out = [];
  if (fallback !== undefined) value(fallback, unsetOut, undefined);
  const unset =
    fallback === undefined ? undefined : ([`,${key}${unsetOut.join("")}`, key + unsetOut.join("")] as const);
  const group = field.oneof?.localName;
  return (m, out, item, first) => {
    if (isSet(m)) {
      out.push(keys[first ? 1 : 0]);
      value(group === undefined ? m[name] : (m[group] as { value: unknown }).value, out, item);
    } else if (unset !== undefined) out.push(unset[first ? 1 : 0]);
  };
}

function listWriter(field: DescField & { fieldKind: "list" }, keys: readonly [string, string]): FieldWriter {
  const name = field.localName;
  if (field.listKind === "message") {
    const desc = field.message;
    return (m, out, item, first) => {
      const list = m[name] as Message[];
      if (list.length === 0) return;
      out.push(keys[first ? 1 : 0], "[");
      for (let i = 0; i < list.length; i++) {
        if (i > 0) out.push(",");
        writeItem(desc, list[i] as Message, out, item);
      }
      out.push("]");
    };
  }
  const value: (v: unknown) => string =
    field.listKind === "enum" ? enumText(field.enum.values) : scalarText(field.scalar);
  return (m, out, _item, first) => {
    const list = m[name] as unknown[];
    if (list.length === 0) return;
    out.push(keys[first ? 1 : 0], `[${list.map(value).join(",")}]`);
  };
}

function mapWriter(field: DescField & { fieldKind: "map" }, keys: readonly [string, string]): FieldWriter {
  const name = field.localName;
  const value =
    field.mapKind === "message"
      ? (v: unknown, item: ItemText | undefined) => messageText(field.message, v as Message, item)
      : field.mapKind === "enum"
        ? enumText(field.enum.values)
        : scalarText(field.scalar);
  return (m, out, item, first) => {
    const entries = Object.entries(m[name] as Record<string, unknown>);
    if (entries.length === 0) return;
    // As JSON.stringify orders an object's keys: integer-like keys first, ascending.
    const object: Record<string, string> = {};
    for (const [k, v] of entries) object[k] = value(v, item);
    const text = Object.entries(object)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(",");
    out.push(keys[first ? 1 : 0], `{${text}}`);
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
      const out: Out = [];
      fieldWriter(field)(m, out, item, true);
      if (out.length === 0) continue;
      yield comma + out.join("");
    }
    first = false;
  }
  yield "}";
}
