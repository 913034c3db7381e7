/**
 * The order of roles under hierarchical DRF. Roles form a tree by their
 * `/`-separated names. At each node the children compete by the weighted
 * dominant share of their whole subtree; a role that has frameworks of its
 * own and also sub-roles competes with its children as if it were one more
 * child holding only its own allocation (Mesos' "virtual leaf"). The order
 * is a depth-first walk taking the lowest share first at every level.
 */
import { reposition } from "./sorted-list.js";

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

/** The role tree of a set of roles with frameworks: built once per pass, ordered after every offer. */
export interface RoleTree {
  readonly withFrameworks: ReadonlySet<string>;
  /** node → its children ("" is the root). */
  readonly children: ReadonlyMap<string, readonly string[]>;
}

export function buildRoleTree(roles: Iterable<string>): RoleTree {
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
  return { withFrameworks, children: new Map([...children].map(([node, kids]) => [node, [...kids]])) };
}

export function orderRoleTree(tree: RoleTree, shares: RoleShares): string[] {
  const out: string[] = [];
  const visit = (node: string): void => {
    const candidates: Candidate[] = (tree.children.get(node) ?? []).map((key) => ({
      key,
      share: shares.subtree(key),
      self: false,
    }));
    if (node !== "" && tree.withFrameworks.has(node))
      candidates.push({ key: node, share: shares.own(node), self: true });
    candidates.sort((a, b) => a.share - b.share || byName(a.key, b.key) || Number(b.self) - Number(a.self));
    for (const c of candidates) {
      if (c.self) out.push(c.key);
      else if (tree.children.has(c.key)) visit(c.key);
      else out.push(c.key);
    }
  };
  visit("");
  return out;
}

export function hierarchicalRoleOrder(roles: Iterable<string>, shares: RoleShares): string[] {
  return orderRoleTree(buildRoleTree(roles), shares);
}

interface TreeEntry {
  key: string;
  share: number;
  self: boolean;
}

const compareEntries = (a: TreeEntry, b: TreeEntry): number =>
  a.share - b.share || byName(a.key, b.key) || Number(b.self) - Number(a.self);

/**
 * hierarchicalRoleOrder kept up to date as roles are charged during a pass.
 * A charge changes the shares of the charged role and its ancestors only
 * (the cluster's totals are fixed within a pass), so only their entries
 * move in their parents' sorted lists; the order is read off the lists
 * again, without sorting any level anew. Same order as
 * hierarchicalRoleOrder with the same shares.
 */
export class RoleTreeOrder {
  private readonly lists = new Map<string, TreeEntry[]>();
  /** Each node's entry in its parent's list, and each role's "virtual leaf" entry in its own. */
  private readonly nodeEntries = new Map<string, TreeEntry>();
  private readonly selfEntries = new Map<string, TreeEntry>();
  private order: string[];

  constructor(
    tree: RoleTree,
    private readonly shares: RoleShares,
  ) {
    for (const [node, kids] of tree.children) {
      const list = kids.map((key) => ({ key, share: shares.subtree(key), self: false }));
      for (const e of list) this.nodeEntries.set(e.key, e);
      if (node !== "" && tree.withFrameworks.has(node)) {
        const self = { key: node, share: shares.own(node), self: true };
        this.selfEntries.set(node, self);
        list.push(self);
      }
      this.lists.set(node, list.sort(compareEntries));
    }
    this.order = this.flatten();
  }

  /** Roles with frameworks, in order. */
  roles(): readonly string[] {
    return this.order;
  }

  /** `role` was just given resources: move it and its ancestors to their new places. */
  charged(role: string): void {
    const self = this.selfEntries.get(role);
    if (self !== undefined) this.move(role, self, this.shares.own(role));
    for (let node = role; node !== ""; node = node.includes("/") ? node.slice(0, node.lastIndexOf("/")) : "") {
      const entry = this.nodeEntries.get(node);
      const parent = node.includes("/") ? node.slice(0, node.lastIndexOf("/")) : "";
      if (entry !== undefined) this.move(parent, entry, this.shares.subtree(node));
    }
    this.order = this.flatten();
  }

  private move(node: string, entry: TreeEntry, share: number): void {
    const list = this.lists.get(node);
    if (list === undefined) return;
    reposition(list, entry, share, compareEntries);
  }

  private flatten(): string[] {
    const out: string[] = [];
    const visit = (node: string): void => {
      for (const e of this.lists.get(node) ?? []) {
        if (e.self || !this.lists.has(e.key)) out.push(e.key);
        else visit(e.key);
      }
    };
    visit("");
    return out;
  }
}
