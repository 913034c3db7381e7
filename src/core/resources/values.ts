import { create } from "@bufbuild/protobuf";
import { type Value_Range, Value_RangeSchema } from "../../../gen/mesos/v1/mesos_pb.js";

/**
 * Mesos keeps scalars in fixed point with three decimal digits, so that
 * 0.1 + 0.2 equals 0.3 and repeated add/subtract cannot drift. Halves round
 * away from zero (symmetric for negatives); -0 becomes 0; NaN stays NaN.
 */
export function roundScalar(value: number): number {
  const rounded = (Math.sign(value) * Math.round(Math.abs(value) * 1000)) / 1000;
  return rounded === 0 ? 0 : rounded;
}

interface Span {
  begin: bigint;
  end: bigint;
}

const byBegin = (a: Span, b: Span): number => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0);
const toSpans = (ranges: Value_Range[]): Span[] => ranges.map((r) => ({ begin: r.begin, end: r.end }));
const toRanges = (spans: Span[]): Value_Range[] => spans.map((s) => create(Value_RangeSchema, s));

/**
 * Sorted, with overlapping and adjacent ranges merged ([1-2],[3-4] → [1-4]).
 * Inverted ranges (begin > end) are dropped: they hold nothing.
 */
export function normalizeRanges(ranges: Value_Range[]): Value_Range[] {
  const spans = toSpans(ranges)
    .filter((s) => s.begin <= s.end)
    .sort(byBegin);
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

/** The union of two range lists, normalized. */
export function addRanges(a: Value_Range[], b: Value_Range[]): Value_Range[] {
  return normalizeRanges([...a, ...b]);
}

/** `a` without any value in `b`, normalized; cutting inside a range splits it. */
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

/** Whether every value in `subset` is in `superset`. */
export function containsRanges(superset: Value_Range[], subset: Value_Range[]): boolean {
  const outer = toSpans(normalizeRanges(superset));
  return toSpans(normalizeRanges(subset)).every((s) => outer.some((o) => o.begin <= s.begin && s.end <= o.end));
}

/** How many values the ranges hold (ranges assumed disjoint). */
export function rangesSize(ranges: Value_Range[]): number {
  return ranges.reduce((n, r) => n + (r.end >= r.begin ? Number(r.end - r.begin + 1n) : 0), 0);
}
