import { clone, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResourceSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { createAllocator } from "../../src/core/allocator/index.js";
import { allocateTo, formatResources, parseResources } from "../../src/core/resources/index.js";

const AGENT = "cpus:4;mem:1024;disk:2048;ports:[31000-31010]";

describe("proposals share frozen messages", () => {
  it("read, encode and clone as the resources they stand for", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources(AGENT));
    a.addAgent("a2", parseResources(AGENT));
    a.addFramework("f1", { roles: ["web"] });
    const offers = a.allocate(0);
    expect(offers).toHaveLength(2);
    const expected = allocateTo(parseResources(AGENT), "web");
    for (const o of offers) {
      expect(o.resources).toEqual(expected);
      for (const r of o.resources) {
        expect(fromBinary(ResourceSchema, toBinary(ResourceSchema, r))).toEqual(r);
        const copy = clone(ResourceSchema, r);
        expect(copy).toEqual(r);
        expect(Object.isFrozen(copy.allocationInfo)).toBe(false);
      }
    }
  });

  it("refuse to be changed in place, and replacing one changes no other proposal", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources(AGENT));
    a.addAgent("a2", parseResources(AGENT));
    a.addFramework("f1", { roles: ["web"] });
    const [first, second] = a.allocate(0);
    const at = first!.resources.findIndex((r) => r.name === "cpus");
    const cpus = first!.resources[at]!;
    expect(() => {
      cpus.scalar!.value = 1;
    }).toThrow(TypeError);
    expect(() => {
      cpus.allocationInfo!.role = "other";
    }).toThrow(TypeError);
    expect(() => {
      cpus.scalar = parseResources("cpus:1")[0]!.scalar;
    }).toThrow(TypeError);
    first!.resources[at] = allocateTo(parseResources("cpus:1"), "web")[0]!;
    expect(formatResources(first!.resources)).toBe(
      formatResources(allocateTo(parseResources("cpus:1;mem:1024;disk:2048;ports:[31000-31010]"), "web")),
    );
    expect(formatResources(second!.resources)).toBe(formatResources(allocateTo(parseResources(AGENT), "web")));
  });
});

describe("decline filters", () => {
  it("keep an agent from a framework exactly until they expire or the framework revives", () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("decline" as const),
        agent: fc.integer({ min: 0, max: 3 }),
        seconds: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
      }),
      fc.record({ kind: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 15 }) }),
      fc.record({ kind: fc.constant("revive" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const a = createAllocator();
        const agents = ["a0", "a1", "a2", "a3"];
        for (const id of agents) a.addAgent(id, parseResources("cpus:1;mem:64"));
        a.addFramework("f1", { roles: ["*"] });
        // The model: agent → time (ms) before which it is not offered.
        const until = new Map<string, number>();
        const held = new Map(a.allocate(0).map((o) => [o.agentId, o.resources]));
        let now = 0;
        for (const s of steps) {
          if (s.kind === "decline") {
            const agentId = agents[s.agent]!;
            const resources = held.get(agentId);
            if (resources === undefined) continue;
            held.delete(agentId);
            a.recoverResources("f1", agentId, resources, { refuseSeconds: s.seconds, now });
            if (s.seconds > 0) until.set(agentId, Math.max(until.get(agentId) ?? 0, now + s.seconds * 1000));
          } else if (s.kind === "wait") {
            now += s.seconds * 1000;
          } else {
            a.revive("f1");
            until.clear();
          }
          const offered = a.allocate(now);
          const expected = agents.filter((id) => !held.has(id) && (until.get(id) ?? -Infinity) <= now);
          expect(offered.map((o) => o.agentId).sort()).toEqual(expected);
          for (const o of offered) held.set(o.agentId, o.resources);
        }
      }),
      { numRuns: 300 },
    );
  });
});
