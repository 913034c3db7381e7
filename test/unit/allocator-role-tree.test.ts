import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildRoleTree, hierarchicalRoleOrder, RoleTreeOrder } from "../../src/core/allocator/role-tree.js";

const ROLES = ["a", "a/x", "a/y", "a/y/z", "b", "b/w", "c", "d/e/f"] as const;

describe("role tree order kept up to date during a pass", () => {
  it("after any sequence of charges, equals ordering the whole tree again", () => {
    fc.assert(
      fc.property(
        fc.subarray([...ROLES], { minLength: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 5 })), { maxLength: 20 }),
        (roles, charges) => {
          // Holdings per role; shares derive from them as the share book's do.
          const held = new Map<string, number>(roles.map((r) => [r, 0]));
          const own = (role: string) => held.get(role) ?? 0;
          const subtree = (node: string) =>
            [...held].reduce((n, [r, v]) => n + (r === node || r.startsWith(`${node}/`) ? v : 0), 0);
          const shares = { own, subtree };
          const order = new RoleTreeOrder(buildRoleTree(roles), shares);
          expect(order.roles()).toEqual(hierarchicalRoleOrder(roles, shares));
          for (const [pick, amount] of charges) {
            const role = roles[pick % roles.length]!;
            held.set(role, own(role) + amount);
            order.charged(role);
            expect(order.roles()).toEqual(hierarchicalRoleOrder(roles, shares));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
