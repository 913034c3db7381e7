/**
 * JSON documents written as they are built, for endpoints whose answer is
 * too large to build whole (/master/state of a large cluster: hundreds of
 * MB). A document is plain JSON values plus two kinds of parts that are
 * only walked while writing: a `StreamedObject` (an object whose fields are
 * written one by one) and a `LazyList` (a list whose items are made one at
 * a time). Everything else is written with JSON.stringify, so the bytes are
 * what JSON.stringify would make of the whole.
 *
 * Why: building the model objects of a whole state, then its JSON string,
 * then its bytes held the answer three times at once (about 1 GB at 20,000
 * agents and 400,000 tasks); written in chunks, one item's model at a time
 * is alive, plus the chunk being written.
 */
import type { JsonValue } from "./json.js";

/** An object written field by field; values may hold further streamed parts. */
export class StreamedObject {
  constructor(readonly fields: ReadonlyArray<readonly [string, StreamedValue | undefined]>) {}
}

/** A list whose items are made while writing, one at a time (each pass makes them anew). */
export class LazyList {
  constructor(readonly values: Iterable<StreamedValue>) {}
}

/** `items` as a list of their models, each made when written. */
export function lazyList<T>(items: Iterable<T>, model: (item: T) => StreamedValue): LazyList {
  return new LazyList({
    *[Symbol.iterator]() {
      for (const item of items) yield model(item);
    },
  });
}

/** JSON text made earlier (a cached task), written as it is. */
export class RawJson {
  constructor(readonly text: string) {}
}

export type StreamedValue = JsonValue | StreamedObject | LazyList | RawJson;

/** The document's text, in pieces (each field, each list item). */
export function* jsonText(value: StreamedValue): Generator<string> {
  if (value instanceof StreamedObject) {
    let first = true;
    yield "{";
    for (const [key, field] of value.fields) {
      // As JSON.stringify: a field whose value is undefined is left out.
      if (field === undefined) continue;
      yield `${first ? "" : ","}${JSON.stringify(key)}:`;
      first = false;
      yield* jsonText(field);
    }
    yield "}";
  } else if (value instanceof LazyList) {
    let first = true;
    yield "[";
    for (const item of value.values) {
      const comma = first ? "" : ",";
      first = false;
      // Kept text goes out as it is: a nested generator per item (400,000
      // tasks) cost more than the writing.
      if (item instanceof RawJson) yield comma + item.text;
      else {
        if (comma !== "") yield comma;
        yield* jsonText(item);
      }
    }
    yield "]";
  } else if (value instanceof RawJson) {
    yield value.text;
  } else {
    yield JSON.stringify(value);
  }
}

/** The whole document as plain JSON values (for endpoints that filter it before answering). */
export function materialize(value: StreamedValue): JsonValue {
  if (value instanceof StreamedObject) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, field] of value.fields) if (field !== undefined) out[key] = materialize(field);
    return out;
  }
  if (value instanceof LazyList) return [...value.values].map(materialize);
  if (value instanceof RawJson) return JSON.parse(value.text) as JsonValue;
  return value;
}

/** Bytes gathered before a write: small enough to keep memory flat, large enough to keep writes few. */
export const CHUNK_BYTES = 64 * 1024;

/** The document's text in chunks of about CHUNK_BYTES. */
export function jsonChunks(value: StreamedValue, chunkBytes = CHUNK_BYTES): Generator<Buffer> {
  return textChunks(jsonText(value), chunkBytes);
}

/** Text pieces gathered into Buffers of about `chunkBytes`. */
export function* textChunks(pieces: Iterable<string>, chunkBytes = CHUNK_BYTES): Generator<Buffer> {
  let pending = "";
  for (const piece of pieces) {
    // Characters, not bytes: close enough to size a chunk.
    pending += piece;
    if (pending.length >= chunkBytes) {
      yield Buffer.from(pending, "utf8");
      pending = "";
    }
  }
  if (pending.length > 0) yield Buffer.from(pending, "utf8");
}
