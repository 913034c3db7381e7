/**
 * The registry cut into entries (what the etcd backend stores one key
 * each), against the registry book: an operation changes only the entries
 * it names, the entries merge back into the whole registry, and putting an
 * entry's old value back undoes an operation.
 */
import { create, equals, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { type Registry, RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { emptyRegistry } from "../../src/core/registry/registry.js";
import { createRegistryBook, type RegistryBook } from "../../src/core/registry/registry-book.js";
import {
  entriesOf,
  entriesTouchedBy,
  fragmentFits,
  mergeFragments,
  parseEntryPath,
} from "../../src/core/registry/registry-entries.js";
import { registryOperation } from "../helpers/registry-operations.js";

const bytesOf = (fragment: Registry | undefined): string =>
  fragment === undefined ? "-" : Buffer.from(toBinary(RegistrySchema, fragment)).toString("hex");
/** Every entry of the book, by path, as bytes. */
const entriesMap = (book: RegistryBook): Map<string, string> =>
  new Map(entriesOf(book.snapshot()).map((path) => [path, bytesOf(book.entry(path))]));

describe("registry entries", () => {
  it("an operation changes no entry but those it names", () => {
    fc.assert(
      fc.property(fc.array(registryOperation, { maxLength: 40, size: "max" }), (operations) => {
        const book = createRegistryBook(emptyRegistry());
        for (const op of operations) {
          const before = entriesMap(book);
          book.apply(op);
          const after = entriesMap(book);
          const named = new Set(entriesTouchedBy(op));
          for (const path of new Set([...before.keys(), ...after.keys()]))
            if (!named.has(path)) expect(after.get(path), path).toBe(before.get(path));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("the entries merge back into the registry, and each one fits its path", () => {
    fc.assert(
      fc.property(fc.array(registryOperation, { maxLength: 40, size: "max" }), (operations) => {
        const book = createRegistryBook(emptyRegistry());
        for (const op of operations) book.apply(op);
        const fragments = entriesOf(book.snapshot()).map((path) => {
          const fragment = book.entry(path);
          if (fragment === undefined) throw new Error(`${path} listed but empty`);
          expect(fragmentFits(path, fragment), path).toBe(true);
          return [path, fragment] as const;
        });
        // Whatever order a store hands them back in.
        const merged = mergeFragments(fragments.reverse());
        expect(equals(RegistrySchema, merged, book.snapshot())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("setting the named entries back to their old values undoes an operation", () => {
    fc.assert(
      fc.property(
        fc.array(registryOperation, { maxLength: 30, size: "max" }),
        registryOperation,
        (operations, last) => {
          const book = createRegistryBook(emptyRegistry());
          for (const op of operations) book.apply(op);
          const before = book.snapshot();
          const undo = entriesTouchedBy(last).map((path) => [path, book.entry(path)] as const);
          book.apply(last);
          for (const [path, fragment] of undo.reverse()) book.setEntry(path, fragment);
          expect(equals(RegistrySchema, book.snapshot(), before)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a fragment that does not hold the entry its path names", () => {
    const agent = create(AgentInfoSchema, { id: { value: "a1" }, hostname: "h" });
    const weight = create(WeightInfoSchema, { role: "eng", weight: 2 });
    expect(() => mergeFragments([["agents/a2", create(RegistrySchema, { agents: [agent] })]])).toThrow(
      /agents\/a2 does not hold/,
    );
    expect(() =>
      mergeFragments([["weights/eng", create(RegistrySchema, { weights: [weight], agents: [agent] })]]),
    ).toThrow(/weights\/eng/);
    expect(() => mergeFragments([["tasks/t1", create(RegistrySchema, { agents: [agent] })]])).toThrow(/tasks\/t1/);
    expect(parseEntryPath("weights/eng/web")).toEqual({ kind: "weight", role: "eng/web" });
    expect(parseEntryPath("agents/")).toBeUndefined();
  });
});
