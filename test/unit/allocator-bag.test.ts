import { toJson } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Resource, ResourceSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { charge, newAgent } from "../../src/core/allocator/agent-book.js";
import { addInto, containsBag, KindTable, quantitiesOfBag, subtractFrom } from "../../src/core/allocator/bag.js";
import { ShareBook } from "../../src/core/allocator/shares.js";
import {
  addResources,
  allocateTo,
  containsResources,
  parseResources,
  quantitiesOf,
  subtractResources,
  unallocated,
} from "../../src/core/resources/index.js";

// The allocator's bags must compute exactly what ../resources computes on
// messages, order included: proposals are built from them.
const resourceList = fc
  .array(
    fc.oneof(
      fc
        .record({
          name: fc.constantFrom("cpus", "mem", "disk"),
          role: fc.constantFrom("*", "prod", "eng/web"),
          millis: fc.integer({ min: 0, max: 100_000 }),
        })
        .map((x) => `${x.name}${x.role === "*" ? "" : `(${x.role})`}:${x.millis / 1000}`),
      fc
        .record({
          role: fc.constantFrom("*", "prod"),
          begin: fc.integer({ min: 0, max: 90 }),
          len: fc.integer({ min: 0, max: 9 }),
        })
        .map((x) => `ports${x.role === "*" ? "" : `(${x.role})`}:[${x.begin}-${x.begin + x.len}]`),
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

describe("agent ledger: free is total minus holdings", () => {
  const op = fc.record({
    holder: fc.constantFrom("f1", "f2", "f3"),
    sign: fc.constantFrom(1 as const, -1 as const),
    fromFree: fc.boolean(),
    pick: resourceList,
  });

  it("matches subtracting every holding from the total, whether charges fit in what is free or not", () => {
    fc.assert(
      fc.property(resourceList, fc.array(op, { maxLength: 12 }), (total, ops) => {
        const kinds = new KindTable();
        const agent = newAgent(kinds.bagOf(total));
        const book = new ShareBook();
        for (const o of ops) {
          // Mostly what a pass does (offer part of what is free, take back part of what is held); sometimes anything.
          let bag = kinds.bagOf(o.pick);
          if (o.fromFree) {
            const source = o.sign === 1 ? agent.free : (agent.held.get(o.holder)?.get("r") ?? new Map());
            const within = new Map(
              [...bag].filter(
                ([kind, amount]) =>
                  source.has(kind) && containsBag(new Map([[kind, source.get(kind)!]]), new Map([[kind, amount]])),
              ),
            );
            bag = within.size > 0 ? within : new Map([...source].slice(0, 1));
          }
          charge(agent, book, o.holder, "r", bag, o.sign);
          let expected = addResources([], total);
          for (const byRole of agent.held.values())
            for (const held of byRole.values()) expected = subtractResources(expected, kinds.resourcesOf(held));
          expect(json(kinds.resourcesOf(agent.free))).toEqual(json(expected));
        }
      }),
      { numRuns: 300 },
    );
  });
});
