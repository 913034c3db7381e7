import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createAllocator } from "../../src/core/allocator/index.js";
import { addResources, containsResources, parseResources, reservationRole, scalarOf, subtractResources, unallocated } from "../../src/core/resources/index.js";

describe("DRF allocator", () => {
  it("offers an agent's free resources to an active framework", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    const [offer] = a.allocate(0);
    expect(offer?.frameworkId).toBe("f1");
    expect(scalarOf(offer!.resources, "cpus")).toBe(4);
    expect(offer?.resources[0]?.allocationInfo?.role).toBe("*");
    expect(a.allocate(0)).toEqual([]); // nothing is offered twice
  });

  it("honours refuse filters until they expire", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    const [offer] = a.allocate(0);
    a.recoverResources("f1", "a1", offer!.resources, { refuseSeconds: 5, now: 0 });
    expect(a.allocate(4_999)).toEqual([]);
    expect(a.allocate(5_000)).toHaveLength(1);
  });

  it("drops filters and unsuppresses on revive", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    a.suppress("f1");
    expect(a.allocate(0)).toEqual([]);
    a.revive("f1");
    const [offer] = a.allocate(0);
    a.recoverResources("f1", "a1", offer!.resources, { refuseSeconds: 100, now: 0 });
    a.revive("f1");
    expect(a.allocate(1)).toHaveLength(1);
  });

  it("gives no offers to inactive frameworks", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    a.deactivateFramework("f1");
    expect(a.allocate(0)).toEqual([]);
  });

  it("offers reserved resources only to their role", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:2;cpus(prod):1;mem:512;mem(prod):512"));
    a.addFramework("dev", { roles: ["dev"] });
    a.addFramework("prod", { roles: ["prod"] });
    const offers = a.allocate(0);
    const dev = offers.find((o) => o.frameworkId === "dev");
    const prod = offers.find((o) => o.frameworkId === "prod");
    expect(dev?.resources.every((r) => reservationRole(r) === "*")).toBe(true);
    expect(prod?.resources.some((r) => reservationRole(r) === "prod")).toBe(true);
  });

  it("returns a removed framework's resources to the pool", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    a.allocate(0);
    a.removeFramework("f1");
    a.addFramework("f2", { roles: ["*"] });
    expect(scalarOf(a.allocate(0)[0]!.resources, "cpus")).toBe(4);
  });

  it("favours the role with the lower weighted share", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1;mem:100"));
    a.addFramework("heavy", { roles: ["heavy"] });
    a.addFramework("light", { roles: ["light"] });
    a.setWeight("heavy", 3);
    const counts = new Map<string, number>();
    for (const o of a.allocate(0)) counts.set(o.frameworkId, (counts.get(o.frameworkId) ?? 0) + 1);
    expect(counts.get("heavy")).toBe(3);
    expect(counts.get("light")).toBe(1);
  });

  it("gives the classic DRF result: A three tasks of <1 CPU, 4 GB>, B two of <3 CPUs, 1 GB>", () => {
    // One 9 CPU / 18 GB agent. Each framework launches one task per offer and
    // returns the rest; repeat until neither can fit another task.
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:9;mem:18432"));
    a.addFramework("A", { roles: ["a"] });
    a.addFramework("B", { roles: ["b"] });
    const demand = { A: parseResources("cpus:1;mem:4096"), B: parseResources("cpus:3;mem:1024") } as const;
    const tasks = { A: 0, B: 0 };
    for (let round = 0; round < 20; round++) {
      const offers = a.allocate(round);
      if (offers.length === 0) break;
      for (const offer of offers) {
        const id = offer.frameworkId as "A" | "B";
        const task = demand[id];
        const bare = unallocated(offer.resources);
        if (containsResources(bare, task)) {
          tasks[id]++;
          a.recoverResources(id, "a1", subtractResources(bare, task).map((r) => ({ ...r, allocationInfo: offer.resources[0]!.allocationInfo })));
        } else {
          a.recoverResources(id, "a1", offer.resources, { refuseSeconds: 1000, now: round });
        }
      }
    }
    expect(tasks).toEqual({ A: 3, B: 2 });
  });

  it("never offers more than an agent has, nor reserved resources outside their role", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ cpus: fc.integer({ min: 1, max: 16 }), reserved: fc.integer({ min: 0, max: 4 }), role: fc.constantFrom("r1", "r2") }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom("r1", "r2", "*"), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { maxLength: 8 }),
        (agentSpecs, frameworkRoles, recoverSteps) => {
          const a = createAllocator();
          const totals = new Map<string, ReturnType<typeof parseResources>>();
          agentSpecs.forEach((s, i) => {
            const r = parseResources(`cpus:${s.cpus};mem:1024${s.reserved > 0 ? `;cpus(${s.role}):${s.reserved}` : ""}`);
            totals.set(`a${i}`, r);
            a.addAgent(`a${i}`, r);
          });
          frameworkRoles.forEach((role, i) => a.addFramework(`f${i}`, { roles: [role] }));
          const held = new Map<string, ReturnType<typeof parseResources>>();
          const offers = [] as ReturnType<typeof a.allocate>;
          for (const [step, recover] of [true, ...recoverSteps].entries()) {
            const batch = a.allocate(step);
            offers.push(...batch);
            for (const o of batch) {
              for (const r of o.resources) expect(reservationRole(r) === "*" || reservationRole(r) === o.role).toBe(true);
              held.set(o.agentId, addResources(held.get(o.agentId) ?? [], unallocated(o.resources)));
              expect(containsResources(totals.get(o.agentId)!, held.get(o.agentId)!)).toBe(true);
            }
            if (recover && offers.length > 0) {
              const o = offers.shift()!;
              a.recoverResources(o.frameworkId, o.agentId, o.resources);
              held.set(o.agentId, subtractResources(held.get(o.agentId) ?? [], unallocated(o.resources)));
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
