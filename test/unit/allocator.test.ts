import { describe, expect, it } from "vitest";
import { type Allocation, createAllocator } from "../../src/core/allocator/index.js";
import {
  allocateTo,
  formatResources,
  parseResources,
  scalarOf,
  subtractResources,
  unallocated,
} from "../../src/core/resources/index.js";

const cluster = (agents: Record<string, string>, options: Parameters<typeof createAllocator>[0] = {}) => {
  const a = createAllocator(options);
  for (const [id, text] of Object.entries(agents)) a.addAgent(id, parseResources(text));
  return a;
};
const summary = (offers: Allocation[]) =>
  offers.map((o) => `${o.frameworkId}@${o.agentId}/${o.role}: ${formatResources(unallocated(o.resources))}`);

describe("DRF allocator: offers", () => {
  it("offers an agent's free resources once, with allocation_info set", () => {
    const a = cluster({ a1: "cpus:4;mem:1024;ports:[1-10]" });
    a.addFramework("f1", { roles: ["web"] });
    const offers = a.allocate(0);
    expect(summary(offers)).toEqual(["f1@a1/web: cpus:4; mem:1024; ports:[1-10]"]);
    expect(offers[0]?.resources.every((r) => r.allocationInfo?.role === "web")).toBe(true);
    expect(a.allocate(0)).toEqual([]);
    expect(formatResources(a.agentAllocated("a1"))).toBe("cpus:4; mem:1024; ports:[1-10]");
  });

  it("offers what is recovered, and only that", () => {
    const a = cluster({ a1: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["*"] });
    const [offer] = a.allocate(0);
    const task = parseResources("cpus:1;mem:256");
    a.recoverResources("f1", "a1", subtractResources(unallocated(offer!.resources), task));
    expect(summary(a.allocate(1))).toEqual(["f1@a1/*: cpus:3; mem:768"]);
  });

  it("skips agents below the minimum allocatable resources", () => {
    const a = cluster({ tiny: "cpus:0.005;mem:16;ports:[1-100]", ok: "cpus:0.01", mem: "mem:32" });
    a.addFramework("f1", { roles: ["*"] });
    expect(a.allocate(0).map((o) => o.agentId)).toEqual(["mem", "ok"]);
    const strict = cluster(
      { a1: "cpus:1;mem:64", a2: "cpus:2;mem:512" },
      {
        minAllocatable: [
          new Map([
            ["cpus", 1],
            ["mem", 128],
          ]),
        ],
      },
    );
    strict.addFramework("f1", { roles: ["*"] });
    expect(strict.allocate(0).map((o) => o.agentId)).toEqual(["a2"]);
  });

  it("shuffles the agent order with the given random source", () => {
    const agents = { a0: "cpus:1", a1: "cpus:1", a2: "cpus:1" };
    const sorted = cluster(agents);
    sorted.addFramework("f", { roles: ["*"] });
    expect(sorted.allocate(0).map((o) => o.agentId)).toEqual(["a0", "a1", "a2"]);
    const shuffled = cluster(agents, { random: () => 0 });
    shuffled.addFramework("f", { roles: ["*"] });
    expect(shuffled.allocate(0).map((o) => o.agentId)).toEqual(["a1", "a2", "a0"]);
  });
});

describe("DRF allocator: filters, suppression, activity", () => {
  it("honours a refuse filter for that agent and framework until it expires", () => {
    const a = cluster({ a1: "cpus:4;mem:1024", a2: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["*"] });
    const offers = a.allocate(0);
    for (const o of offers)
      a.recoverResources("f1", o.agentId, o.resources, { refuseSeconds: o.agentId === "a1" ? 5 : 0, now: 0 });
    expect(a.allocate(1).map((o) => o.agentId)).toEqual(["a2"]);
    expect(a.allocate(4_999)).toEqual([]);
    expect(a.allocate(5_000).map((o) => o.agentId)).toEqual(["a1"]);
  });

  it("lets another framework have a filtered agent", () => {
    const a = cluster({ a1: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["*"] });
    const [offer] = a.allocate(0);
    a.addFramework("f2", { roles: ["*"] });
    a.recoverResources("f1", "a1", offer!.resources, { refuseSeconds: 60, now: 0 });
    expect(a.allocate(1).map((o) => o.frameworkId)).toEqual(["f2"]);
  });

  it("suppresses all roles or some, and revive undoes it and drops filters", () => {
    const a = cluster({ a1: "cpus:1;cpus(x):1;cpus(y):1" });
    a.addFramework("f1", { roles: ["x", "y"] });
    a.suppress("f1");
    expect(a.allocate(0)).toEqual([]);
    a.revive("f1", ["y"]);
    const [offer] = a.allocate(0);
    expect(summary([offer!])).toEqual(["f1@a1/y: cpus:1; cpus(y):1"]);
    a.recoverResources("f1", "a1", offer!.resources, { refuseSeconds: 100, now: 0 });
    expect(a.allocate(1)).toEqual([]);
    a.revive("f1");
    expect(
      a
        .allocate(2)
        .map((o) => o.role)
        .sort(),
    ).toEqual(["x", "y"]);
  });

  it("takes suppressed roles from addFramework and updateFramework", () => {
    const a = cluster({ a1: "cpus:1" });
    a.addFramework("f1", { roles: ["x"], suppressedRoles: ["x"] });
    expect(a.allocate(0)).toEqual([]);
    a.updateFramework("f1", { roles: ["x"], suppressedRoles: [] });
    expect(a.allocate(0)).toHaveLength(1);
  });

  it("gives no offers to inactive frameworks, and resumes on activation", () => {
    const a = cluster({ a1: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["*"] });
    a.deactivateFramework("f1");
    expect(a.allocate(0)).toEqual([]);
    a.activateFramework("f1");
    expect(a.allocate(0)).toHaveLength(1);
  });
});

describe("DRF allocator: roles and reservations", () => {
  it("offers reserved resources only to their role, and the rest to others in the same pass", () => {
    const a = cluster({ a1: "cpus:2;cpus(prod):1;mem:512;mem(prod):512;cpus(idle):8" });
    a.addFramework("dev", { roles: ["dev"] });
    a.addFramework("prod", { roles: ["prod"] });
    a.suppress("dev");
    expect(summary(a.allocate(0))).toEqual(["prod@a1/prod: cpus:2; cpus(prod):1; mem:512; mem(prod):512"]);
    a.removeFramework("prod");
    a.revive("dev");
    expect(summary(a.allocate(0))).toEqual(["dev@a1/dev: cpus:2; mem:512"]);
    expect(formatResources(a.agentAllocated("a1"))).toBe("cpus:2; mem:512"); // cpus(idle) stays free
  });

  it("offers a parent role's reservation to a sub-role", () => {
    const a = cluster({ a1: "cpus(eng):2;cpus(ops):2" });
    a.addFramework("web", { roles: ["eng/web"] });
    expect(summary(a.allocate(0))).toEqual(["web@a1/eng/web: cpus(eng):2"]);
  });

  it("lets a framework with several roles compete in each", () => {
    const a = cluster({ a1: "cpus(x):1;cpus(y):2" });
    a.addFramework("f1", { roles: ["x", "y"] });
    expect(summary(a.allocate(0))).toEqual(["f1@a1/x: cpus(x):1", "f1@a1/y: cpus(y):2"]);
    a.recoverResources("f1", "a1", allocateTo(parseResources("cpus(y):2"), "y"));
    expect(summary(a.allocate(1))).toEqual(["f1@a1/y: cpus(y):2"]);
  });

  it("shares a role's resources between its frameworks", () => {
    const a = cluster({ a1: "cpus:1;mem:100", a2: "cpus:1;mem:100" });
    a.addFramework("f1", { roles: ["r"] });
    a.addFramework("f2", { roles: ["r"] });
    expect(a.allocate(0).map((o) => o.frameworkId)).toEqual(["f1", "f2"]);
  });

  it("counts resources in use (addAllocated) toward shares", () => {
    const a = cluster({ a1: "cpus:4;mem:400", a2: "cpus:4;mem:400" });
    a.addFramework("f1", { roles: ["r1"] });
    a.addFramework("f2", { roles: ["r2"] });
    a.addAllocated("f1", "a1", parseResources("cpus:1;mem:100"));
    expect(summary(a.allocate(0))).toEqual(["f2@a1/r2: cpus:3; mem:300", "f1@a2/r1: cpus:4; mem:400"]);
  });

  it("favours the role with the lower weighted share", () => {
    const a = cluster({ a0: "cpus:1;mem:100", a1: "cpus:1;mem:100", a2: "cpus:1;mem:100", a3: "cpus:1;mem:100" });
    a.addFramework("heavy", { roles: ["heavy"] });
    a.addFramework("light", { roles: ["light"] });
    a.setWeight("heavy", 3);
    const counts = new Map<string, number>();
    for (const o of a.allocate(0)) counts.set(o.frameworkId, (counts.get(o.frameworkId) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ heavy: 3, light: 1 });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("rejects the weight %s", (weight) => {
    expect(() => createAllocator().setWeight("r", weight)).toThrow(RangeError);
  });

  it("reports roles with their weight, frameworks and allocations", () => {
    const a = cluster({ a1: "cpus:2;mem:64" });
    a.addFramework("f1", { roles: ["web"] });
    a.setWeight("batch", 2);
    a.allocate(0);
    expect(a.roles().map((r) => ({ ...r, allocated: formatResources(r.allocated) }))).toEqual([
      { role: "batch", weight: 2, frameworks: [], allocated: "{}" },
      { role: "web", weight: 1, frameworks: ["f1"], allocated: "cpus:2; mem:64" },
    ]);
  });
});

describe("DRF allocator: converting resources (reservations, volumes)", () => {
  it("turns part of a framework's offer into a reservation it keeps holding", () => {
    const a = cluster({ a1: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["prod"] });
    a.addFramework("f2", { roles: ["dev"] });
    a.suppress("f2");
    const [offer] = a.allocate(0);
    const consumed = allocateTo(parseResources("cpus:1"), "prod");
    const converted = allocateTo(parseResources("cpus(prod):1"), "prod");
    expect(a.convertResources("a1", { consumed, converted }, "f1")).toBe(true);
    expect(formatResources(a.agentAllocated("a1"))).toBe("cpus:3; mem:1024; cpus(prod):1");
    a.recoverResources("f1", "a1", subtractResources(unallocated(offer!.resources), parseResources("cpus:1")));
    a.recoverResources("f1", "a1", converted);
    a.suppress("f1");
    a.revive("f2");
    // The reservation now stays out of another role's offers.
    expect(summary(a.allocate(1))).toEqual(["f2@a1/dev: cpus:3; mem:1024"]);
  });

  it("converts free resources when no framework is named, and refuses what is not free", () => {
    const a = cluster({ a1: "cpus:2;mem:512" });
    a.addFramework("f1", { roles: ["prod"] });
    a.suppress("f1");
    const reserve = {
      consumed: parseResources("cpus:1;mem:256"),
      converted: parseResources("cpus(prod):1;mem(prod):256"),
    };
    expect(a.convertResources("a1", reserve)).toBe(true);
    expect(
      a.convertResources("a1", { consumed: parseResources("cpus:2"), converted: parseResources("cpus(prod):2") }),
    ).toBe(false);
    expect(a.convertResources("nope", reserve)).toBe(false);
    a.revive("f1");
    expect(summary(a.allocate(0))).toEqual(["f1@a1/prod: cpus:1; mem:256; cpus(prod):1; mem(prod):256"]);
    // A framework cannot convert what it does not hold.
    expect(
      a.convertResources("a1", { consumed: allocateTo(parseResources("cpus:5"), "prod"), converted: [] }, "f1"),
    ).toBe(false);
  });
});

describe("DRF allocator: removal", () => {
  it("returns a removed framework's resources to the pool", () => {
    const a = cluster({ a1: "cpus:4;mem:1024" });
    a.addFramework("f1", { roles: ["*"] });
    a.allocate(0);
    a.removeFramework("f1");
    a.addFramework("f2", { roles: ["*"] });
    expect(scalarOf(a.allocate(0)[0]!.resources, "cpus")).toBe(4);
  });

  it("forgets a removed agent and its allocations", () => {
    const a = cluster({ a1: "cpus:4;mem:1024", a2: "cpus:1;mem:64" });
    a.addFramework("f1", { roles: ["web"] });
    a.allocate(0);
    a.removeAgent("a1");
    expect(a.agentAllocated("a1")).toEqual([]);
    expect(formatResources(a.roles()[0]!.allocated)).toBe("cpus:1; mem:64");
    a.addAgent("a1", parseResources("cpus:2"));
    expect(summary(a.allocate(1))).toEqual(["f1@a1/web: cpus:2"]);
  });

  it("keeps allocations when a framework changes roles", () => {
    const a = cluster({ a1: "cpus:4" });
    a.addFramework("f1", { roles: ["old"] });
    a.allocate(0);
    a.updateFramework("f1", { roles: ["new"] });
    expect(a.allocate(1)).toEqual([]);
    expect(a.roles().map((r) => [r.role, formatResources(r.allocated), r.frameworks.join()])).toEqual([
      ["new", "{}", "f1"],
      ["old", "cpus:4", ""],
    ]);
  });
});

describe("DRF allocator: reacting to changes", () => {
  const cluster = () => {
    const a = createAllocator();
    for (let i = 0; i < 5; i++) a.addAgent(`a${i}`, parseResources("cpus:4;mem:1024"));
    a.addFramework("f1", { roles: ["*"] });
    const offers = a.allocate(0);
    return { a, offers };
  };

  it("covers only the agents whose resources came back", () => {
    const { a, offers } = cluster();
    expect(offers).toHaveLength(5);
    const onA3 = offers.find((o) => o.agentId === "a3")!;
    a.recoverResources("f1", "a3", onA3.resources);
    const again = a.allocateChanged(1);
    expect(again.map((o) => o.agentId)).toEqual(["a3"]);
    expect(a.allocateChanged(2)).toEqual([]);
  });

  it("covers every agent when demand changes", () => {
    const { a, offers } = cluster();
    for (const o of offers) a.recoverResources("f1", o.agentId, o.resources, { refuseSeconds: 100, now: 0 });
    a.addFramework("f2", { roles: ["*"] });
    const again = a.allocateChanged(1);
    expect(new Set(again.map((o) => o.agentId)).size).toBe(5);
    expect(again.every((o) => o.frameworkId === "f2")).toBe(true);
  });

  it("offers nothing the full pass would not", () => {
    const { a, offers } = cluster();
    a.recoverResources("f1", "a0", offers[0]!.resources, { refuseSeconds: 100, now: 0 });
    // f1 filtered a0 and holds everything else: nothing to offer, changed or not.
    expect(a.allocateChanged(1)).toEqual([]);
    expect(a.allocate(2)).toEqual([]);
  });
});

describe("DRF allocator: hierarchical roles", () => {
  const count = (offers: Allocation[]) => {
    const byRole = new Map<string, number>();
    for (const o of offers) byRole.set(o.role, (byRole.get(o.role) ?? 0) + 1);
    return Object.fromEntries([...byRole].sort());
  };

  it("shares between subtrees first, then within them", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1;mem:100"));
    a.addFramework("fx", { roles: ["eng/web"] });
    a.addFramework("fy", { roles: ["eng/api"] });
    a.addFramework("fb", { roles: ["ops"] });
    // Flat DRF would give the three roles 2/1/1; under the tree, ops gets
    // half and eng's half is split between its two sub-roles.
    expect(count(a.allocate(0))).toEqual({ "eng/api": 1, "eng/web": 1, ops: 2 });
  });

  it("lets a role's own frameworks compete with its sub-roles", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1;mem:100"));
    a.addFramework("parent", { roles: ["eng"] });
    a.addFramework("child", { roles: ["eng/web"] });
    a.addFramework("other", { roles: ["ops"] });
    expect(count(a.allocate(0))).toEqual({ eng: 1, "eng/web": 1, ops: 2 });
  });

  it("weighs whole subtrees", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1;mem:100"));
    a.addFramework("fx", { roles: ["eng/web"] });
    a.addFramework("fb", { roles: ["ops"] });
    a.setWeight("eng", 3);
    expect(count(a.allocate(0))).toEqual({ "eng/web": 3, ops: 1 });
  });
});

describe("DRF allocator: quota limits", () => {
  const offered = (offers: Allocation[], name: string) => offers.reduce((n, o) => n + scalarOf(o.resources, name), 0);

  it("never offers a role more than its limit, counting what it holds", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1.5;mem:256"));
    a.addFramework("f", { roles: ["eng"] });
    a.setLimits("eng", new Map([["cpus", 2.5]]));
    const first = a.allocate(0);
    expect(offered(first, "cpus")).toBe(2.5);
    expect(offered(first, "mem")).toBe(1024); // unlimited resources still go out
    a.recoverResources("f", first[0]!.agentId, first[0]!.resources);
    expect(offered(a.allocate(1), "cpus")).toBe(1.5); // room again for what came back
  });

  it("applies a parent's limit to its sub-roles together", () => {
    const a = createAllocator();
    for (let i = 0; i < 4; i++) a.addAgent(`a${i}`, parseResources("cpus:1;mem:256"));
    a.addFramework("web", { roles: ["eng/web"] });
    a.addFramework("api", { roles: ["eng/api"] });
    a.setLimits("eng", new Map([["cpus", 3]]));
    expect(offered(a.allocate(0), "cpus")).toBe(3);
  });
});
