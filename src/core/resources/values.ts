import { create } from "@bufbuild/protobuf";
import { Value_RangeSchema, type Value_Range } from "../../../gen/mesos/v1/mesos_pb.js";

/**
 * Mesos keeps scalars in fixed point with three decimal digits, so that
 * 0.1 + 0.2 equals 0.3 and repeated add/subtract cannot drift.
 */
export function roundScalar(value: number): number {
  return Math.round(value * 1000) / 1000;
}

interface Span {
  begin: bigint;
  end: bigint;
}

const toSpans = (ranges: Value_Range[]): Span[] => ranges.map((r) => ({ begin: r.begin, end: r.end }));
const toRanges = (spans: Span[]): Value_Range[] => spans.map((s) => create(Value_RangeSchema, s));

/** Sorted, with overlapping and adjacent ranges merged. */
export function normalizeRanges(ranges: Value_Range[]): Value_Range[] {
  const spans = toSpans(ranges).sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  const out: Span[] = [];
  for (const span of spans) {
    const last = out.at(-1);
    if (last !== undefined && span.begin <= last.end + 1n) {
      if (span.end > last.end) last.end = span.end;
    } else {
      out.push({ ...span });
    }
  }
  return toRanges(out);
}

export function addRanges(a: Value_Range[], b: Value_Range[]): Value_Range[] {
  return normalizeRanges([...a, ...b]);
}

export function subtractRanges(a: Value_Range[], b: Value_Range[]): Value_Range[] {
  let spans = toSpans(normalizeRanges(a));
  for (const cut of toSpans(normalizeRanges(b))) {
    spans = spans.flatMap((s) => {
      if (cut.end < s.begin || cut.begin > s.end) return [s];
      const pieces: Span[] = [];
      if (cut.begin > s.begin) pieces.push({ begin: s.begin, end: cut.begin - 1n });
      if (cut.end < s.end) pieces.push({ begin: cut.end + 1n, end: s.end });
      return pieces;
    });
  }
  return toRanges(spans);
}

export function containsRanges(superset: Value_Range[], subset: Value_Range[]): boolean {
  const outer = toSpans(normalizeRanges(superset));
  return toSpans(normalizeRanges(subset)).every((s) => outer.some((o) => o.begin <= s.begin && s.end <= o.end));
}

export function rangesSize(ranges: Value_Range[]): number {
  return ranges.reduce((n, r) => n + Number(r.end - r.begin + 1n), 0);
}
