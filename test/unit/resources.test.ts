import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Value_Type } from "../../gen/mesos/v1/mesos_pb.js";
import {
  ResourceParseError,
  addResources,
  allocatableToRole,
  containsResources,
  formatResources,
  parseAttributes,
  parseResources,
  quantitiesOf,
  reservationRole,
  scalarOf,
  subtractResources,
  validateResources,
  validateRole,
} from "../../src/core/resources/index.js";

describe("parseResources", () => {
  it("reads scalars, ranges, sets and static reservations", () => {
    const r = parseResources("cpus:4; mem:4096 ;disk:10000;ports:[31000-32000, 33000-33010];zones:{a,b};cpus(prod):2");
    expect(scalarOf(r, "cpus")).toBe(6);
    expect(scalarOf(r, "mem")).toBe(4096);
    expect(quantitiesOf(r).get("ports")).toBe(1001 + 11);
    expect(r.find((x) => x.name === "zones")?.set?.item).toEqual(["a", "b"]);
    const prod = r.find((x) => x.name === "cpus" && reservationRole(x) === "prod");
    expect(prod?.scalar?.value).toBe(2);
    expect(formatResources(r)).toContain("cpus(prod):2");
  });

  it("merges repeated kinds", () => {
    expect(scalarOf(parseResources("cpus:1;cpus:2.5"), "cpus")).toBe(3.5);
  });

  it("reads the JSON array form", () => {
    const r = parseResources('[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]}}]');
    expect(scalarOf(r, "cpus")).toBe(2);
    expect(quantitiesOf(r).get("ports")).toBe(5);
  });

  it.each([
    ["cpus", /NAME:VALUE/],
    ["cpus:abc", /Bad value 'abc'/],
    ["cpus:-1", /non-negative/],
    ["ports:[5-1]", /ends before it begins/],
    ["cpus(/bad):1", /Bad role/],
    ["[{", /JSON/],
  ])("rejects %s with a message naming the problem", (text, message) => {
    expect(() => parseResources(text)).toThrow(ResourceParseError);
    expect(() => parseResources(text)).toThrow(message);
  });
});

describe("parseAttributes", () => {
  it("types values as scalar, ranges, set or text", () => {
    const a = parseAttributes("rack:a;cores:8;ports:[1-5];colors:{r,g}");
    expect(a.map((x) => x.type)).toEqual([Value_Type.TEXT, Value_Type.SCALAR, Value_Type.RANGES, Value_Type.SET]);
    expect(a[0]?.text?.value).toBe("a");
  });
});

describe("resource arithmetic", () => {
  it("splits and merges ranges", () => {
    const all = parseResources("ports:[31000-32000]");
    const left = subtractResources(all, parseResources("ports:[31005-31005]"));
    expect(formatResources(left)).toBe("ports:[31000-31004, 31006-32000]");
    expect(formatResources(addResources(left, parseResources("ports:[31005-31005]")))).toBe("ports:[31000-32000]");
  });

  it("uses fixed-point scalars", () => {
    const r = addResources(parseResources("cpus:0.1"), parseResources("cpus:0.2"));
    expect(containsResources(r, parseResources("cpus:0.3"))).toBe(true);
    expect(subtractResources(r, parseResources("cpus:0.3"))).toEqual([]);
  });

  it("keeps reserved and unreserved resources apart", () => {
    const r = parseResources("cpus:2;cpus(prod):1");
    expect(containsResources(r, parseResources("cpus:3"))).toBe(false);
    expect(containsResources(r, parseResources("cpus(prod):1"))).toBe(true);
  });

  const scalarList = fc.array(fc.record({ name: fc.constantFrom("cpus", "mem", "disk"), value: fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100) }), { maxLength: 6 });
  const toResources = (xs: Array<{ name: string; value: number }>) => parseResources(xs.map((x) => `${x.name}:${x.value}`).join(";"));

  it("(a + b) - b == a, and a + b contains a", () => {
    fc.assert(
      fc.property(scalarList, scalarList, (xa, xb) => {
        const a = toResources(xa);
        const b = toResources(xb);
        const sum = addResources(a, b);
        expect(containsResources(sum, a)).toBe(true);
        const back = subtractResources(sum, b);
        expect(containsResources(back, a) && containsResources(a, back)).toBe(true);
      }),
    );
  });

  it("never yields negative amounts when the subtrahend is contained", () => {
    fc.assert(
      fc.property(scalarList, scalarList, (xa, xb) => {
        const a = addResources(toResources(xa), toResources(xb));
        const left = subtractResources(a, toResources(xb));
        expect(left.every((r) => (r.scalar?.value ?? 0) > 0)).toBe(true);
      }),
    );
  });
});

describe("validation", () => {
  it("names the problem with a resource", () => {
    const r = parseResources("cpus:1;ports:[1-3]");
    r[0]!.scalar!.value = Number.NaN;
    expect(validateResources(r)).toMatch(/NaN/);
    r[0]!.scalar!.value = Number.POSITIVE_INFINITY;
    expect(validateResources(r)).toMatch(/infinite/);
    r[0]!.scalar!.value = -2;
    expect(validateResources(r)).toMatch(/negative/);
    r[0]!.scalar!.value = 1;
    r[1]!.ranges!.range.push({ $typeName: "mesos.v1.Value.Range", begin: 2n, end: 4n });
    expect(validateResources(r)).toMatch(/overlapping/);
  });

  it.each(["", "/a", "a/", "a//b", "a/./b", "..", "a/*", "with space", "-x"])("rejects the role name %j", (role) => {
    expect(validateRole(role)).toBeDefined();
  });

  it.each(["*", "eng", "eng/web", "eng/web/canary", "a.b"])("accepts the role name %j", (role) => {
    expect(validateRole(role)).toBeUndefined();
  });

  it("offers a parent role's reservation to its sub-roles", () => {
    const [eng] = parseResources("cpus(eng):1");
    expect(allocatableToRole(eng!, "eng/web")).toBe(true);
    expect(allocatableToRole(eng!, "engineering")).toBe(false);
  });
});
