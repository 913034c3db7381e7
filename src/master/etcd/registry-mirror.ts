/**
 * The registry's keys in etcd as of one revision, held as a registry book
 * and kept up to date key by key: a standby's follower applies each watched
 * change to it (registry-follower.ts), and the new leader brings it up to
 * the revision where its fence holds (registry-catch-up.ts) instead of
 * reading every key again.
 *
 * A mirror is exact or it is nothing: `revision` names the etcd revision
 * whose registry keys it holds, every one of them, with their mod
 * revisions (the leader's compare-and-set needs them right). A value that
 * does not decode to the entry its key names is noted in `broken` rather
 * than thrown on: beside a single value of old (the legacy key) such keys
 * are leftovers nobody reads, and otherwise the full read says what is
 * wrong with them.
 */
import type { IKeyValue } from "etcd3";
import { emptyRegistry, type Registry } from "../../core/registry/registry.js";
import { createRegistryBook, type RegistryBook } from "../../core/registry/registry-book.js";
import { fragmentFits } from "../../core/registry/registry-entries.js";
import type { Held } from "./registry-changes.js";
import { decodeFragment, type RegistryLayout, TOMBSTONE } from "./registry-layout.js";
import type { LegacyState } from "./registry-read.js";

export interface RegistryMirror {
  readonly layout: RegistryLayout;
  /** Every decodable entry key's entry. */
  readonly book: RegistryBook;
  /** Every entry key's mod revision, by path, decodable or not. */
  readonly modRevisions: Map<string, string>;
  /** Paths whose value is not the one entry the path names. */
  readonly broken: Set<string>;
  legacy: LegacyState;
  legacyModRevision: string;
  /** The etcd revision the mirror is exact at. */
  revision: string;
}

export function emptyMirror(layout: RegistryLayout, revision: string): RegistryMirror {
  return {
    layout,
    book: createRegistryBook(emptyRegistry()),
    modRevisions: new Map(),
    broken: new Set(),
    legacy: "absent",
    legacyModRevision: "0",
    revision,
  };
}

/** The entry `kv` holds, or undefined when it holds none (or not the one its path names). */
function entryOf(path: string, kv: IKeyValue): Registry | undefined {
  try {
    const fragment = decodeFragment(kv.value, kv.key.toString());
    return fragmentFits(path, fragment) ? fragment : undefined;
  } catch {
    return undefined;
  }
}

/** `kv` as now stored at an entry key. */
export function putEntry(mirror: RegistryMirror, kv: IKeyValue): void {
  const path = mirror.layout.pathOf(kv.key.toString());
  const fragment = entryOf(path, kv);
  mirror.book.setEntry(path, fragment);
  mirror.modRevisions.set(path, kv.mod_revision);
  if (fragment === undefined) mirror.broken.add(path);
  else mirror.broken.delete(path);
}

export function deleteEntry(mirror: RegistryMirror, path: string): void {
  mirror.book.setEntry(path, undefined);
  mirror.modRevisions.delete(path);
  mirror.broken.delete(path);
}

/** The legacy key as now stored (undefined: absent). */
export function setLegacy(mirror: RegistryMirror, kv: IKeyValue | undefined): void {
  mirror.legacy = kv === undefined ? "absent" : kv.value.equals(TOMBSTONE) ? "tombstone" : "registry";
  mirror.legacyModRevision = kv?.mod_revision ?? "0";
}

/** What a change to `key` is to the registry: an entry, the legacy key, or none of its business. */
export function registryKeyKind(layout: RegistryLayout, key: string): "entry" | "legacy" | undefined {
  if (key === layout.legacyKey) return "legacy";
  return key.startsWith(layout.entryPrefix) ? "entry" : undefined;
}

/**
 * Whether the leader can take the mirror as its registry: the entries hold
 * the registry (no single value of old to read instead) and every one of
 * them decodes.
 */
export function mirrorUsable(mirror: RegistryMirror): boolean {
  return mirror.legacy !== "registry" && mirror.broken.size === 0;
}

/** The mirror as the leader's registry store holds it; the store changes it in place from then on. */
export function heldOf(mirror: RegistryMirror): Held {
  return {
    book: mirror.book,
    written: { legacyModRevision: mirror.legacyModRevision, modRevisions: mirror.modRevisions },
    legacy: mirror.legacy,
  };
}
