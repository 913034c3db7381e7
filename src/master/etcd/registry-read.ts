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
 * Keys per page. gRPC refuses answers over 4 MiB by default; entries are a
 * few hundred bytes, so 1,000 of them leave room for a few large ones.
 */
export const PAGE_KEYS = 1_000;

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
  /** Keys per page (default PAGE_KEYS). */
  readonly pageKeys?: number;
}

interface FirstPage {
  header: IResponseHeader;
  legacy: IKeyValue | undefined;
  entries: IKeyValue[];
  more: boolean;
}

const pageRequest = (access: ReadAccess, layout: RegistryLayout, from: Buffer, revision?: string): IRangeRequest => ({
  key: from,
  range_end: layout.entryRangeEnd,
  limit: access.pageKeys ?? PAGE_KEYS,
  ...(revision === undefined ? {} : { revision }),
});

/** The legacy key and the first page of entries, under the fence if any; undefined if the fence failed. */
async function readFirstPage(access: ReadAccess, layout: RegistryLayout): Promise<FirstPage | undefined> {
  const response = await access.txn({
    compare: access.fence ?? [],
    success: [
      { request_range: { key: Buffer.from(layout.legacyKey) } },
      { request_range: pageRequest(access, layout, Buffer.from(layout.entryPrefix)) },
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

/** Every entry key's value at `first`'s revision. */
async function readAllEntries(access: ReadAccess, layout: RegistryLayout, first: FirstPage): Promise<IKeyValue[]> {
  const all = [...first.entries];
  for (let more = first.more; more; ) {
    const last = all[all.length - 1];
    if (last === undefined) break;
    // Just past the last key read: the same key with a zero byte appended.
    const from = Buffer.concat([last.key, Buffer.alloc(1)]);
    const page = await access.range(pageRequest(access, layout, from, first.header.revision));
    all.push(...page.kvs);
    more = page.more && page.kvs.length > 0;
  }
  return all;
}

function decodeEntries(layout: RegistryLayout, kvs: IKeyValue[]): Registry {
  const fragments = kvs.map((kv) => {
    const key = kv.key.toString();
    return [layout.pathOf(key), decodeFragment(kv.value, key)] as const;
  });
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
  const entries = await readAllEntries(access, layout, first);
  const modRevisions = new Map(entries.map((kv) => [layout.pathOf(kv.key.toString()), kv.mod_revision]));
  const legacy: LegacyState =
    first.legacy === undefined ? "absent" : first.legacy.value.equals(TOMBSTONE) ? "tombstone" : "registry";
  const registry =
    legacy === "registry" && first.legacy !== undefined
      ? decodeRegistry(first.legacy.value, layout.legacyKey)
      : entries.length === 0
        ? emptyRegistry()
        : decodeEntries(layout, entries);
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
