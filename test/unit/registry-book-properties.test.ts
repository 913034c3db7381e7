/**
 * The registry book (changed in place, indexed) against the reference
 * meaning of each operation, `applyRegistryOperation`: after any sequence
 * of operations both hold equal registries, and both say the same about
 * whether each operation changed anything.
 */
import { create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { createRegistryBook } from "../../src/core/registry/registry-book.js";
import { registryOperation } from "../helpers/registry-operations.js";

describe("registry book", () => {
  it("holds what applyRegistryOperation gives, and says the same about each change", () => {
    fc.assert(
      fc.property(fc.array(registryOperation, { maxLength: 40, size: "max" }), (operations) => {
        let reference = emptyRegistry();
        const book = createRegistryBook(reference);
        for (const op of operations) {
          const expected = applyRegistryOperation(reference, op);
          reference = expected.registry;
          expect(book.apply(op)).toBe(expected.changed);
          expect(equals(RegistrySchema, book.snapshot(), reference)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("starts from a stored registry without changing it", () => {
    let stored = emptyRegistry();
    for (const op of [
      { kind: "admit-agent", info: create(AgentInfoSchema, { id: { value: "a1" }, hostname: "h" }) },
      { kind: "mark-agent-unreachable", agentId: "a1", time: 5 },
    ] satisfies RegistryOperation[])
      stored = applyRegistryOperation(stored, op).registry;
    const copy = create(RegistrySchema, stored);
    const book = createRegistryBook(stored);
    expect(book.snapshot()).toBe(stored);
    book.apply({ kind: "admit-agent", info: create(AgentInfoSchema, { id: { value: "a1" }, hostname: "h" }) });
    expect(equals(RegistrySchema, stored, copy)).toBe(true);
    expect(book.snapshot().agents.map((a) => a.id?.value)).toEqual(["a1"]);
    expect(book.snapshot().unreachable).toEqual([]);
  });
});
