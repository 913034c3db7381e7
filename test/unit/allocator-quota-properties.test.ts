import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Resource, Value_Type } from "../../gen/mesos/v1/mesos_pb.js";
import { type Allocation, createAllocator } from "../../src/core/allocator/index.js";
import {
  addResources,
  containsResources,
  isAncestorOrSelf,
  parseResources,
  reservationRole,
  unallocated,
} from "../../src/core/resources/index.js";

/** A role tree two levels deep; `*` is the default role. */
const ROLES = ["*", "a", "a/x", "a/y", "b", "b/z", "c"] as const;
const TOP = ["a", "b", "c"] as const;
const NAMES = ["cpus", "mem"] as const;
const EPS = 1e-6;

const same = (a: Resource[], b: Resource[]): boolean => containsResources(a, b) && containsResources(b, a);
const inSubtree = (role: string, top: string): boolean => isAncestorOrSelf(top, role);

const agentSpec = fc.record({
  cpus: fc.integer({ min: 0, max: 8 }),
  mem: fc.integer({ min: 0, max: 8 }).map((n) => n * 256),
  reservedRole: fc.constantFrom(...ROLES),
  reservedCpus: fc.integer({ min: 0, max: 2 }),
  ports: fc.integer({ min: 0, max: 5 }),
});
type AgentSpec = typeof agentSpec extends fc.Arbitrary<infer T> ? T : never;

const agentText = (s: AgentSpec): string =>
  [
    `cpus:${s.cpus}`,
    `mem:${s.mem}`,
    s.reservedRole !== "*" && s.reservedCpus > 0
      ? `cpus(${s.reservedRole}):${s.reservedCpus};mem(${s.reservedRole}):${s.reservedCpus * 128}`
      : "",
    s.ports > 0 ? `ports:[1000-${1000 + s.ports}]` : "",
  ]
    .filter((t) => t !== "")
    .join(";");

/** Per top-level role: a quota (guarantee within limit) or none; weights on any role. */
const quotaSpec = fc.record({
  guaranteeCpus: fc.integer({ min: 0, max: 6 }),
  guaranteeMem: fc.integer({ min: 0, max: 6 }).map((n) => n * 256),
  extraCpus: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
});
const clusterSpec = fc.record({
  agents: fc.array(agentSpec, { minLength: 1, maxLength: 6 }),
  frameworks: fc.array(
    fc.record({ roles: fc.subarray([...ROLES], { minLength: 1, maxLength: 2 }), active: fc.boolean() }),
    { minLength: 1, maxLength: 5 },
  ),
  quotas: fc.tuple(
    fc.option(quotaSpec, { nil: undefined }),
    fc.option(quotaSpec, { nil: undefined }),
    fc.option(quotaSpec, { nil: undefined }),
  ),
  subLimit: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
  weights: fc.array(fc.tuple(fc.constantFrom(...ROLES.slice(1)), fc.constantFrom(0.5, 1, 2, 3)), { maxLength: 3 }),
});
type ClusterSpec = typeof clusterSpec extends fc.Arbitrary<infer T> ? T : never;

const command = fc.oneof(
  fc.record({ kind: fc.constant("allocate" as const) }),
  fc.record({ kind: fc.constant("recover" as const), pick: fc.nat(), refuse: fc.constantFrom(0, 5) }),
  fc.record({ kind: fc.constant("toggle" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("suppress" as const), pick: fc.nat(), revive: fc.boolean() }),
);

function build(spec: ClusterSpec) {
  const allocator = createAllocator();
  const totals = new Map<string, Resource[]>();
  spec.agents.forEach((s, i) => {
    totals.set(`a${i}`, parseResources(agentText(s)));
    allocator.addAgent(`a${i}`, totals.get(`a${i}`)!);
  });
  const guarantees = new Map<string, Map<string, number>>();
  const limits = new Map<string, Map<string, number>>();
  spec.quotas.forEach((q, i) => {
    if (q === undefined) return;
    const role = TOP[i]!;
    const g = new Map(
      [
        ["cpus", q.guaranteeCpus],
        ["mem", q.guaranteeMem],
      ].filter(([, n]) => (n as number) > 0) as Array<[string, number]>,
    );
    const l =
      q.extraCpus === undefined ? new Map<string, number>() : new Map([["cpus", q.guaranteeCpus + q.extraCpus]]);
    guarantees.set(role, g);
    limits.set(role, l);
    allocator.setQuota(role, { guarantees: g, limits: l });
  });
  if (spec.subLimit !== undefined) {
    limits.set("a/x", new Map([["cpus", spec.subLimit]]));
    allocator.setLimits("a/x", limits.get("a/x")!);
  }
  for (const [role, w] of spec.weights) allocator.setWeight(role, w);
  spec.frameworks.forEach((f, i) => {
    allocator.addFramework(`f${i}`, { roles: f.roles });
    if (!f.active) allocator.deactivateFramework(`f${i}`);
  });
  return { allocator, totals, guarantees, limits };
}

/** Scalars by (reservation role or "*" for unreserved) and name. */
function scalars(resources: Resource[], visit: (reserved: string, name: string, n: number) => void): void {
  for (const r of resources) if (r.type === Value_Type.SCALAR) visit(reservationRole(r), r.name, r.scalar?.value ?? 0);
}

/** Mesos' consumed quota of `top`: reservations in its subtree plus unreserved scalars its subtree holds. */
function consumed(top: string, name: string, totals: Map<string, Resource[]>, outstanding: Allocation[]): number {
  let n = 0;
  for (const total of totals.values())
    scalars(total, (reserved, nm, v) => (n += reserved !== "*" && nm === name && inSubtree(reserved, top) ? v : 0));
  for (const o of outstanding)
    if (inSubtree(o.role, top))
      scalars(o.resources, (reserved, nm, v) => (n += reserved === "*" && nm === name ? v : 0));
  return n;
}

function unreservedFree(name: string, totals: Map<string, Resource[]>, outstanding: Allocation[]): number {
  let n = 0;
  for (const total of totals.values())
    scalars(total, (reserved, nm, v) => (n += reserved === "*" && nm === name ? v : 0));
  for (const o of outstanding)
    scalars(o.resources, (reserved, nm, v) => (n -= reserved === "*" && nm === name ? v : 0));
  return n;
}

function heldByAgent(outstanding: Allocation[]): Map<string, Resource[]> {
  const held = new Map<string, Resource[]>();
  for (const o of outstanding) held.set(o.agentId, addResources(held.get(o.agentId) ?? [], unallocated(o.resources)));
  return held;
}

describe("DRF allocator with quota: properties", () => {
  it("never offers twice, beyond an agent, outside a reservation's subtree, beyond limits, or into the headroom", () => {
    fc.assert(
      fc.property(clusterSpec, fc.array(command, { maxLength: 20 }), (spec, commands) => {
        const { allocator, totals, guarantees, limits } = build(spec);
        const ids = spec.frameworks.map((_, i) => `f${i}`);
        const active = spec.frameworks.map((f) => f.active);
        const suppressed = ids.map(() => false);
        let outstanding: Allocation[] = [];
        const unreservedTotal = Object.fromEntries(NAMES.map((n) => [n, unreservedFree(n, totals, [])]));
        const guaranteesFit = NAMES.every(
          (n) => [...guarantees.values()].reduce((s, g) => s + (g.get(n) ?? 0), 0) <= unreservedTotal[n]!,
        );
        for (const [step, c] of [{ kind: "allocate" as const }, ...commands].entries()) {
          const now = step * 1000;
          if (c.kind === "allocate") {
            const before = new Map(
              [...limits.keys()].map((role) => [role, NAMES.map((n) => consumed(role, n, totals, outstanding))]),
            );
            const batch = allocator.allocate(now);
            outstanding = [...outstanding, ...batch];
            for (const o of batch) {
              const i = ids.indexOf(o.frameworkId);
              expect(active[i] && !suppressed[i]).toBe(true);
              for (const r of o.resources) {
                expect(r.allocationInfo?.role).toBe(o.role);
                const reserved = reservationRole(r);
                expect(reserved === "*" || isAncestorOrSelf(reserved, o.role)).toBe(true);
              }
            }
            const held = heldByAgent(outstanding);
            for (const [agentId, total] of totals) {
              expect(containsResources(total, held.get(agentId) ?? [])).toBe(true);
              expect(same(allocator.agentAllocated(agentId), held.get(agentId) ?? [])).toBe(true);
            }
            // A limit is never crossed by what this pass offered (reservations alone may exceed it).
            for (const [role, limit] of limits) {
              NAMES.forEach((n, k) => {
                const after = consumed(role, n, totals, outstanding);
                const cap = limit.get(n);
                if (cap !== undefined && after > before.get(role)![k]! + EPS)
                  expect(after).toBeLessThanOrEqual(cap + EPS);
              });
            }
            // What is still owed to guarantees stays free, when the cluster could ever pay it.
            if (guaranteesFit) {
              for (const n of NAMES) {
                const owed = [...guarantees].reduce(
                  (s, [role, g]) => s + Math.max(0, (g.get(n) ?? 0) - consumed(role, n, totals, outstanding)),
                  0,
                );
                expect(unreservedFree(n, totals, outstanding)).toBeGreaterThanOrEqual(owed - EPS);
              }
            }
          } else if (c.kind === "recover" && outstanding.length > 0) {
            const o = outstanding.splice(c.pick % outstanding.length, 1)[0]!;
            allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuseSeconds: c.refuse, now });
          } else if (c.kind === "toggle") {
            const i = c.pick % ids.length;
            active[i] = !active[i];
            if (active[i]) allocator.activateFramework(ids[i]!);
            else allocator.deactivateFramework(ids[i]!);
          } else if (c.kind === "suppress") {
            const i = c.pick % ids.length;
            suppressed[i] = !c.revive;
            if (c.revive) allocator.revive(ids[i]!);
            else allocator.suppress(ids[i]!);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("meets every guarantee when the free unreserved resources cover them and the guaranteed roles take everything", () => {
    fc.assert(
      fc.property(clusterSpec, (spec) => {
        const { allocator, totals, guarantees } = build({ ...spec, subLimit: undefined });
        // Each guaranteed role has an active, unsuppressed framework of its own that keeps all it is offered.
        for (const role of guarantees.keys()) allocator.addFramework(`greedy-${role}`, { roles: [role] });
        const fits = NAMES.every(
          (n) => [...guarantees.values()].reduce((s, g) => s + (g.get(n) ?? 0), 0) <= unreservedFree(n, totals, []),
        );
        fc.pre(fits);
        const offers = allocator.allocate(0);
        for (const [role, g] of guarantees) {
          for (const [n, want] of g) expect(consumed(role, n, totals, offers)).toBeGreaterThanOrEqual(want - EPS);
        }
        // Giving everything back restores every agent in full.
        for (const o of offers) allocator.recoverResources(o.frameworkId, o.agentId, o.resources);
        for (const agentId of totals.keys()) expect(allocator.agentAllocated(agentId)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
