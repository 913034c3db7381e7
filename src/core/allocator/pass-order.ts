/**
 * The DRF order of one allocation pass: roles by weighted dominant share,
 * and each role's frameworks by their share in it, ties broken by name.
 *
 * Within a pass the cluster's totals do not change, so a share changes only
 * for the framework (and role) that was just given resources. Re-placing
 * that one entry keeps the order exactly what a full sort would give, at a
 * fraction of the cost of sorting every framework for every agent.
 */

import { hierarchicalRoleOrder } from "./role-tree.js";

interface Entry {
  key: string;
  share: number;
}

// Plain code-unit order: deterministic, unlike localeCompare.
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const compare = (a: Entry, b: Entry): number => a.share - b.share || byName(a.key, b.key);

function place(list: Entry[], entry: Entry): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid] as Entry, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, entry);
}

function reposition(list: Entry[], key: string, share: number): void {
  const at = list.findIndex((e) => e.key === key);
  if (at < 0) return;
  const [entry] = list.splice(at, 1);
  if (entry === undefined) return;
  entry.share = share;
  place(list, entry);
}

export class PassOrder {
  private roleList: Entry[];
  private readonly frameworkLists = new Map<string, Entry[]>();
  /** Some role has a parent: order roles over the tree, not as a flat list. */
  private readonly hierarchical: boolean;

  constructor(
    private readonly members: Map<string, string[]>,
    private readonly roleShare: (role: string) => number,
    private readonly frameworkShare: (role: string, frameworkId: string) => number,
    private readonly subtreeShare: (role: string) => number = roleShare,
  ) {
    this.hierarchical = [...members.keys()].some((role) => role.includes("/"));
    this.roleList = this.hierarchical ? this.treeOrder() : [...members.keys()].map((key) => ({ key, share: roleShare(key) })).sort(compare);
    for (const [role, ids] of members) {
      this.frameworkLists.set(role, ids.map((key) => ({ key, share: frameworkShare(role, key) })).sort(compare));
    }
  }

  /** Roles, lowest weighted share first. */
  roles(): readonly Entry[] {
    return this.roleList;
  }

  /** The role's frameworks, lowest share first. */
  frameworks(role: string): readonly Entry[] {
    return this.frameworkLists.get(role) ?? [];
  }

  /** `frameworkId` was just given resources in `role`: move both to their new places. */
  charged(role: string, frameworkId: string): void {
    const list = this.frameworkLists.get(role);
    if (list !== undefined) reposition(list, frameworkId, this.frameworkShare(role, frameworkId));
    // In a tree, the charge moves every ancestor too: walk it again.
    if (this.hierarchical) this.roleList = this.treeOrder();
    else reposition(this.roleList, role, this.roleShare(role));
  }

  private treeOrder(): Entry[] {
    const order = hierarchicalRoleOrder(this.members.keys(), { subtree: this.subtreeShare, own: this.roleShare });
    return order.map((key) => ({ key, share: 0 }));
  }
}
