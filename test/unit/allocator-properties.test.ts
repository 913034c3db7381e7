import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Resource } from "../../gen/mesos/v1/mesos_pb.js";
import { type Allocation, type Allocator, createAllocator } from "../../src/core/allocator/index.js";
import {
  addResources,
  allocateTo,
  containsResources,
  isAncestorOrSelf,
  parseResources,
  reservationRole,
  subtractResources,
  unallocated,
} from "../../src/core/resources/index.js";

const same = (a: Resource[], b: Resource[]): boolean => containsResources(a, b) && containsResources(b, a);

const ROLES = ["*", "r1", "r2", "r2/sub"] as const;

const agentSpec = fc.record({
  cpus: fc.integer({ min: 0, max: 16 }),
  mem: fc.integer({ min: 0, max: 4096 }),
  reserved: fc.integer({ min: 0, max: 4 }),
  reservedRole: fc.constantFrom("r1", "r2"),
  ports: fc.integer({ min: 0, max: 20 }),
});
type AgentSpec = typeof agentSpec extends fc.Arbitrary<infer T> ? T : never;

const agentText = (s: AgentSpec): string =>
  [
    `cpus:${s.cpus}`,
    `mem:${s.mem}`,
    s.reserved > 0 ? `cpus(${s.reservedRole}):${s.reserved};mem(${s.reservedRole}):${s.reserved * 128}` : "",
    s.ports > 0 ? `ports:[1000-${1000 + s.ports}]` : "",
  ]
    .filter((t) => t !== "")
    .join(";");

const frameworkSpec = fc.record({ roles: fc.subarray([...ROLES], { minLength: 1 }), active: fc.boolean() });

const command = fc.oneof(
  fc.record({ kind: fc.constant("allocate" as const) }),
  fc.record({
    kind: fc.constant("recover" as const),
    pick: fc.nat(),
    fraction: fc.constantFrom(0.5, 1),
    refuse: fc.constantFrom(0, 1, 10),
  }),
  fc.record({ kind: fc.constant("toggle" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("suppress" as const), pick: fc.nat(), revive: fc.boolean() }),
  fc.record({ kind: fc.constant("removeFramework" as const), pick: fc.nat() }),
);

function build(agents: AgentSpec[], frameworks: Array<{ roles: string[]; active: boolean }>) {
  const allocator = createAllocator();
  const totals = new Map<string, Resource[]>();
  agents.forEach((s, i) => {
    totals.set(`a${i}`, parseResources(agentText(s)));
    allocator.addAgent(`a${i}`, totals.get(`a${i}`)!);
  });
  frameworks.forEach((f, i) => {
    allocator.addFramework(`f${i}`, { roles: f.roles });
    if (!f.active) allocator.deactivateFramework(`f${i}`);
  });
  return { allocator, totals };
}

/** What the model believes is held per agent, from the outstanding offers. */
function heldByAgent(outstanding: Allocation[]): Map<string, Resource[]> {
  const held = new Map<string, Resource[]>();
  for (const o of outstanding) held.set(o.agentId, addResources(held.get(o.agentId) ?? [], unallocated(o.resources)));
  return held;
}

function checkOffers(
  batch: Allocation[],
  allocator: Allocator,
  totals: Map<string, Resource[]>,
  outstanding: Allocation[],
): void {
  for (const o of batch) {
    for (const r of o.resources) {
      expect(r.allocationInfo?.role).toBe(o.role);
      const reserved = reservationRole(r);
      expect(reserved === "*" || isAncestorOrSelf(reserved, o.role)).toBe(true);
    }
  }
  const held = heldByAgent(outstanding);
  for (const [agentId, total] of totals) {
    // Offers never overlap (the model's sum fits) and never exceed the agent.
    expect(containsResources(total, held.get(agentId) ?? [])).toBe(true);
    expect(same(allocator.agentAllocated(agentId), held.get(agentId) ?? [])).toBe(true);
  }
}

describe("DRF allocator properties", () => {
  it("never over-allocates an agent, never offers twice, never offers reserved resources outside their role", () => {
    fc.assert(
      fc.property(
        fc.array(agentSpec, { minLength: 1, maxLength: 5 }),
        fc.array(frameworkSpec, { minLength: 1, maxLength: 4 }),
        fc.array(command, { maxLength: 25 }),
        (agents, frameworks, commands) => {
          const { allocator, totals } = build(agents, frameworks);
          let outstanding: Allocation[] = [];
          const ids = frameworks.map((_, i) => `f${i}`);
          const active = frameworks.map((f) => f.active);
          const suppressed = frameworks.map(() => false);
          const removed = frameworks.map(() => false);
          for (const [step, c] of [{ kind: "allocate" as const }, ...commands].entries()) {
            const now = step * 1000;
            if (c.kind === "allocate") {
              const batch = allocator.allocate(now);
              for (const o of batch) {
                const i = ids.indexOf(o.frameworkId);
                expect(active[i] && !suppressed[i] && !removed[i]).toBe(true);
              }
              outstanding.push(...batch);
              checkOffers(batch, allocator, totals, outstanding);
            } else if (c.kind === "recover" && outstanding.length > 0) {
              const o = outstanding.splice(c.pick % outstanding.length, 1)[0]!;
              const back = c.fraction === 1 ? o.resources : o.resources.filter((_, i) => i % 2 === 0);
              const kept = subtractResources(o.resources, back);
              if (kept.length > 0) outstanding.push({ ...o, resources: kept });
              allocator.recoverResources(o.frameworkId, o.agentId, back, { refuseSeconds: c.refuse, now });
            } else if (c.kind === "toggle") {
              const i = c.pick % ids.length;
              active[i] = !active[i];
              if (active[i]) allocator.activateFramework(ids[i]!);
              else allocator.deactivateFramework(ids[i]!);
            } else if (c.kind === "suppress") {
              const id = ids[c.pick % ids.length]!;
              suppressed[c.pick % ids.length] = !c.revive;
              if (c.revive) allocator.revive(id);
              else allocator.suppress(id);
            } else if (c.kind === "removeFramework") {
              const id = ids[c.pick % ids.length]!;
              removed[c.pick % ids.length] = true;
              allocator.removeFramework(id);
              outstanding = outstanding.filter((o) => o.frameworkId !== id);
            }
          }
          checkOffers([], allocator, totals, outstanding);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("allocation then recovery restores the free pool", () => {
    fc.assert(
      fc.property(
        fc.array(agentSpec, { minLength: 1, maxLength: 5 }),
        fc.array(frameworkSpec, { minLength: 1, maxLength: 4 }),
        (agents, frameworks) => {
          const { allocator, totals } = build(agents, frameworks);
          // One framework per role, so every resource has someone to go to.
          ROLES.forEach((role, i) => allocator.addFramework(`all${i}`, { roles: [role] }));
          const first = allocator.allocate(0);
          for (const o of first) allocator.recoverResources(o.frameworkId, o.agentId, o.resources);
          for (const agentId of totals.keys()) expect(allocator.agentAllocated(agentId)).toEqual([]);
          expect(allocator.roles().every((r) => r.allocated.length === 0)).toBe(true);
          const second = heldByAgent(allocator.allocate(1));
          expect(heldByAgent(first).size).toBe(second.size);
          for (const [agentId, total] of totals) {
            const offered = second.get(agentId) ?? [];
            // Everything is offered again, except agents too small to offer at all.
            if (offered.length > 0) expect(same(offered, total)).toBe(true);
            expect(same(offered, heldByAgent(first).get(agentId) ?? [])).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("DRF allocator: the classic example", () => {
  // Ghodsi et al.: 9 CPUs and 18 GB; A's tasks need <1 CPU, 4 GB>, B's
  // <3 CPUs, 1 GB>. DRF equalizes dominant shares (A's is memory, B's CPU)
  // and lands on A running 3 tasks and B 2, both at a 2/3 share.
  const demand = { A: parseResources("cpus:1;mem:4096"), B: parseResources("cpus:3;mem:1024") };

  it("gives A three tasks and B two when each launches one task per offer", () => {
    const a = createAllocator();
    a.addAgent("a1", parseResources("cpus:9;mem:18432"));
    a.addFramework("A", { roles: ["a"] });
    a.addFramework("B", { roles: ["b"] });
    const tasks = { A: 0, B: 0 };
    for (let now = 0; now < 20; now++) {
      const offers = a.allocate(now);
      if (offers.length === 0) break;
      for (const offer of offers) {
        const id = offer.frameworkId as "A" | "B";
        const bare = unallocated(offer.resources);
        if (containsResources(bare, demand[id])) {
          tasks[id]++;
          a.recoverResources(id, "a1", allocateTo(subtractResources(bare, demand[id]), offer.role));
        } else {
          a.recoverResources(id, "a1", offer.resources, { refuseSeconds: 1000, now });
        }
      }
    }
    expect(tasks).toEqual({ A: 3, B: 2 });
  });
});
