import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OfferConstraintsSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type AgentFacts, compileOfferConstraints, createAllocator } from "../../src/core/allocator/index.js";
import { parseAttributes, parseResources } from "../../src/core/resources/index.js";

type Constraint = MessageInitShape<typeof OfferConstraintsSchema>;
const byName = (name: string, predicate: Record<string, unknown>) => ({
  selector: { selector: { case: "attributeName" as const, value: name } },
  predicate: { predicate: predicate as never },
});
const constraints = (role: string, groups: ReturnType<typeof byName>[][]): Constraint => ({
  roleConstraints: { [role]: { groups: groups.map((attributeConstraints) => ({ attributeConstraints })) } },
});
const agent = (attributes: string, hostname = "h1", zone?: string): AgentFacts => ({
  hostname,
  attributes: parseAttributes(attributes),
  zone,
});

function compile(c: Constraint, roles = ["*"]) {
  const result = compileOfferConstraints(create(OfferConstraintsSchema, c), roles);
  if (typeof result === "string") throw new Error(result);
  return (facts: AgentFacts) => result.get(roles[0] ?? "*")?.(facts) ?? true;
}

describe("offer constraints", () => {
  it("tests existence", () => {
    const exists = compile(constraints("*", [[byName("rack", { case: "exists", value: {} })]]));
    expect(exists(agent("rack:a"))).toBe(true);
    expect(exists(agent("zone:west"))).toBe(false);
    const absent = compile(constraints("*", [[byName("gpu", { case: "notExists", value: {} })]]));
    expect(absent(agent("rack:a"))).toBe(true);
    expect(absent(agent("gpu:yes"))).toBe(false);
  });

  it("tests text equality, letting non-TEXT attributes through as Mesos does", () => {
    const eq = compile(constraints("*", [[byName("rack", { case: "textEquals", value: { value: "a" } })]]));
    expect(eq(agent("rack:a"))).toBe(true);
    expect(eq(agent("rack:b"))).toBe(false);
    expect(eq(agent("zone:a"))).toBe(false);
    expect(eq(agent("rack:2"))).toBe(true); // SCALAR: the scheduler filters it itself
    const ne = compile(constraints("*", [[byName("rack", { case: "textNotEquals", value: { value: "a" } })]]));
    expect(ne(agent("rack:a"))).toBe(false);
    expect(ne(agent("zone:a"))).toBe(true);
  });

  it("matches whole values against a regex", () => {
    const matches = compile(
      constraints("*", [[byName("os", { case: "textMatches", value: { regex: "ubuntu-2[0-9]" } })]]),
    );
    expect(matches(agent("os:ubuntu-22"))).toBe(true);
    expect(matches(agent("os:ubuntu-22-lts"))).toBe(false);
  });

  it("ORs groups and ANDs constraints within a group", () => {
    const rackA = byName("rack", { case: "textEquals", value: { value: "a" } });
    const ssd = byName("disk", { case: "textEquals", value: { value: "ssd" } });
    const gpu = byName("gpu", { case: "exists", value: {} });
    const p = compile(constraints("*", [[rackA, ssd], [gpu]]));
    expect(p(agent("rack:a;disk:ssd"))).toBe(true);
    expect(p(agent("rack:a;disk:hdd"))).toBe(false);
    expect(p(agent("rack:b;gpu:1"))).toBe(true);
  });

  it("tests pseudoattributes", () => {
    const host = compile({
      roleConstraints: {
        "*": {
          groups: [
            {
              attributeConstraints: [
                {
                  selector: { selector: { case: "pseudoattributeType", value: 1 } },
                  predicate: { predicate: { case: "textMatches", value: { regex: "web-.*" } } },
                },
              ],
            },
          ],
        },
      },
    });
    expect(host(agent("", "web-1"))).toBe(true);
    expect(host(agent("", "db-1"))).toBe(false);
  });

  it.each([
    [constraints("other", [[byName("rack", { case: "exists", value: {} })]]), /does not have/],
    [constraints("*", []), /no groups/],
    [constraints("*", [[byName("x", { case: "textMatches", value: { regex: "(a)\\1" } })]]), /RE2/],
    [constraints("*", [[byName("x", { case: "textMatches", value: { regex: "([" } })]]), /invalid regex/],
  ])("refuses constraints Mesos would refuse (%#)", (c, message) => {
    expect(compileOfferConstraints(create(OfferConstraintsSchema, c), ["*"])).toMatch(message);
  });

  it("keeps the allocator from offering agents a framework excludes", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:1;mem:512"), agent("rack:a"));
    a.addAgent("a2", parseResources("cpus:1;mem:512"), agent("rack:b"));
    const filters = compileOfferConstraints(
      create(
        OfferConstraintsSchema,
        constraints("*", [[byName("rack", { case: "textEquals", value: { value: "b" } })]]),
      ),
      ["*"],
    );
    if (typeof filters === "string") throw new Error(filters);
    a.addFramework("picky", { roles: ["*"], offerFilters: filters });
    expect(a.allocate(0).map((o) => o.agentId)).toEqual(["a2"]);
  });
});
