import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Resource_ReservationInfo_Type, ResourceSchema, Value_Type } from "../../gen/mesos/v1/mesos_pb.js";
import {
  allocatableToRole,
  allocateTo,
  containsResources,
  formatAttributes,
  formatResources,
  isReserved,
  parseAttributes,
  parseResources,
  quantitiesOf,
  ResourceParseError,
  reservationRole,
  scalarOf,
  unallocated,
  validateResources,
  validateRole,
} from "../../src/core/resources/index.js";

describe("parseResources (text)", () => {
  it("reads scalars, ranges, sets and static reservations", () => {
    const r = parseResources(
      "cpus:4;mem:4096;disk:10000;ports:[31000-32000,33000-33010];gpus:1;cpus(prod):2;mem(prod):1024;zones:{a,b}",
    );
    expect(scalarOf(r, "cpus")).toBe(6);
    expect(scalarOf(r, "mem")).toBe(5120);
    expect(scalarOf(r, "gpus")).toBe(1);
    expect(quantitiesOf(r).get("ports")).toBe(1001 + 11);
    expect(quantitiesOf(r).get("zones")).toBe(2);
    expect(r.find((x) => x.name === "zones")?.set?.item).toEqual(["a", "b"]);
    const prod = r.find((x) => x.name === "cpus" && isReserved(x));
    expect(prod?.scalar?.value).toBe(2);
    expect(prod?.reservations.map((x) => [x.type, x.role])).toEqual([[Resource_ReservationInfo_Type.STATIC, "prod"]]);
    expect(prod?.role).toBe("*"); // the deprecated field stays at its default
    expect(formatResources(r)).toBe(
      "cpus:4; mem:4096; disk:10000; ports:[31000-32000, 33000-33010]; gpus:1; cpus(prod):2; mem(prod):1024; zones:{a, b}",
    );
  });

  it("tolerates whitespace between every part", () => {
    const r = parseResources("  cpus : 4 ;\n mem ( prod ) : 1024 ; ports : [ 1 - 3 , 5 - 6 ] ; zones : { a , b } ; ");
    expect(formatResources(r)).toBe("cpus:4; mem(prod):1024; ports:[1-3, 5-6]; zones:{a, b}");
  });

  it("merges repeated kinds but keeps reservations apart", () => {
    const r = parseResources("cpus:1;cpus:2.5;cpus(prod):1;ports:[1-2];ports:[3-4]");
    expect(formatResources(r)).toBe("cpus:3.5; cpus(prod):1; ports:[1-4]");
  });

  it("reserves everything for a default role", () => {
    const r = parseResources("cpus:1;mem(other):2", "dev");
    expect(r.map(reservationRole)).toEqual(["dev", "other"]);
  });

  it("reads the empty string as no resources", () => {
    expect(parseResources("  ")).toEqual([]);
  });

  it.each([
    ["cpus", /Bad resource 'cpus'.*NAME:VALUE/],
    [":4", /Bad resource name ''/],
    ["cpus:abc", /Bad value 'abc' in 'cpus:abc'/],
    ["cpus:", /Bad value '' in 'cpus:'/],
    ["cpus:-1", /'cpus:-1' must be a finite, non-negative number/],
    ["ports:[5-1]", /Range '5-1' in 'ports:\[5-1\]' ends before it begins/],
    ["ports:[1-x]", /Bad range '1-x'/],
    ["zones:{a,a}", /Duplicate item 'a' in 'zones:\{a,a\}'/],
    ["cpus(/bad):1", /Bad role '\/bad' in 'cpus\(\/bad\):1'/],
    ["cpus(a b):1", /whitespace/],
    ["cpus(x)(y):1", /Bad resource name/],
  ])("rejects %j with a message naming the token", (text, message) => {
    expect(() => parseResources(text)).toThrow(ResourceParseError);
    expect(() => parseResources(text)).toThrow(message);
  });

  it("rejects an invalid default role", () => {
    expect(() => parseResources("cpus:1", "a//b")).toThrow(/default role/);
  });
});

describe("parseResources (JSON)", () => {
  it("reads an array of Resource objects with proto field names", () => {
    const r = parseResources(
      '[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]}},' +
        '{"name":"zones","type":"SET","set":{"item":["b","a"]}},{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"prod"}]}]',
    );
    expect(formatResources(r)).toBe("cpus:2; ports:[1-5]; zones:{a, b}; cpus(prod):1");
  });

  it("treats JSON and text reservations, and the deprecated role field, as the same kind", () => {
    const text = parseResources("cpus(prod):1");
    const refined = parseResources(
      '[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"prod"}]}]',
    );
    const legacy = parseResources('[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"prod"}]');
    for (const other of [refined, legacy])
      expect(containsResources(text, other) && containsResources(other, text)).toBe(true);
  });

  it.each([
    ["[{", /look like JSON but do not parse/],
    ['[{"name":"cpus","type":"SCALAR","scalar":{"value":"x"}}]', /Bad JSON resource \{"name":"cpus"/],
    ['[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]', /negative/],
    ['[{"name":"cpus","type":"SCALAR"}]', /has no scalar value/],
    [
      '[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a/../b"}]}]',
      /invalid role/,
    ],
  ])("rejects %s", (text, message) => {
    expect(() => parseResources(text)).toThrow(ResourceParseError);
    expect(() => parseResources(text)).toThrow(message);
  });
});

describe("parseAttributes", () => {
  it("types values as scalar, ranges, set or text and formats them back", () => {
    const a = parseAttributes("rack:a;zone:west;cores:8;ports:[1-5];colors:{r,g}");
    expect(a.map((x) => x.type)).toEqual([
      Value_Type.TEXT,
      Value_Type.TEXT,
      Value_Type.SCALAR,
      Value_Type.RANGES,
      Value_Type.SET,
    ]);
    expect(a[0]?.text?.value).toBe("a");
    expect(a[2]?.scalar?.value).toBe(8);
    expect(formatAttributes(a)).toBe("rack:a;zone:west;cores:8;ports:[1-5];colors:{r, g}");
    expect(formatAttributes(parseAttributes(formatAttributes(a)))).toBe(formatAttributes(a));
  });

  it("names a bad attribute", () => {
    expect(() => parseAttributes("rack")).toThrow(/Bad attribute 'rack'/);
    expect(() => parseAttributes("ports:[1-x]")).toThrow(/Bad range '1-x' in 'ports:\[1-x\]'/);
  });
});

describe("validateResources", () => {
  const scalar = (value: number | undefined) =>
    create(ResourceSchema, {
      name: "cpus",
      type: Value_Type.SCALAR,
      ...(value === undefined ? {} : { scalar: { value } }),
    });

  it("accepts parsed resources", () => {
    expect(validateResources(parseResources("cpus:1;ports:[1-3];zones:{a};cpus(eng/web):2"))).toBeUndefined();
  });

  it.each([
    [Number.NaN, /NaN/],
    [Number.POSITIVE_INFINITY, /infinite/],
    [-2, /negative/],
    [undefined, /no scalar value/],
  ])("rejects the scalar %s", (value, message) => {
    expect(validateResources([scalar(value)])).toMatch(message);
  });

  it("rejects empty names, values of the wrong type, bad ranges and duplicate items", () => {
    expect(
      validateResources([create(ResourceSchema, { name: "", type: Value_Type.SCALAR, scalar: { value: 1 } })]),
    ).toMatch(/empty name/);
    expect(validateResources([create(ResourceSchema, { name: "ports", type: Value_Type.RANGES })])).toMatch(
      /no ranges/,
    );
    expect(validateResources([create(ResourceSchema, { name: "zones", type: Value_Type.SET })])).toMatch(/no set/);
    expect(validateResources([create(ResourceSchema, { name: "x", type: Value_Type.TEXT })])).toMatch(
      /SCALAR, RANGES or SET/,
    );
    const range = (begin: bigint, end: bigint) => ({ begin, end });
    const ports = (...range: Array<{ begin: bigint; end: bigint }>) =>
      create(ResourceSchema, { name: "ports", type: Value_Type.RANGES, ranges: { range } });
    expect(validateResources([ports(range(5n, 1n))])).toMatch(/ends before it begins \(5-1\)/);
    expect(validateResources([ports(range(10n, 20n), range(1n, 3n), range(2n, 4n))])).toMatch(
      /overlapping ranges \(1-3 and 2-4\)/,
    );
    expect(validateResources([ports(range(1n, 3n), range(4n, 5n))])).toBeUndefined();
    const zones = create(ResourceSchema, { name: "zones", type: Value_Type.SET, set: { item: ["a", "b", "a"] } });
    expect(validateResources([zones])).toMatch(/duplicate set item 'a'/);
  });

  it("rejects invalid reservation roles, refined or deprecated", () => {
    const refined = create(ResourceSchema, {
      name: "cpus",
      type: Value_Type.SCALAR,
      scalar: { value: 1 },
      reservations: [{ type: Resource_ReservationInfo_Type.STATIC, role: "a//b" }],
    });
    expect(validateResources([refined])).toMatch(/reserved for an invalid role: role 'a\/\/b'/);
    const legacy = create(ResourceSchema, { name: "cpus", type: Value_Type.SCALAR, scalar: { value: 1 }, role: "-x" });
    expect(validateResources([legacy])).toMatch(/invalid role/);
  });
});

describe("roles", () => {
  it.each([
    "",
    "/a",
    "a/",
    "a//b",
    "a/./b",
    ".",
    "..",
    "a/..",
    "a/*",
    "*/a",
    "with space",
    "tab\tx",
    "nl\n",
    "ctl\x01",
    "-x",
  ])("rejects the role name %j", (role) => {
    expect(validateRole(role)).toBeDefined();
  });

  it.each(["*", "eng", "eng/web", "eng/web/canary", "a.b", "a-b", "x-"])("accepts the role name %j", (role) => {
    expect(validateRole(role)).toBeUndefined();
  });

  it("reads the reservation role from the stack, then the deprecated field", () => {
    expect(reservationRole(parseResources("cpus:1")[0]!)).toBe("*");
    expect(reservationRole(parseResources("cpus(eng):1")[0]!)).toBe("eng");
    const stacked = create(ResourceSchema, {
      name: "cpus",
      reservations: [
        { type: Resource_ReservationInfo_Type.STATIC, role: "eng" },
        { type: Resource_ReservationInfo_Type.DYNAMIC, role: "eng/web" },
      ],
    });
    expect(reservationRole(stacked)).toBe("eng/web");
    expect(reservationRole(create(ResourceSchema, { name: "cpus", role: "legacy" }))).toBe("legacy");
  });

  it("offers a parent role's reservation to its sub-roles only", () => {
    const [eng] = parseResources("cpus(eng):1");
    const [free] = parseResources("cpus:1");
    expect(allocatableToRole(eng!, "eng")).toBe(true);
    expect(allocatableToRole(eng!, "eng/web")).toBe(true);
    expect(allocatableToRole(eng!, "engineering")).toBe(false);
    expect(allocatableToRole(eng!, "*")).toBe(false);
    expect(allocatableToRole(parseResources("cpus(eng/web):1")[0]!, "eng")).toBe(false);
    expect(allocatableToRole(free!, "anything")).toBe(true);
  });

  it("sets and clears allocation_info without touching the input", () => {
    const r = parseResources("cpus:1;mem:2");
    const offered = allocateTo(r, "web");
    expect(offered.map((x) => x.allocationInfo?.role)).toEqual(["web", "web"]);
    expect(r[0]?.allocationInfo).toBeUndefined();
    // Allocated and unallocated resources are different kinds.
    expect(containsResources(offered, r)).toBe(false);
    expect(unallocated(offered).every((x) => x.allocationInfo === undefined)).toBe(true);
    expect(containsResources(unallocated(offered), r)).toBe(true);
  });
});
