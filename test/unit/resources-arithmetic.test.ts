import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Resource, ResourceSchema, Value_Type } from "../../gen/mesos/v1/mesos_pb.js";
import {
  addResources,
  containsResources,
  formatResources,
  isEmptyResources,
  parseResources,
  quantitiesOf,
  scalarOf,
  subtractResources,
} from "../../src/core/resources/index.js";

const same = (a: Resource[], b: Resource[]): boolean => containsResources(a, b) && containsResources(b, a);

describe("resource arithmetic", () => {
  it("splits and merges ranges", () => {
    const all = parseResources("ports:[31000-32000]");
    const left = subtractResources(all, parseResources("ports:[31005-31005]"));
    expect(formatResources(left)).toBe("ports:[31000-31004, 31006-32000]");
    expect(formatResources(addResources(left, parseResources("ports:[31005-31005]")))).toBe("ports:[31000-32000]");
    expect(formatResources(subtractResources(all, parseResources("ports:[30000-31499,31900-40000]")))).toBe(
      "ports:[31500-31899]",
    );
    expect(containsResources(all, parseResources("ports:[31000-31001,31999-32000]"))).toBe(true);
    expect(containsResources(left, parseResources("ports:[31004-31006]"))).toBe(false);
  });

  it("treats sets as unions and differences", () => {
    const ab = parseResources("zones:{a,b}");
    expect(formatResources(addResources(ab, parseResources("zones:{b,c}")))).toBe("zones:{a, b, c}");
    expect(formatResources(subtractResources(ab, parseResources("zones:{a}")))).toBe("zones:{b}");
    expect(subtractResources(ab, ab)).toEqual([]);
    expect(containsResources(ab, parseResources("zones:{b}"))).toBe(true);
    expect(containsResources(ab, parseResources("zones:{c}"))).toBe(false);
  });

  it("uses fixed-point scalars: 0.1 + 0.2 == 0.3 and zero disappears", () => {
    const r = addResources(parseResources("cpus:0.1"), parseResources("cpus:0.2"));
    expect(scalarOf(r, "cpus")).toBe(0.3);
    expect(containsResources(r, parseResources("cpus:0.3"))).toBe(true);
    expect(containsResources(parseResources("cpus:0.3"), r)).toBe(true);
    expect(subtractResources(r, parseResources("cpus:0.3"))).toEqual([]);
    expect(scalarOf(parseResources("cpus:0.1234"), "cpus")).toBe(0.123);
    expect(parseResources("cpus:0.0004")).toEqual([]);
  });

  it("keeps reserved and unreserved resources apart", () => {
    const r = parseResources("cpus:2;cpus(prod):1");
    expect(containsResources(r, parseResources("cpus:3"))).toBe(false);
    expect(containsResources(r, parseResources("cpus(prod):1"))).toBe(true);
    expect(containsResources(r, parseResources("cpus(dev):1"))).toBe(false);
    expect(formatResources(subtractResources(r, parseResources("cpus:2")))).toBe("cpus(prod):1");
    expect(scalarOf(r, "cpus")).toBe(3);
    expect(quantitiesOf(r).get("cpus")).toBe(3);
  });

  it("ignores what the subtrahend has beyond the minuend, never going negative", () => {
    const left = subtractResources(parseResources("cpus:1;mem:10"), parseResources("cpus:5;disk:3;mem(x):1"));
    expect(formatResources(left)).toBe("mem:10");
  });

  it("does not mutate its inputs", () => {
    const a = parseResources("cpus:1;ports:[1-10]");
    const before = formatResources(a);
    addResources(a, parseResources("cpus:1;ports:[11-12]"));
    subtractResources(a, parseResources("cpus:1;ports:[5-5]"));
    expect(formatResources(a)).toBe(before);
  });

  it("knows empty lists", () => {
    expect(isEmptyResources([])).toBe(true);
    expect(
      isEmptyResources([create(ResourceSchema, { name: "cpus", type: Value_Type.SCALAR, scalar: { value: 0 } })]),
    ).toBe(true);
    expect(isEmptyResources(parseResources("cpus:0.001"))).toBe(false);
    expect(formatResources([])).toBe("{}");
  });
});

// Random resource lists. Ranges and sets are sets, not multisets, so (a+b)-b
// == a only holds when a and b share no port or item: `pool` keeps them apart.
const resourceList = (pool: 0 | 1) => {
  const role = fc.constantFrom("*", "prod", "eng/web");
  const scalar = fc
    .record({ name: fc.constantFrom("cpus", "mem", "disk"), role, millis: fc.integer({ min: 0, max: 100_000 }) })
    .map((x) => `${x.name}${x.role === "*" ? "" : `(${x.role})`}:${x.millis / 1000}`);
  const ports = fc
    .record({ role, begin: fc.integer({ min: 0, max: 90 }), len: fc.integer({ min: 0, max: 9 }) })
    .map((x) => {
      const base = pool * 1000;
      return `ports${x.role === "*" ? "" : `(${x.role})`}:[${base + x.begin}-${base + x.begin + x.len}]`;
    });
  const items = fc
    .subarray(pool === 0 ? ["a", "b", "c", "d"] : ["w", "x", "y", "z"], { minLength: 1 })
    .map((xs) => `zones:{${xs.join(",")}}`);
  return fc
    .array(fc.oneof(scalar, scalar, ports, items), { maxLength: 8 })
    .map((tokens) => parseResources(tokens.join(";")));
};

describe("resource arithmetic properties", () => {
  it("(a + b) - b == a for disjoint ranges and sets", () => {
    fc.assert(
      fc.property(resourceList(0), resourceList(1), (a, b) => same(subtractResources(addResources(a, b), b), a)),
    );
  });

  it("a + b contains a and b", () => {
    fc.assert(
      fc.property(
        resourceList(0),
        resourceList(0),
        (a, b) => containsResources(addResources(a, b), a) && containsResources(addResources(a, b), b),
      ),
    );
  });

  it("addition commutes", () => {
    fc.assert(fc.property(resourceList(0), resourceList(0), (a, b) => same(addResources(a, b), addResources(b, a))));
  });

  it("when a contains b, a - b has no negatives and (a - b) + b == a", () => {
    fc.assert(
      fc.property(resourceList(0), resourceList(0), (x, b) => {
        const a = addResources(x, b);
        expect(containsResources(a, b)).toBe(true);
        const left = subtractResources(a, b);
        expect(left.every((r) => r.type !== Value_Type.SCALAR || (r.scalar?.value ?? 0) > 0)).toBe(true);
        expect([...quantitiesOf(left).values()].every((n) => n > 0)).toBe(true);
        expect(same(addResources(left, b), a)).toBe(true);
        expect(containsResources(a, left)).toBe(true);
      }),
    );
  });

  it("scalar sums match exact integer arithmetic in thousandths", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 20 }), (millis) => {
        const sum = millis.reduce((r, m) => addResources(r, parseResources(`cpus:${m / 1000}`)), [] as Resource[]);
        expect(scalarOf(sum, "cpus")).toBe(millis.reduce((n, m) => n + m, 0) / 1000);
      }),
    );
  });

  it("formats to text that parses back to the same resources", () => {
    fc.assert(
      fc.property(resourceList(0), (a) =>
        same(parseResources(formatResources(a) === "{}" ? "" : formatResources(a)), a),
      ),
    );
  });
});
