import { clone, create } from "@bufbuild/protobuf";
import {
  type Resource,
  type Resource_AllocationInfo,
  Resource_AllocationInfoSchema,
  ResourceSchema,
  Value_RangeSchema,
  type Value_Ranges,
  Value_RangesSchema,
  type Value_Scalar,
  Value_ScalarSchema,
  Value_SetSchema,
  Value_Type,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { kindKey, reservationRole, roundScalar } from "../resources/index.js";

/**
 * The allocator's own resource representation. Protobuf Resource messages
 * are costly to clone and to key (most of a cycle went there), so the
 * allocator converts them once on the way in, keeps plain numbers, spans
 * and strings per interned kind, and builds messages only for what it
 * returns. Arithmetic here matches ../resources/arithmetic.ts exactly
 * (scalars rounded to 0.001 at every step, ranges merged and sorted, set
 * items unique and sorted, empty entries dropped, order of first appearance),
 * so proposals are the same messages as before.
 */

/** The resource names Dominant Resource Fairness weighs, as Mesos does by default. */
export const DRF_KINDS: readonly string[] = ["cpus", "mem", "disk", "gpus"];

/** One kind of resource (see kindKey), interned per allocator. */
export interface Kind {
  readonly key: string;
  readonly name: string;
  /**
   * The name's number in its KindTable: the share book counts quantities
   * in arrays by it. DRF_KINDS are 0 to DRF_KINDS.length - 1, in order.
   */
  readonly nameId: number;
  readonly type: Value_Type;
  /** The resource without value or allocation_info, copied for each message built. */
  readonly template: Resource;
  /** The innermost reservation role, "*" when unreserved. */
  readonly reservedTo: string;
  /** Unreserved, non-revocable scalar: what quota guarantees, limits and headroom are about. */
  readonly quota: boolean;
  /** Non-revocable scalar: counts toward consumed quota (reserved or not). */
  readonly quotaScalar: boolean;
  /** No reservation, disk, shared, revocable or provider: the template has no sub-messages. */
  readonly plain: boolean;
  /** Plain, and its template has exactly the fields copyOf sets one by one. */
  readonly usualFields: boolean;
  /**
   * Whether shares and quota look at this kind's quantity (a scalar, or a
   * name DRF weighs): holdings of other kinds (ports, sets) need not be
   * counted, which spares bigint arithmetic on every charge.
   */
  readonly counted: boolean;
}

export interface Span {
  begin: bigint;
  end: bigint;
}

/** A scalar amount, a normalized list of spans, or sorted unique set items. */
export type Amount = number | readonly Span[] | readonly string[];

/** Kind → amount, in order of first appearance; no empty amounts (except an agent's free bag, see agent-book.ts). */
export type Bag = Map<Kind, Amount>;

export function isEmptyAmount(a: Amount): boolean {
  return typeof a === "number" ? a === 0 : a.length === 0;
}

/** What quantitiesOf counts: the scalar, the number of values in the spans, the number of items. */
export function quantityOf(a: Amount): number {
  if (typeof a === "number") return a;
  if (a.length === 0) return 0;
  if (typeof a[0] === "string") return a.length;
  let n = 0;
  for (const s of a as readonly Span[]) n += Number(s.end - s.begin + 1n);
  return n;
}

function normalizeSpans(spans: Span[]): Span[] {
  const sorted = spans
    .filter((s) => s.begin <= s.end)
    .sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  const out: Span[] = [];
  for (const span of sorted) {
    const last = out.at(-1);
    if (last !== undefined && span.begin <= last.end + 1n) {
      if (span.end > last.end) last.end = span.end;
    } else {
      out.push({ begin: span.begin, end: span.end });
    }
  }
  return out;
}

const NO_SPANS: readonly Span[] = Object.freeze([]);

function subtractSpans(a: readonly Span[], b: readonly Span[]): readonly Span[] {
  // Taking back exactly what is there (a whole offer's ports) is the common case.
  if (
    a.length === 1 &&
    b.length === 1 &&
    (b[0] as Span).begin <= (a[0] as Span).begin &&
    (a[0] as Span).end <= (b[0] as Span).end
  )
    return NO_SPANS;
  let spans = a.map((s) => ({ begin: s.begin, end: s.end }));
  for (const cut of b) {
    spans = spans.flatMap((s) => {
      if (cut.end < s.begin || cut.begin > s.end) return [s];
      const pieces: Span[] = [];
      if (cut.begin > s.begin) pieces.push({ begin: s.begin, end: cut.begin - 1n });
      if (cut.end < s.end) pieces.push({ begin: cut.end + 1n, end: s.end });
      return pieces;
    });
  }
  return spans;
}

/** `a ± b` for amounts of one kind; a scalar never goes below zero (it is empty instead). */
export function combine(a: Amount, b: Amount, sign: 1 | -1): Amount {
  if (typeof a === "number") {
    const v = roundScalar(a + sign * (b as number));
    return Math.max(v, 0);
  }
  const other = b as readonly Span[] | readonly string[];
  if (a.length === 0 && sign === -1) return a;
  if (typeof (a[0] ?? other[0]) === "string") {
    const items = new Set(a as readonly string[]);
    for (const item of b as readonly string[]) {
      if (sign === 1) items.add(item);
      else items.delete(item);
    }
    return [...items].sort();
  }
  return sign === 1
    ? normalizeSpans([...(a as readonly Span[]), ...(b as readonly Span[])])
    : subtractSpans(a as readonly Span[], b as readonly Span[]);
}

/** Whether amount `have` holds all of `want` (same kind). */
export function containsAmount(have: Amount, want: Amount): boolean {
  if (typeof have === "number") return have >= (want as number);
  const wanted = want as readonly Span[] | readonly string[];
  if (wanted.length === 0) return true;
  if (typeof wanted[0] === "string") {
    const items = new Set(have as readonly string[]);
    return (want as readonly string[]).every((i) => items.has(i));
  }
  // Loops, not every/some: this runs for every kind of every charge.
  for (const s of want as readonly Span[]) {
    let inside = false;
    for (const o of have as readonly Span[]) {
      if (o.begin <= s.begin && s.end <= o.end) {
        inside = true;
        break;
      }
    }
    if (!inside) return false;
  }
  return true;
}

/** Adds `b` into `into` (mutating it): new kinds are appended, as addResources orders them. */
export function addInto(into: Bag, b: Bag): void {
  for (const [kind, amount] of b) {
    const before = into.get(kind);
    const after = before === undefined ? amount : combine(before, amount, 1);
    if (isEmptyAmount(after)) into.delete(kind);
    else into.set(kind, after);
  }
}

/** Takes `b` out of `into` (mutating it); what `b` has beyond `into` is ignored, emptied kinds are dropped. */
export function subtractFrom(into: Bag, b: Bag): void {
  for (const [kind, amount] of b) {
    const before = into.get(kind);
    if (before === undefined) continue;
    const after = combine(before, amount, -1);
    if (isEmptyAmount(after)) into.delete(kind);
    else into.set(kind, after);
  }
}

export function containsBag(superset: Bag, subset: Bag): boolean {
  for (const [kind, want] of subset) {
    const have = superset.get(kind);
    if (have === undefined ? !isEmptyAmount(want) : !containsAmount(have, want)) return false;
  }
  return true;
}

export function isEmptyBag(bag: Bag): boolean {
  for (const amount of bag.values()) if (!isEmptyAmount(amount)) return false;
  return true;
}

/** The amount of `name` summed over its kinds (see quantityOf). */
export function quantityNamed(bag: Bag, name: string): number {
  let n = 0;
  for (const [kind, amount] of bag) if (kind.name === name) n = roundScalar(n + quantityOf(amount));
  return n;
}

/** Amounts by name (see quantityOf), as quantitiesOf gives them. */
export function quantitiesOfBag(bag: Bag): Map<string, number> {
  const out = new Map<string, number>();
  for (const [kind, amount] of bag) {
    const n = quantityOf(amount);
    if (n !== 0) out.set(kind.name, roundScalar((out.get(kind.name) ?? 0) + n));
  }
  return out;
}

function amountOf(r: Resource): Amount | undefined {
  switch (r.type) {
    case Value_Type.SCALAR:
      return Math.max(0, roundScalar(r.scalar?.value ?? 0));
    case Value_Type.RANGES:
      return normalizeSpans((r.ranges?.range ?? []).map((s) => ({ begin: s.begin, end: s.end })));
    case Value_Type.SET:
      return [...new Set(r.set?.item ?? [])].sort();
    default:
      // TEXT and unknown types carry no quantity; arithmetic drops them.
      return undefined;
  }
}

/**
 * A fresh message of the kind, without value. A plain kind's template has
 * no sub-messages, so a shallow copy on the same prototype (which holds
 * proto2 defaults and so presence, as create() builds it) is a full copy
 * once its one list is replaced; other kinds are cloned.
 */
function copyOf(kind: Kind): Resource {
  if (!kind.plain) return clone(ResourceSchema, kind.template);
  // The template's `reservations` is empty and frozen (see kindOf), so
  // sharing it is safe: messages are replaced, never changed in place.
  const t = kind.template;
  if (!kind.usualFields)
    return Object.assign(Object.create(Object.getPrototypeOf(t) as object) as Resource, kind.template);
  return new PlainResource(t);
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A copy of a plain kind's template, as Object.assign(Object.create(proto),
 * template) makes it: same prototype (protobuf-es keeps proto2 defaults
 * there), same own fields. Built by a constructor because V8 then lays the
 * eight fields out inside the object: four of these per proposal, all kept
 * until the offer is answered, were a quarter of what a cycle allocated
 * (about 250 bytes each through Object.create and Object.assign).
 */
const PlainResource = function (this: Writable<Resource>, t: Resource) {
  this.$typeName = t.$typeName;
  this.reservations = t.reservations;
  this.name = t.name;
  this.type = t.type;
  this.scalar = undefined;
  this.allocationInfo = undefined;
  this.ranges = undefined;
  this.set = undefined;
} as unknown as { new (t: Resource): Resource; prototype: object };
PlainResource.prototype = Object.getPrototypeOf(create(ResourceSchema)) as object;

/** The own fields of a plain kind's template as kindOf leaves them, which copyOf sets one by one. */
const USUAL_FIELDS = ["$typeName", "reservations", "name", "type", "scalar", "allocationInfo", "ranges", "set"];

function hasUsualFields(template: Resource): boolean {
  const own = Object.keys(template);
  return (
    Object.getPrototypeOf(template) === PlainResource.prototype &&
    own.length === USUAL_FIELDS.length &&
    USUAL_FIELDS.every((k) => own.includes(k))
  );
}

/** At most this many scalar values are kept for reuse; past it the cache starts over. */
const SCALAR_CACHE_LIMIT = 4096;

/** A key that is cheap to compute for plain unreserved resources; undefined when only kindKey will do. */
function plainKey(r: Resource): string | undefined {
  if (r.reservations.length > 0 || (r.role !== "" && r.role !== "*") || r.reservation !== undefined) return undefined;
  if (r.disk !== undefined || r.shared !== undefined || r.revocable !== undefined || r.providerId !== undefined)
    return undefined;
  return `${r.name}\u0000${r.type}`;
}

/**
 * Interns kinds and converts between Resource messages and bags. One per
 * allocator: kinds are few (names times reservations), and dropping the
 * allocator drops them.
 */
export class KindTable {
  private readonly byKey = new Map<string, Kind>();
  private readonly nameIds = new Map<string, number>(DRF_KINDS.map((name, i) => [name, i]));
  private readonly byPlainKey = new Map<string, Kind>();
  /*
   * Value and allocation_info messages, shared by the proposals built here
   * and frozen. Why: every proposal's messages live until the offer is
   * answered, so at 10,000 offers a cycle the young generation copied them
   * all (profiled: about 9 µs of CPU per 4-resource proposal when they
   * survive, 3 µs when they do not). Sharing nested messages is the rule
   * of ../resources/arithmetic.ts already: replace them, never change them.
   */
  private readonly infoByRole = new Map<string, Resource_AllocationInfo>();
  private readonly scalars = new Map<number, Value_Scalar>();
  private readonly lastRanges = new Map<Kind, { spans: readonly Span[]; message: Value_Ranges }>();
  /*
   * Per plain kind, the last proposal's message of it, frozen: the next
   * proposal of the same amount to the same role shares it. Why: agents
   * mostly look alike and are offered whole, and each message built was
   * about 80 bytes that lived as long as its offer, so the young
   * generation copied it (profiled at 10,000 agents x 1,000 frameworks:
   * building and then copying these was about a fifth of a cycle). Only
   * plain kinds: their nested messages are frozen too, so nothing shared
   * can be changed in place.
   */
  private readonly lastBuilt = new Map<Kind, { amount: Amount; role: string; message: Resource }>();

  kindOf(r: Resource): Kind {
    const plain = plainKey(r);
    const cached = plain === undefined ? undefined : this.byPlainKey.get(plain);
    if (cached !== undefined) return cached;
    const template = clone(ResourceSchema, r);
    template.allocationInfo = undefined;
    template.scalar = undefined;
    template.ranges = undefined;
    template.set = undefined;
    const key = kindKey(template);
    let kind = this.byKey.get(key);
    if (kind === undefined) {
      const reservedTo = reservationRole(template);
      const scalar = template.type === Value_Type.SCALAR && template.revocable === undefined;
      const plainKind = plainKey(template) !== undefined;
      const counted = template.type === Value_Type.SCALAR || DRF_KINDS.includes(template.name);
      if (plainKind) template.reservations = Object.freeze([]) as unknown as Resource["reservations"];
      let nameId = this.nameIds.get(template.name);
      if (nameId === undefined) {
        nameId = this.nameIds.size;
        this.nameIds.set(template.name, nameId);
      }
      kind = {
        key,
        name: template.name,
        nameId,
        type: template.type,
        template,
        reservedTo,
        quota: scalar && reservedTo === "*",
        quotaScalar: scalar,
        plain: plainKind,
        usualFields: plainKind && hasUsualFields(template),
        counted,
      };
      this.byKey.set(key, kind);
    }
    if (plain !== undefined) this.byPlainKey.set(plain, kind);
    return kind;
  }

  /** The resources as a bag, allocation_info ignored (as `unallocated` then addResources). */
  bagOf(resources: readonly Resource[]): Bag {
    const bag: Bag = new Map();
    for (const r of resources) {
      const amount = amountOf(r);
      if (amount === undefined) continue;
      const kind = this.kindOf(r);
      const before = bag.get(kind);
      const after = before === undefined ? amount : combine(before, amount, 1);
      // An empty entry still holds its place, as addResources keeps the first appearance's order until the end.
      bag.set(kind, after);
    }
    for (const [kind, amount] of bag) if (isEmptyAmount(amount)) bag.delete(kind);
    return bag;
  }

  /**
   * Resource messages for the bag, with allocation_info.role = `role` when
   * given. With a role, messages of plain kinds are frozen and may be
   * shared with other proposals (see lastBuilt).
   */
  resourcesOf(bag: Bag, role?: string): Resource[] {
    // Sized first: pushing onto an empty array reserves room for 17.
    let n = 0;
    for (const amount of bag.values()) if (!isEmptyAmount(amount)) n++;
    const out: Resource[] = new Array(n);
    let at = 0;
    // Keys, then get: destructured entries were an array per resource built.
    for (const kind of bag.keys()) {
      const amount = bag.get(kind) as Amount;
      if (isEmptyAmount(amount)) continue;
      // Sets are left out: their message is built anew, not frozen.
      if (role !== undefined && kind.plain && kind.type !== Value_Type.SET) {
        out[at++] = this.sharedOf(kind, amount, role);
        continue;
      }
      out[at++] = this.messageOf(kind, amount, role);
    }
    return out;
  }

  /** The last message built of the kind when it has this amount and role, else a new one (frozen, remembered). */
  private sharedOf(kind: Kind, amount: Amount, role: string): Resource {
    const last = this.lastBuilt.get(kind);
    if (last !== undefined && last.role === role && sameAmount(last.amount, amount)) return last.message;
    const message = Object.freeze(this.messageOf(kind, amount, role));
    const kept =
      typeof amount === "number" ? amount : (amount as readonly Span[]).map((s) => ({ begin: s.begin, end: s.end }));
    this.lastBuilt.set(kind, { amount: kept, role, message });
    return message;
  }

  private messageOf(kind: Kind, amount: Amount, role: string | undefined): Resource {
    const r = copyOf(kind);
    if (typeof amount === "number") r.scalar = this.scalarOf(amount);
    else if (kind.type === Value_Type.RANGES) r.ranges = this.rangesOf(kind, amount as readonly Span[]);
    else r.set = create(Value_SetSchema, { item: [...(amount as readonly string[])] });
    if (role !== undefined) r.allocationInfo = this.infoOf(role);
    return r;
  }

  private scalarOf(value: number): Value_Scalar {
    let message = this.scalars.get(value);
    if (message === undefined) {
      if (this.scalars.size >= SCALAR_CACHE_LIMIT) this.scalars.clear();
      message = Object.freeze(create(Value_ScalarSchema, { value }));
      this.scalars.set(value, message);
    }
    return message;
  }

  /** The last ranges message of the kind when its spans are the same (an agent's whole port range, mostly). */
  private rangesOf(kind: Kind, spans: readonly Span[]): Value_Ranges {
    const last = this.lastRanges.get(kind);
    if (last !== undefined && sameSpans(last.spans, spans)) return last.message;
    const message = create(Value_RangesSchema, {
      range: spans.map((s) => Object.freeze(create(Value_RangeSchema, s))),
    });
    Object.freeze(message.range);
    Object.freeze(message);
    this.lastRanges.set(kind, { spans: spans.map((s) => ({ begin: s.begin, end: s.end })), message });
    return message;
  }

  private infoOf(role: string): Resource_AllocationInfo {
    let message = this.infoByRole.get(role);
    if (message === undefined) {
      message = Object.freeze(create(Resource_AllocationInfoSchema, { role }));
      this.infoByRole.set(role, message);
    }
    return message;
  }
}

/** Same scalar or same spans (sets are never shared, see resourcesOf). */
function sameAmount(a: Amount, b: Amount): boolean {
  if (a === b) return true;
  if (typeof a === "number" || typeof b === "number") return false;
  return sameSpans(a as readonly Span[], b as readonly Span[]);
}

function sameSpans(a: readonly Span[], b: readonly Span[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Span;
    const y = b[i] as Span;
    if (x.begin !== y.begin || x.end !== y.end) return false;
  }
  return true;
}
