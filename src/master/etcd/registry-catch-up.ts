/**
 * Bringing a registry mirror (registry-mirror.ts) up to etcd's present
 * without reading every key: what a new leader does with what its follower
 * held, and a follower whose watch etcd cancelled.
 *
 *   txn if fence (a leader's; none for a follower)
 *       then get <prefix>/registry                       (legacy key)
 *            range entries with mod_revision > followed  (puts since)
 *            count entries                               (deletions since?)
 *
 * Everything is read at the transaction's revision R, so the mirror ends
 * exact at R. Keys changed since the followed revision F come back with
 * their values (deleted and put again, too); a key deleted since F does
 * not, but then etcd counts fewer keys than the mirror knows of (every key
 * at R is either unchanged since F, so known, or changed, so just read):
 * only then are the keys listed (keys only) to find which. No history is
 * needed, so a compacted watch costs nothing here.
 *
 * etcd filters on mod_revision after reading the whole range (a scan, no
 * values sent), and each further page scans again from its first key: past
 * MAX_PAGES pages of changes, reading everything costs less. So does a
 * mirror that cannot serve (a single value of old to convert, an entry that
 * does not decode): "read-all" asks for the full read (registry-read.ts).
 */
import type { IKeyValue } from "etcd3";
import type { RegistryLayout } from "./registry-layout.js";
import { deleteEntry, emptyMirror, mirrorUsable, putEntry, type RegistryMirror, setLegacy } from "./registry-mirror.js";
import {
  type EntryFilter,
  type FirstPage,
  forEachEntry,
  PAGE_KEYS,
  pageRequest,
  type ReadAccess,
} from "./registry-read.js";

/** Pages of changed keys a catch-up reads before it gives up for the full read. */
const MAX_PAGES = 4;
/** Keys per page when listing keys only (no values: small pages). */
const KEY_PAGE = 10_000;

export type CatchUpOutcome =
  /** The mirror is exact at `mirror.revision`, R; the counts say what it took. */
  | { readonly kind: "caught-up"; readonly changed: number; readonly deleted: number }
  /** The fence failed: nothing was read. */
  | { readonly kind: "lost" }
  /** Read every key instead (too much changed, or the mirror cannot serve); the mirror is unusable now. */
  | { readonly kind: "read-all"; readonly why: string };

/** Deletes from the mirror every key etcd no longer holds at the mirror's revision. */
async function dropDeleted(access: ReadAccess, layout: RegistryLayout, mirror: RegistryMirror): Promise<number> {
  const keysOnly: EntryFilter = { keys_only: true };
  const page = await access.range(
    pageRequest(layout, Buffer.from(layout.entryPrefix), KEY_PAGE, mirror.revision, keysOnly),
  );
  const first = { header: page.header, entries: page.kvs, more: page.more };
  const present = new Set<string>();
  await forEachEntry(
    access,
    layout,
    first,
    (kvs) => {
      for (const kv of kvs) present.add(layout.pathOf(kv.key.toString()));
      return true;
    },
    keysOnly,
  );
  const gone = [...mirror.modRevisions.keys()].filter((path) => !present.has(path));
  for (const path of gone) deleteEntry(mirror, path);
  return gone.length;
}

/**
 * Brings `mirror` from its revision to etcd's present (under `access.fence`
 * if any), in place. On "read-all" and on a throw the mirror is left
 * half-way: do not use it.
 */
export async function catchUpMirror(access: ReadAccess, mirror: RegistryMirror): Promise<CatchUpOutcome> {
  const { layout } = mirror;
  const since: EntryFilter = { min_mod_revision: (BigInt(mirror.revision) + 1n).toString() };
  const from = Buffer.from(layout.entryPrefix);
  const response = await access.txn({
    compare: access.fence ?? [],
    success: [
      { request_range: { key: Buffer.from(layout.legacyKey) } },
      { request_range: pageRequest(layout, from, access.pageKeys ?? PAGE_KEYS, undefined, since) },
      { request_range: { key: from, range_end: layout.entryRangeEnd, count_only: true } },
    ],
  });
  if (!response.succeeded) return { kind: "lost" };
  const changedPage = response.responses[1]?.response_range;
  const first: Pick<FirstPage, "header" | "entries" | "more"> = {
    header: response.header,
    entries: changedPage?.kvs ?? [],
    more: changedPage?.more ?? false,
  };
  mirror.revision = response.header.revision;
  setLegacy(mirror, response.responses[0]?.response_range.kvs[0]);
  if (mirror.legacy === "registry") return { kind: "read-all", why: "a single-value registry of old is to be read" };
  let changed = 0;
  let pages = 0;
  let unread = false;
  await forEachEntry(
    access,
    layout,
    first,
    (kvs: IKeyValue[], more) => {
      for (const kv of kvs) putEntry(mirror, kv);
      changed += kvs.length;
      unread = more && ++pages >= MAX_PAGES;
      return !unread;
    },
    since,
  );
  if (unread) return { kind: "read-all", why: `more than ${changed} keys changed` };
  const count = Number(response.responses[2]?.response_range.count ?? "0");
  const deleted = count === mirror.modRevisions.size ? 0 : await dropDeleted(access, layout, mirror);
  if (!mirrorUsable(mirror)) return { kind: "read-all", why: "an entry does not decode" };
  return { kind: "caught-up", changed, deleted };
}

/**
 * Reads every registry key into a new mirror (no fence: a follower's
 * first read). Entries beside a single value of old are kept as keys only
 * would be: noted, decoded if they can be.
 */
export async function readMirror(access: ReadAccess, layout: RegistryLayout): Promise<RegistryMirror> {
  const response = await access.txn({
    compare: [],
    success: [
      { request_range: { key: Buffer.from(layout.legacyKey) } },
      { request_range: pageRequest(layout, Buffer.from(layout.entryPrefix), access.pageKeys ?? PAGE_KEYS) },
    ],
  });
  const mirror = emptyMirror(layout, response.header.revision);
  setLegacy(mirror, response.responses[0]?.response_range.kvs[0]);
  const page = response.responses[1]?.response_range;
  await forEachEntry(
    access,
    layout,
    { header: response.header, entries: page?.kvs ?? [], more: page?.more ?? false },
    (kvs) => {
      for (const kv of kvs) putEntry(mirror, kv);
      return true;
    },
  );
  return mirror;
}
