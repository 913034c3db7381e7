/**
 * What a registry write puts and deletes: the entries a batch touched, or,
 * for the first write to a single-value registry of old, all of them.
 */
import type { Registry } from "../../core/registry/registry.js";
import { createRegistryBook, type RegistryBook } from "../../core/registry/registry-book.js";
import { entriesOf } from "../../core/registry/registry-entries.js";
import { encodeFragment } from "./registry-layout.js";
import type { LegacyState, StoredRegistry } from "./registry-read.js";
import type { EntryChange, WrittenState } from "./registry-txn.js";

/** What the store holds between writes: the registry as a book and what it knows of etcd's keys. */
export interface Held {
  book: RegistryBook;
  written: WrittenState;
  legacy: LegacyState;
}

export const hold = (stored: StoredRegistry): Held => ({
  book: createRegistryBook(stored.registry),
  written: { legacyModRevision: stored.legacyModRevision, modRevisions: stored.modRevisions },
  legacy: stored.legacy,
});

const encodedEntry = (held: Held, path: string): Buffer | undefined => {
  const fragment: Registry | undefined = held.book.entry(path);
  return fragment === undefined ? undefined : encodeFragment(fragment);
};

/** The keys a batch writes: the entries it touched. */
export function touchedChanges(held: Held, touched: Set<string>): EntryChange[] {
  return [...touched].map((path) => ({ path, value: encodedEntry(held, path) }));
}

/**
 * The keys the first write to a single-value registry of old writes:
 * every entry, and a delete for each leftover of a conversion cut short.
 * A large registry takes a while to encode: `pause` lets the event loop
 * (and the lease's keep-alive) take turns meanwhile.
 */
export async function conversionChanges(held: Held, pause: () => Promise<void> | undefined): Promise<EntryChange[]> {
  const all = new Set(entriesOf(held.book.snapshot()));
  const changes: EntryChange[] = [];
  for (const path of all) {
    changes.push({ path, value: encodedEntry(held, path) });
    await pause();
  }
  for (const path of held.written.modRevisions.keys()) if (!all.has(path)) changes.push({ path, value: undefined });
  return changes;
}
