/**
 * Answers too large for one gRPC message, split into pieces that merge
 * back into the whole (proto/mesos/v2/mesos.proto, `Piece`).
 *
 * A piece of a message is some of its encoded fields: every piece repeats
 * its singular scalars (an answer's `type`), each list's items are spread
 * over the pieces in order, and a nested message is split the same way and
 * wrapped in its field. Merging
 * the pieces as protobuf merges messages (lists append, nested messages
 * merge) gives the message back, which every protobuf library can do.
 *
 * Why bytes and not message objects: each list item is encoded exactly
 * once, here, and goes out as it is. The pieces ride in their envelope as
 * unknown fields (`$unknown`), which protobuf-es writes verbatim and every
 * reader decodes as the known field they are; encoding the items to learn
 * their sizes and then again to send them doubled a large state's CPU.
 * JSON clients cannot take raw fields: `decodePieces` turns them into
 * messages for those.
 */
import {
  type DescField,
  type DescMessage,
  fromBinary,
  type Message,
  type MessageShape,
  merge,
  toBinary,
} from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** gRPC's default limit on a received message (grpc-go, grpc-java, Python, C++). */
export const GRPC_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * The most a piece's payload holds: room is left for its envelope (call id,
 * piece marker, field headers), so the whole message stays under the limit.
 */
export const MAX_PIECE_BYTES = GRPC_DEFAULT_MAX_MESSAGE_BYTES - 64 * 1024;

/** One piece of a message: encoded fields whose concatenation is that part of it. */
interface Part {
  chunks: Uint8Array[];
  size: number;
}

/** A list item (a task, an agent) that alone does not fit in a piece. */
export class PieceTooLargeError extends Error {
  constructor(
    readonly typeName: string,
    readonly bytes: number,
  ) {
    super(`one ${typeName} is ${bytes} bytes, more than a piece can hold (${MAX_PIECE_BYTES})`);
  }
}

/** Appends `n` as a varint (n < 2^32). */
function varint(out: number[], n: number): void {
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/**
 * The part as field `no` of its parent. The header is written by hand: a
 * BinaryWriter per list item (hundreds of thousands of tasks) cost more
 * than encoding the items.
 */
function lengthDelimited(no: number, part: Part): Part {
  const bytes: number[] = [];
  varint(bytes, (no << 3) | WireType.LengthDelimited);
  varint(bytes, part.size);
  const header = Uint8Array.from(bytes);
  return { chunks: [header, ...part.chunks], size: header.byteLength + part.size };
}

const splits = (field: DescField): boolean =>
  field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message");

/**
 * Some of the message's own fields, encoded: its singular scalars and enums
 * (`repeated` false), which every piece carries so that each one says what
 * it is (a GET_STATE answer) and merging leaves them as they were; or its
 * scalar lists and maps (`repeated` true), which only the first piece
 * carries, since merging appends lists.
 */
function ownFields(desc: DescMessage, r: ReflectMessage, repeated: boolean): Uint8Array {
  const head = reflect(desc);
  for (const field of desc.fields) {
    if (splits(field) || !r.isSet(field)) continue;
    if ((field.fieldKind === "list" || field.fieldKind === "map") === repeated) head.set(field, r.get(field) as never);
  }
  return toBinary(desc, head.message);
}

/** Encodes one list item; a caller may keep items it knows did not change. */
export type EncodeItem = (desc: DescMessage, item: Message) => Uint8Array;

const encodeAnew: EncodeItem = (desc, item) => toBinary(desc, item);

/** Splits one message into parts of at most `budget` bytes each (at least one part). */
function split(desc: DescMessage, message: Message, budget: number, encode: EncodeItem): Part[] {
  const r = reflect(desc, message);
  const always = ownFields(desc, r, false);
  const fresh = (): Part => ({ chunks: [always], size: always.byteLength });
  const parts: Part[] = [];
  let current = fresh();
  const add = (part: Part, typeName: string): void => {
    if (always.byteLength + part.size > budget) throw new PieceTooLargeError(typeName, part.size);
    if (current.size > always.byteLength && current.size + part.size > budget) {
      parts.push(current);
      current = fresh();
    }
    current.chunks.push(...part.chunks);
    current.size += part.size;
  };
  const once = ownFields(desc, r, true);
  if (once.byteLength > 0) add({ chunks: [once], size: once.byteLength }, desc.typeName);
  for (const field of desc.fields) {
    if (field.fieldKind === "message" && r.isSet(field)) {
      // A field header is at most 5 bytes of tag and 5 of length.
      for (const sub of split(field.message, r.get(field).message, budget - 10, encode))
        add(lengthDelimited(field.number, sub), field.message.typeName);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      for (const item of r.get(field)) {
        const bytes = encode(field.message, (item as ReflectMessage).message);
        add(lengthDelimited(field.number, { chunks: [bytes], size: bytes.byteLength }), field.message.typeName);
      }
    }
  }
  parts.push(current);
  return parts;
}

function concat(part: Part): Uint8Array {
  const out = new Uint8Array(part.size);
  let at = 0;
  for (const chunk of part.chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * `message` encoded in pieces of at most `maxBytes` each, in order; one
 * piece when it fits. Throws PieceTooLargeError when a single list item is
 * larger than a piece.
 */
export function encodePieces(
  desc: DescMessage,
  message: Message,
  maxBytes = MAX_PIECE_BYTES,
  encode: EncodeItem = encodeAnew,
): Uint8Array[] {
  return split(desc, message, maxBytes, encode).map(concat);
}

/**
 * The unknown field that carries an encoded `bytes` as field `no` of its
 * envelope (protobuf-es keeps the length prefix in `data`).
 */
export function embedded(no: number, bytes: Uint8Array): { no: number; wireType: WireType; data: Uint8Array } {
  const prefix = new BinaryWriter().uint32(bytes.byteLength).finish();
  const data = new Uint8Array(prefix.byteLength + bytes.byteLength);
  data.set(prefix, 0);
  data.set(bytes, prefix.byteLength);
  return { no, wireType: WireType.LengthDelimited, data };
}

/** The pieces as messages, for clients that read JSON (which has no raw fields). */
export function decodePieces<Desc extends DescMessage>(desc: Desc, pieces: Uint8Array[]) {
  return pieces.map((bytes) => fromBinary(desc, bytes));
}

/** Gathers answers that arrive in pieces back into whole messages, by a key (the call id). */
export interface PieceAssembler<T> {
  /**
   * The whole message once its last piece is in (with `piece` cleared);
   * undefined while more pieces are due. A message without `piece` is whole already.
   */
  add(key: string, message: T & { piece?: { index: number; last: boolean } }): T | undefined;
}

export function createPieceAssembler<Desc extends DescMessage>(desc: Desc): PieceAssembler<MessageShape<Desc>> {
  const partial = new Map<string, MessageShape<Desc>>();
  return {
    add(key, message) {
      const { piece } = message;
      if (piece === undefined) return message;
      // A first piece starts over (what came before it belonged to a broken-off answer).
      const sofar = piece.index === 0 ? undefined : partial.get(key);
      if (sofar === undefined) partial.set(key, message);
      else merge(desc, sofar, message);
      if (!piece.last) return undefined;
      const whole = partial.get(key) as MessageShape<Desc> & { piece?: unknown };
      partial.delete(key);
      whole.piece = undefined;
      return whole;
    },
  };
}
