/**
 * The order of roles under hierarchical DRF. Roles form a tree by their
 * `/`-separated names. At each node the children compete by the weighted
 * dominant share of their whole subtree; a role that has frameworks of its
 * own and also sub-roles competes with its children as if it were one more
 * child holding only its own allocation (Mesos' "virtual leaf"). The order
 * is a depth-first walk taking the lowest share first at every level.
 */

export interface RoleShares {
  /** Weighted share of `node` and everything below it. */
  subtree(node: string): number;
  /** Weighted share of what `role` itself holds. */
  own(role: string): number;
}

interface Candidate {
  key: string;
  share: number;
  /** The role's own frameworks, not a subtree. */
  self: boolean;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function hierarchicalRoleOrder(roles: Iterable<string>, shares: RoleShares): string[] {
  const withFrameworks = new Set(roles);
  const children = new Map<string, Set<string>>();
  for (const role of withFrameworks) {
    const parts = role.split("/");
    for (let depth = 1; depth <= parts.length; depth++) {
      const node = parts.slice(0, depth).join("/");
      const parent = parts.slice(0, depth - 1).join("/");
      children.set(parent, (children.get(parent) ?? new Set()).add(node));
    }
  }
  const out: string[] = [];
  const visit = (node: string): void => {
    const candidates: Candidate[] = [...(children.get(node) ?? [])].map((key) => ({ key, share: shares.subtree(key), self: false }));
    if (node !== "" && withFrameworks.has(node)) candidates.push({ key: node, share: shares.own(node), self: true });
    candidates.sort((a, b) => a.share - b.share || byName(a.key, b.key) || Number(b.self) - Number(a.self));
    for (const c of candidates) {
      if (c.self) out.push(c.key);
      else if (children.has(c.key)) visit(c.key);
      else out.push(c.key);
    }
  };
  visit("");
  return out;
}
