/**
 * Reading the registry from etcd: the single value of old, or every entry
 * key (registry-layout.ts), page by page, all pages at the revision of the
 * first so the pages make one consistent picture. A leader reads the first
 * page in a transaction that also checks its fence.
 */
import type {
  Etcd3,
  ICompare,
  IKeyValue,
  IRangeRequest,
  IRangeResponse,
  IResponseHeader,
  ITxnRequest,
  ITxnResponse,
} from "etcd3";
import { emptyRegistry, type Registry } from "../../core/registry/registry.js";
import { mergeFragments } from "../../core/registry/registry-entries.js";
import { decodeFragment, type RegistryLayout, registryLayout, TOMBSTONE } from "./registry-layout.js";
import { decodeRegistry } from "./registry-value.js";

/**
 * Keys in the first page. Later pages are sized from the bytes per key
 * seen so far to about PAGE_BYTES each: gRPC refuses answers over 4 MiB by
 * default, and fewer, larger pages save etcd round trips (at 40,000 agents
 * the read is 40 pages of 1,000, or 5 of about 8,000).
 */
export const PAGE_KEYS = 1_000;
const PAGE_BYTES = 1024 * 1024;
const MAX_PAGE_KEYS = 10_000;

/** What `<prefix>/registry` holds: nothing, the tombstone (entries hold the registry), or a whole registry. */
export type LegacyState = "absent" | "tombstone" | "registry";

export interface StoredRegistry {
  readonly registry: Registry;
  readonly legacy: LegacyState;
  /** The legacy key's mod revision ("0": absent), for compare-and-set. */
  readonly legacyModRevision: string;
  /** Each entry key's mod revision, by path (registry-entries.ts), for compare-and-set. */
  readonly modRevisions: Map<string, string>;
  /** The etcd revision the registry was read at. */
  readonly revision: string;
}

/** How the reader reaches etcd (the leader's calls retry transient errors and carry deadlines). */
export interface ReadAccess {
  txn(request: ITxnRequest): Promise<ITxnResponse>;
  range(request: IRangeRequest): Promise<IRangeResponse>;
  /** The fence, checked in the first page's transaction; none for a reader that does not lead. */
  readonly fence?: ICompare[];
  /** Keys per page (default: PAGE_KEYS, then sized by bytes). */
  readonly pageKeys?: number;
}

/** A range's first answer: its revision and its first page of entry keys. */
export interface FirstPage {
  header: IResponseHeader;
  legacy: IKeyValue | undefined;
  entries: IKeyValue[];
  more: boolean;
}

/** What a paged range of entry keys asks for beyond the keys themselves. */
export type EntryFilter = Pick<IRangeRequest, "min_mod_revision" | "keys_only">;

export const pageRequest = (
  layout: RegistryLayout,
  from: Buffer,
  limit: number,
  revision?: string,
  filter: EntryFilter = {},
): IRangeRequest => ({
  key: from,
  range_end: layout.entryRangeEnd,
  limit,
  ...(revision === undefined ? {} : { revision }),
  ...filter,
});

/** The legacy key and the first page of entries, under the fence if any; undefined if the fence failed. */
async function readFirstPage(access: ReadAccess, layout: RegistryLayout): Promise<FirstPage | undefined> {
  const response = await access.txn({
    compare: access.fence ?? [],
    success: [
      { request_range: { key: Buffer.from(layout.legacyKey) } },
      { request_range: pageRequest(layout, Buffer.from(layout.entryPrefix), access.pageKeys ?? PAGE_KEYS) },
    ],
  });
  if (!response.succeeded) return undefined;
  const entries = response.responses[1]?.response_range;
  return {
    header: response.header,
    legacy: response.responses[0]?.response_range.kvs[0],
    entries: entries?.kvs ?? [],
    more: entries?.more ?? false,
  };
}

/** Keys for the page after `kvs`: about PAGE_BYTES at their bytes per key. */
function nextPageKeys(access: ReadAccess, kvs: IKeyValue[]): number {
  if (access.pageKeys !== undefined) return access.pageKeys;
  const bytes = kvs.reduce((n, kv) => n + kv.key.length + kv.value.length + 32, 0);
  const perKey = Math.max(1, bytes / Math.max(1, kvs.length));
  return Math.max(100, Math.min(MAX_PAGE_KEYS, Math.floor(PAGE_BYTES / perKey)));
}

/**
 * Hands every entry key at `first`'s revision (that `filter` lets through)
 * to `take`, page by page (`more`: pages follow). The next page is asked for before `take` works
 * through the current one, so etcd serves it while this process decodes.
 * `take` returning false stops it.
 */
export async function forEachEntry(
  access: ReadAccess,
  layout: RegistryLayout,
  first: Pick<FirstPage, "header" | "entries" | "more">,
  take: (kvs: IKeyValue[], more: boolean) => boolean | undefined,
  filter: EntryFilter = {},
): Promise<void> {
  let page = { kvs: first.entries, more: first.more };
  for (;;) {
    const last = page.kvs[page.kvs.length - 1];
    // Just past the last key read: the same key with a zero byte appended.
    const next =
      page.more && last !== undefined
        ? access.range(
            pageRequest(
              layout,
              Buffer.concat([last.key, Buffer.alloc(1)]),
              nextPageKeys(access, page.kvs),
              first.header.revision,
              filter,
            ),
          )
        : undefined;
    // Awaited below; if `take` throws first, its failure is not an unhandled rejection.
    next?.catch(() => undefined);
    if (take(page.kvs, page.more) === false || next === undefined) return;
    page = await next;
  }
}

function merged(layout: RegistryLayout, fragments: (readonly [string, Registry])[]): Registry {
  try {
    return mergeFragments(fragments);
  } catch (err) {
    throw new Error(
      `the registry under ${layout.entryPrefix} in etcd cannot be read: ${err instanceof Error ? err.message : String(err)}; restore it from a backup`,
    );
  }
}

/**
 * Reads the registry. A whole registry at the legacy key wins over any
 * entry keys: they are the leftovers of a conversion cut short, and the
 * next write replaces them. Undefined when the fence failed.
 */
export async function readRegistry(access: ReadAccess, layout: RegistryLayout): Promise<StoredRegistry | undefined> {
  const first = await readFirstPage(access, layout);
  if (first === undefined) return undefined;
  const legacy: LegacyState =
    first.legacy === undefined ? "absent" : first.legacy.value.equals(TOMBSTONE) ? "tombstone" : "registry";
  const modRevisions = new Map<string, string>();
  const fragments: (readonly [string, Registry])[] = [];
  await forEachEntry(access, layout, first, (kvs) => {
    for (const kv of kvs) {
      const key = kv.key.toString();
      const path = layout.pathOf(key);
      modRevisions.set(path, kv.mod_revision);
      // Leftovers beside a whole registry are only to be deleted: not decoded.
      if (legacy !== "registry") fragments.push([path, decodeFragment(kv.value, key)]);
    }
    return true;
  });
  const registry =
    legacy === "registry" && first.legacy !== undefined
      ? decodeRegistry(first.legacy.value, layout.legacyKey)
      : fragments.length === 0
        ? emptyRegistry()
        : merged(layout, fragments);
  return {
    registry,
    legacy,
    legacyModRevision: first.legacy?.mod_revision ?? "0",
    modRevisions,
    revision: first.header.revision,
  };
}

/**
 * The registry as stored under `key` (`<prefix>/registry`), read by a
 * client that does not lead: for tests, benchmarks and tools.
 */
export async function readStoredRegistry(client: Etcd3, key: string, pageKeys?: number): Promise<Registry> {
  const access: ReadAccess = { txn: (r) => client.kv.txn(r), range: (r) => client.kv.range(r), pageKeys };
  const stored = await readRegistry(access, registryLayout(key));
  return stored?.registry ?? emptyRegistry();
}
