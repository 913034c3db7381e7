import { describe, expect, it } from "vitest";
import { type Allocation, type Allocator, createAllocator } from "../../src/core/allocator/index.js";
import { formatResources, parseResources, scalarOf, unallocated } from "../../src/core/resources/index.js";

const quota = (guarantees: Record<string, number>, limits: Record<string, number> = {}) => ({
  guarantees: new Map(Object.entries(guarantees)),
  limits: new Map(Object.entries(limits)),
});
const offered = (offers: Allocation[], role: string, name: string) =>
  offers.filter((o) => o.role === role).reduce((n, o) => n + scalarOf(o.resources, name), 0);
const summary = (offers: Allocation[]) =>
  offers.map((o) => `${o.frameworkId}@${o.agentId}: ${formatResources(unallocated(o.resources))}`);

function cluster(agents: number, shape = "cpus:2;mem:512"): Allocator {
  const a = createAllocator();
  for (let i = 0; i < agents; i++) a.addAgent(`a${i}`, parseResources(shape));
  return a;
}

describe("quota guarantees: stage one", () => {
  it("gives a role its guarantee before DRF shares out the rest", () => {
    const a = cluster(4);
    a.addFramework("fa", { roles: ["a"] });
    a.addFramework("fb", { roles: ["b"] });
    // Without quota DRF alternates: two agents each.
    a.setQuota("a", quota({ cpus: 6 }));
    const offers = a.allocate(0);
    expect(summary(offers)).toEqual([
      "fa@a0: cpus:2; mem:512",
      "fa@a1: cpus:2; mem:512",
      "fa@a2: cpus:2; mem:512",
      "fb@a3: cpus:2; mem:512",
    ]);
  });

  it("stops at the guarantee on an agent and lets the rest go by DRF, within the headroom", () => {
    const a = cluster(2, "cpus:4;mem:1024");
    a.addFramework("fa", { roles: ["a"] });
    a.addFramework("fb", { roles: ["b"] });
    a.setQuota("a", quota({ cpus: 1 }, { cpus: 1 }));
    const offers = a.allocate(0);
    // The guarantee (and limit) of 1 cpu; everything else on the agent goes along in stage one.
    expect(summary(offers)).toEqual(["fa@a0: cpus:1; mem:1024", "fb@a0: cpus:3", "fb@a1: cpus:4; mem:1024"]);
  });

  it("lets a guaranteed role burst beyond its guarantee up to its limit", () => {
    const a = cluster(4);
    a.addFramework("fa", { roles: ["a"] });
    a.addFramework("fb", { roles: ["b"] });
    a.setQuota("a", quota({ cpus: 1 }, { cpus: 3 }));
    const offers = a.allocate(0);
    expect(offered(offers, "a", "cpus")).toBe(3);
    expect(offered(offers, "b", "cpus")).toBe(5);
  });

  it("counts what sub-roles hold toward their parent's guarantee", () => {
    const a = cluster(4);
    a.addFramework("web", { roles: ["eng/web"] });
    a.addFramework("ops", { roles: ["ops"] });
    a.setQuota("eng", quota({ cpus: 2 }));
    a.setQuota("eng/web", quota({ cpus: 2 }));
    a.addAllocated("web", "a0", parseResources("cpus:2;mem:512"));
    // Already met by eng/web's holding: nothing held back, DRF as usual.
    const offers = a.allocate(0);
    expect(offered(offers, "ops", "cpus")).toBe(4);
    expect(offered(offers, "eng/web", "cpus")).toBe(2);
  });
});

describe("quota guarantees: headroom", () => {
  it("holds back what an absent role is guaranteed, and offers it when the role's framework comes", () => {
    const a = cluster(4);
    a.addFramework("fb", { roles: ["b"] });
    a.setQuota("a", quota({ cpus: 4 }));
    const first = a.allocate(0);
    expect(offered(first, "b", "cpus")).toBe(4);
    expect(offered(first, "b", "mem")).toBe(2048); // nobody is guaranteed memory
    a.addFramework("fa", { roles: ["a"] });
    const second = a.allocate(1);
    expect(offered(second, "a", "cpus")).toBe(4);
    expect(offered(second, "b", "cpus")).toBe(0);
  });

  it("holds nothing back for a role whose reservations already meet its guarantee", () => {
    const a = cluster(3);
    a.addAgent("r", parseResources("cpus(a):2;mem(a):256"));
    a.addFramework("fb", { roles: ["b"] });
    a.setQuota("a", quota({ cpus: 2 }));
    const offers = a.allocate(0);
    expect(offered(offers, "b", "cpus")).toBe(6);
    expect(offers.some((o) => o.agentId === "r")).toBe(false);
  });

  it("holds back only what is still missing, and gives it back as the role consumes", () => {
    const a = cluster(4);
    a.addFramework("fa", { roles: ["a"] });
    a.addFramework("fb", { roles: ["b"] });
    a.suppress("fa");
    a.setQuota("a", quota({ cpus: 3 }));
    a.addAllocated("fa", "a0", parseResources("cpus:1;mem:128"));
    const offers = a.allocate(0);
    // 7 free cpus, 2 still owed to a.
    expect(offered(offers, "b", "cpus")).toBe(5);
    a.recoverResources("fb", offers[0]!.agentId, offers[0]!.resources);
    a.removeFramework("fa");
    // a's holding is gone: 3 owed now, out of the 4 free (a0's 2, a3's 2).
    expect(offered(a.allocate(1), "b", "cpus")).toBe(1);
  });

  it("removing the quota releases the headroom", () => {
    const a = cluster(2);
    a.addFramework("fb", { roles: ["b"] });
    a.setQuota("a", quota({ cpus: 4 }));
    expect(offered(a.allocate(0), "b", "cpus")).toBe(0);
    a.setQuota("a", quota({}));
    expect(offered(a.allocateChanged(1), "b", "cpus")).toBe(4);
    expect(a.quota("a").guarantees.size).toBe(0);
  });

  it("limits still cap a role with no guarantee, and reservations are offered regardless of limits", () => {
    const a = cluster(2);
    a.addAgent("r", parseResources("cpus(b):2"));
    a.addFramework("fb", { roles: ["b"] });
    a.setLimits("b", new Map([["cpus", 3]]));
    const offers = a.allocate(0);
    // The reservation counts toward b's consumed quota (2), leaving room for 1 unreserved cpu.
    expect(offered(offers, "b", "cpus")).toBe(3);
    expect(offers.find((o) => o.agentId === "r")?.resources.length).toBe(1);
  });

  it("refuses negative amounts", () => {
    const a = cluster(1);
    expect(() => a.setQuota("a", quota({ cpus: -1 }))).toThrow(RangeError);
  });
});
