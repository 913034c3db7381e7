import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { toJson } from "@bufbuild/protobuf";
import { ResourceSchema, type Resource } from "../../gen/mesos/v1/mesos_pb.js";
import { addInto, containsBag, KindTable, quantitiesOfBag, subtractFrom } from "../../src/core/allocator/bag.js";
import { addResources, allocateTo, containsResources, parseResources, quantitiesOf, subtractResources, unallocated } from "../../src/core/resources/index.js";

// The allocator's bags must compute exactly what ../resources computes on
// messages, order included: proposals are built from them.
const resourceList = fc
  .array(
    fc.oneof(
      fc.record({ name: fc.constantFrom("cpus", "mem", "disk"), role: fc.constantFrom("*", "prod", "eng/web"), millis: fc.integer({ min: 0, max: 100_000 }) }).map((x) => `${x.name}${x.role === "*" ? "" : `(${x.role})`}:${x.millis / 1000}`),
      fc.record({ role: fc.constantFrom("*", "prod"), begin: fc.integer({ min: 0, max: 90 }), len: fc.integer({ min: 0, max: 9 }) }).map((x) => `ports${x.role === "*" ? "" : `(${x.role})`}:[${x.begin}-${x.begin + x.len}]`),
      fc.subarray(["a", "b", "c", "d"], { minLength: 1 }).map((xs) => `zones:{${xs.join(",")}}`),
    ),
    { maxLength: 8 },
  )
  .map((tokens) => parseResources(tokens.join(";")));

const json = (rs: Resource[]) => rs.map((r) => toJson(ResourceSchema, r));

describe("allocator bags match resource arithmetic", () => {
  it("normalizes, adds, subtracts, contains and counts as the message functions do", () => {
    fc.assert(
      fc.property(resourceList, resourceList, fc.constantFrom(undefined, "web"), (a, b, role) => {
        const kinds = new KindTable();
        const withRole = role === undefined ? a : allocateTo(a, role);
        expect(json(kinds.resourcesOf(kinds.bagOf(withRole)))).toEqual(json(addResources([], unallocated(withRole))));
        const sum = kinds.bagOf(a);
        addInto(sum, kinds.bagOf(b));
        expect(json(kinds.resourcesOf(sum))).toEqual(json(addResources(a, b)));
        const difference = kinds.bagOf(a);
        subtractFrom(difference, kinds.bagOf(b));
        expect(json(kinds.resourcesOf(difference))).toEqual(json(subtractResources(a, b)));
        expect(containsBag(kinds.bagOf(a), kinds.bagOf(b))).toBe(containsResources(a, b));
        expect(quantitiesOfBag(kinds.bagOf(a))).toEqual(quantitiesOf(addResources([], a)));
        const offered = kinds.resourcesOf(kinds.bagOf(a), "web");
        expect(json(offered)).toEqual(json(allocateTo(addResources([], a), "web")));
      }),
      { numRuns: 300 },
    );
  });
});
