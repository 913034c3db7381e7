/**
 * The etcd registry backend: a RegistryStore whose every write is one etcd
 * transaction, fenced by the leader's campaign key and compare-and-set on
 * the registry key's mod revision.
 *
 *   txn if   campaign key: create_revision == epoch and lease == ours  (fence)
 *        and registry key: mod_revision == the one we last read        (CAS)
 *       then put registry
 *       else get campaign key, get registry
 *
 * A failed fence means leadership is gone: LeadershipLostError, never a
 * retry. A failed CAS alone means someone else wrote the registry (an
 * operator's etcdctl, a restore): re-read, re-apply the operation, retry a
 * few times.
 */
import { equals } from "@bufbuild/protobuf";
import { isRecoverableError, type Etcd3, type IKeyValue } from "etcd3";
import { RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type Registry, type RegistryOperation } from "../../core/registry/registry.js";
import type { RegistryStore } from "../registry.js";
import { LeadershipLostError } from "./errors.js";
import { fenceCompares, fenceHolds, type Fence } from "./fence.js";
import { decodeRegistry, encodeRegistry } from "./keys.js";

/** How often a write re-reads and retries after someone else changed the registry. */
const MAX_CONFLICTS = 5;
const TRANSIENT_RETRY_MS = 250;

export interface FencedRegistryOptions {
  readonly client: Etcd3;
  readonly fence: Fence;
  /** The registry key, `<prefix>/registry`. */
  readonly key: string;
  /** The leadership's own verdict (lease lost, key deleted), checked before each attempt. */
  isLost(): LeadershipLostError | undefined;
  /** Called when etcd refused a write because the fence failed. */
  fenceFailed(error: LeadershipLostError): void;
  /** How long a write keeps retrying while etcd is unreachable (leadership loss ends it sooner). */
  readonly transientRetryMs: number;
}

/**
 * Transient errors (etcd restarting, a leader election inside etcd) are
 * retried while leadership lasts. A retried transaction may have committed
 * the first time; the CAS then fails and `applyOnce` recognises its own
 * write.
 */
async function withTransientRetry<T>(options: FencedRegistryOptions, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + options.transientRetryMs;
  for (;;) {
    const lost = options.isLost();
    if (lost !== undefined) throw lost;
    try {
      return await call();
    } catch (err) {
      const transient = err instanceof Error && (isRecoverableError(err) || err.name === "BrokenCircuitError");
      if (!transient || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, TRANSIENT_RETRY_MS));
  }
}

function lostBecause(options: FencedRegistryOptions, what: string): LeadershipLostError {
  const error = new LeadershipLostError(`etcd refused the ${what}: the campaign key ${options.fence.key} (epoch ${options.fence.createRevision}) is gone or no longer ours`);
  options.fenceFailed(error);
  return error;
}

/** Reads the registry under the fence: throws LeadershipLostError if leadership is already gone. */
async function readFenced(options: FencedRegistryOptions): Promise<{ stored: IKeyValue | undefined; revision: string }> {
  const key = Buffer.from(options.key);
  const response = await withTransientRetry(options, () =>
    options.client.kv.txn({ compare: fenceCompares(options.fence), success: [{ request_range: { key } }] }),
  );
  if (!response.succeeded) throw lostBecause(options, "registry read");
  return { stored: response.responses[0]?.response_range.kvs[0], revision: response.header.revision };
}

export interface OpenedRegistry {
  readonly store: RegistryStore;
  /** The etcd revision at which the fence was seen to hold and the registry was read. */
  readonly revision: string;
}

/** Opens the registry as the leader that `options.fence` describes. */
export async function openFencedRegistry(options: FencedRegistryOptions): Promise<OpenedRegistry> {
  const { stored, revision } = await readFenced(options);
  let current: Registry = stored === undefined ? emptyRegistry() : decodeRegistry(stored.value, options.key);
  // 0 is what etcd compares against for a key that does not exist yet.
  let modRevision = stored?.mod_revision ?? "0";
  const key = Buffer.from(options.key);
  const fenceKey = Buffer.from(options.fence.key);

  const applyOnce = async (operation: RegistryOperation): Promise<boolean> => {
    for (let conflicts = 0; ; conflicts++) {
      const { registry: next, changed } = applyRegistryOperation(current, operation);
      if (!changed) return false;
      const value = encodeRegistry(next);
      const response = await withTransientRetry(options, () =>
        options.client.kv.txn({
          compare: [...fenceCompares(options.fence), { key, target: "Mod", result: "Equal", mod_revision: modRevision }],
          success: [{ request_put: { key, value } }],
          failure: [{ request_range: { key: fenceKey } }, { request_range: { key } }],
        }),
      );
      if (response.succeeded) {
        current = next;
        modRevision = response.header.revision;
        return true;
      }
      if (!fenceHolds(options.fence, response.responses[0]?.response_range.kvs[0])) throw lostBecause(options, "registry write");
      const now = response.responses[1]?.response_range.kvs[0];
      current = now === undefined ? emptyRegistry() : decodeRegistry(now.value, options.key);
      modRevision = now?.mod_revision ?? "0";
      // Our own write, committed by an attempt whose answer we never got.
      if (equals(RegistrySchema, current, next)) return true;
      if (conflicts >= MAX_CONFLICTS) throw new Error(`the registry at ${options.key} kept changing under the leader (${MAX_CONFLICTS + 1} attempts); is something else writing it?`);
    }
  };

  // Operations take effect in call order: each waits for the one before.
  let queue: Promise<unknown> = Promise.resolve();
  const store: RegistryStore = {
    get current() {
      return current;
    },
    location: `etcd ${options.key}`,
    apply(operation) {
      const result = queue.then(() => applyOnce(operation));
      queue = result.catch(() => undefined);
      return result;
    },
  };
  return { store, revision };
}
