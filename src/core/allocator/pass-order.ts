/**
 * The DRF order of allocation passes: roles by weighted dominant share,
 * and each role's frameworks by their share in it, ties broken by name.
 *
 * While the cluster's totals do not change (within a pass, and between
 * passes until an agent comes or goes), a share changes only for the
 * framework (and role) whose holding changed. Re-placing those entries
 * keeps the order exactly what a full sort would give, at a fraction of the
 * cost of sorting every framework for every agent or every event. The
 * allocator keeps one order between passes (see drf.ts) and builds a new
 * one when totals, weights or membership change.
 */

import type { FrameworkEntry } from "./framework-entry.js";
import { buildRoleTree, RoleTreeOrder } from "./role-tree.js";
import { SortedBlocks } from "./sorted-blocks.js";

export interface Entry {
  key: string;
  share: number;
  /** The key's place in name order among its list's keys. */
  rank: number;
  /** A framework's books (frameworks' entries only): spares a lookup by id for every framework tried on every agent. */
  framework?: FrameworkEntry | undefined;
}

// Plain code-unit order: deterministic, unlike localeCompare.
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// Ties are broken by name through the rank: a move compares about twenty
// entries, and comparing numbers instead of ids was a measurable part of it.
const compare = (a: Entry, b: Entry): number => a.share - b.share || a.rank - b.rank;
/** An order in consecutive pieces: read every entry of the first, then of the second, and so on. */
export type Chunks = readonly (readonly Entry[])[];
const NONE: Chunks = [];

/** Entries for `keys`, ranked by name and sorted by `share` then name. */
function rankedEntries(keys: Iterable<string>, share: (key: string) => number): Entry[] {
  const named = [...keys];
  // A role's frameworks come sorted by id already (every pass, even one
  // reacting to a single task, builds this order): check, sort only if not.
  if (!named.every((key, i) => i === 0 || byName(named[i - 1] as string, key) < 0)) named.sort(byName);
  return named.map((key, rank) => ({ key, share: share(key), rank })).sort(compare);
}

export class PassOrder {
  /** Flat roles; a role tree is walked into `treeChunks` instead. */
  private readonly roleList: SortedBlocks<Entry> | undefined;
  private treeChunks: Chunks = [];
  private readonly frameworkLists = new Map<string, SortedBlocks<Entry>>();
  private readonly frameworkEntries = new Map<string, Map<string, Entry>>();
  private readonly roleEntries = new Map<string, Entry>();
  /** Some role has a parent: order roles over the tree, not as a flat list. */
  private readonly hierarchical: boolean;
  private readonly tree: RoleTreeOrder | undefined;

  constructor(
    members: Map<string, string[]>,
    private readonly roleShare: (role: string) => number,
    private readonly frameworkShare: (role: string, frameworkId: string) => number,
    subtreeShare: (role: string) => number = roleShare,
    frameworkOf: (frameworkId: string) => FrameworkEntry | undefined = () => undefined,
  ) {
    this.hierarchical = [...members.keys()].some((role) => role.includes("/"));
    this.tree = this.hierarchical
      ? new RoleTreeOrder(buildRoleTree(members.keys()), { subtree: subtreeShare, own: roleShare })
      : undefined;
    if (this.hierarchical) {
      this.treeChunks = [this.treeOrder()];
    } else {
      const roles = rankedEntries(members.keys(), roleShare);
      for (const e of roles) this.roleEntries.set(e.key, e);
      this.roleList = new SortedBlocks(roles, compare);
    }
    for (const [role, ids] of members) {
      const list = rankedEntries(ids, (key) => frameworkShare(role, key));
      for (const e of list) e.framework = frameworkOf(e.key);
      this.frameworkLists.set(role, new SortedBlocks(list, compare));
      this.frameworkEntries.set(role, new Map(list.map((e) => [e.key, e])));
    }
  }

  /**
   * Roles, lowest weighted share first, in consecutive chunks (see
   * SortedBlocks.chunks). Read them before the next charge, or copy them.
   */
  roles(): Chunks {
    return this.roleList?.chunks() ?? this.treeChunks;
  }

  /** The role's frameworks, lowest share first, in chunks as roles() gives them. */
  frameworks(role: string): Chunks {
    return this.frameworkLists.get(role)?.chunks() ?? NONE;
  }

  /**
   * Brings the order up to date after charges made outside a pass (tasks
   * ending, resources recovered): `moved` lists, per role, the frameworks
   * whose holding in it changed. Only those entries move, so reacting to one
   * task ending costs a few binary searches, not a sort of every framework.
   * Valid only while the cluster's totals, the weights and the membership
   * are those the order was built with; otherwise build a new one.
   */
  refresh(moved: ReadonlyMap<string, ReadonlySet<string>>): void {
    for (const [role, frameworkIds] of moved) {
      const list = this.frameworkLists.get(role);
      const entries = this.frameworkEntries.get(role);
      if (list !== undefined && entries !== undefined) {
        for (const frameworkId of frameworkIds) {
          const entry = entries.get(frameworkId);
          if (entry !== undefined) list.reposition(entry, this.frameworkShare(role, frameworkId));
        }
      }
      if (this.tree !== undefined) {
        this.tree.charged(role);
      } else {
        const roleEntry = this.roleEntries.get(role);
        if (roleEntry !== undefined) this.roleList?.reposition(roleEntry, this.roleShare(role));
      }
    }
    if (this.tree !== undefined && moved.size > 0) this.treeChunks = [this.treeOrder()];
  }

  /** `frameworkId` was just given resources in `role`: move both to their new places. */
  charged(role: string, frameworkId: string): void {
    const list = this.frameworkLists.get(role);
    const entry = this.frameworkEntries.get(role)?.get(frameworkId);
    if (list !== undefined && entry !== undefined) list.reposition(entry, this.frameworkShare(role, frameworkId));
    // In a tree, the charge moves every ancestor too: walk it again.
    if (this.tree !== undefined) {
      this.tree.charged(role);
      this.treeChunks = [this.treeOrder()];
    } else {
      const roleEntry = this.roleEntries.get(role);
      if (roleEntry !== undefined) this.roleList?.reposition(roleEntry, this.roleShare(role));
    }
  }

  private treeOrder(): Entry[] {
    // Entries are reused: this runs after every offer in a tree.
    return (this.tree?.roles() ?? []).map((key) => {
      let entry = this.roleEntries.get(key);
      if (entry === undefined) {
        entry = { key, share: 0, rank: 0 };
        this.roleEntries.set(key, entry);
      }
      return entry;
    });
  }
}
