import { create } from "@bufbuild/protobuf";
import {
  type Etcd3,
  GRPCUnavailableError,
  type IKeyValue,
  type IResponseOp,
  type ITxnRequest,
  type ITxnResponse,
} from "etcd3";
import { describe, expect, it } from "vitest";
import { WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import type { Registry, RegistryOperation } from "../../src/core/registry/registry.js";
import { LeadershipLostError, PartlyStoredError } from "../../src/master/etcd/errors.js";
import { openFencedRegistry } from "../../src/master/etcd/fenced-registry.js";
import { encodeFragment, TOMBSTONE } from "../../src/master/etcd/registry-layout.js";
import { chunkChanges } from "../../src/master/etcd/registry-txn.js";

const fence = { key: "/p/election/1", createRevision: "5", leaseId: "1" };
const weights = (role: string, weight: number): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight })],
});
const kv = (key: string, fields: Partial<IKeyValue>): IKeyValue => ({
  key: Buffer.from(key),
  create_revision: "1",
  mod_revision: "1",
  version: "1",
  value: Buffer.alloc(0),
  lease: "0",
  ...fields,
});
const campaignKv = kv(fence.key, { create_revision: fence.createRevision, lease: fence.leaseId });
// The store reads only response_range; the other members of the union stay unset, as on the wire.
const rangeOf = (kvs: IKeyValue[]): IResponseOp =>
  ({
    response_range: {
      header: { revision: "9", cluster_id: "", member_id: "", raft_term: "" },
      kvs,
      more: false,
      count: String(kvs.length),
    },
  }) as IResponseOp;
const header = (revision: string) => ({ revision, cluster_id: "", member_id: "", raft_term: "" });

/**
 * A hand-written stand-in for the etcd client's KV service: each txn call is
 * answered by the next function in `answers`, so a test scripts exactly the
 * races it wants.
 */
function fakeEtcd(answers: ((request: ITxnRequest) => ITxnResponse)[]): { client: Etcd3; requests: ITxnRequest[] } {
  const requests: ITxnRequest[] = [];
  const txn = (request: ITxnRequest): Promise<ITxnResponse> => {
    requests.push(request);
    const answer = answers.shift();
    if (answer === undefined) return Promise.reject(new Error("no more scripted answers"));
    try {
      return Promise.resolve(answer(request));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
  // Only kv.txn is used by the store; the cast is confined to this fake.
  return { client: { kv: { txn } } as unknown as Etcd3, requests };
}

/** The first read: `<prefix>/registry` (absent here) and the first page of entries. */
const loaded =
  (entries: IKeyValue[] = []) =>
  () => ({
    header: header("9"),
    succeeded: true,
    responses: [rangeOf([]), rangeOf(entries)],
  });
const entryKv = (path: string, fragment: Registry, modRevision: string) =>
  kv(`/p/registry/${path}`, { value: encodeFragment(fragment), mod_revision: modRevision });
/** The failure branch's reads: the campaign key, `<prefix>/registry`, then each written key. */
const casFailed = (legacy: IKeyValue[], entries: IKeyValue[][]) => () => ({
  header: header("9"),
  succeeded: false,
  responses: [rangeOf([campaignKv]), rangeOf(legacy), ...entries.map(rangeOf)],
});
const written = (revision: string) => () => ({ header: header(revision), succeeded: true, responses: [] });
const weightsFragment = (role: string, weight: number) =>
  create(RegistrySchema, { weights: [create(WeightInfoSchema, { role, weight })] });

const open = (client: Etcd3, lost: Error[] = [], txnLimits?: { maxOps: number; maxBytes: number }) =>
  openFencedRegistry({
    client,
    fence,
    key: "/p/registry",
    isLost: () => undefined,
    fenceFailed: (e) => lost.push(e),
    transientRetryMs: 5_000,
    txnLimits,
  }).then((o) => o.store);

describe("the fenced registry store", () => {
  it("compares the campaign key's create revision and lease and each written key's mod revision in every write, and puts only what changed", async () => {
    const { client, requests } = fakeEtcd([loaded(), written("10"), written("11"), written("12")]);
    const store = await open(client);
    await store.apply(weights("a", 1));
    await store.apply(weights("b", 1));
    await store.apply(weights("a", 2));
    const compares = requests
      .slice(1)
      .map((r) => r.compare?.map((c) => [c.key?.toString(), c.target, c.create_revision ?? c.lease ?? c.mod_revision]));
    const fenced = [
      [fence.key, "Create", "5"],
      [fence.key, "Lease", "1"],
    ];
    expect(compares).toEqual([
      [...fenced, ["/p/registry", "Mod", "0"], ["/p/registry/weights/a", "Mod", "0"]],
      [...fenced, ["/p/registry", "Mod", "10"], ["/p/registry/weights/b", "Mod", "0"]],
      [...fenced, ["/p/registry", "Mod", "10"], ["/p/registry/weights/a", "Mod", "10"]],
    ]);
    const puts = requests.slice(1).map((r) => r.success?.map((op) => op.request_put?.key?.toString()));
    // The first write also marks <prefix>/registry as moved to entries, once.
    expect(puts).toEqual([
      ["/p/registry/weights/a", "/p/registry"],
      ["/p/registry/weights/b"],
      ["/p/registry/weights/a"],
    ]);
  });

  it("gives up after a bounded number of conflicting writes by someone else", async () => {
    const other = (n: number) => entryKv("weights/mine", weightsFragment("mine", 100 + n), String(20 + n));
    // Each conflict makes the store read the registry again before it retries.
    const { client, requests } = fakeEtcd([
      loaded(),
      ...[1, 2, 3, 4, 5, 6].flatMap((n) => [casFailed([], [[other(n)]]), loaded([other(n)])]),
    ]);
    const store = await open(client);
    await expect(store.apply(weights("mine", 1))).rejects.toThrow(/kept changing/);
    expect(requests).toHaveLength(1 + 6 + 5);
    // The last retry compared against what the last read found.
    expect(requests[11]?.compare?.[3]?.mod_revision).toBe("25");
  });

  it("recognises its own write when a retried transaction had committed the first time", async () => {
    const { client, requests } = fakeEtcd([
      loaded(),
      () => {
        throw new GRPCUnavailableError("the answer was lost");
      },
      casFailed(
        [kv("/p/registry", { value: TOMBSTONE, mod_revision: "10" })],
        [[entryKv("weights/mine", weightsFragment("mine", 1), "10")]],
      ),
      written("11"),
    ]);
    const store = await open(client);
    expect(await store.apply(weights("mine", 1))).toBe(true);
    expect(store.current.weights.map((w) => w.role)).toEqual(["mine"]);
    // What the lost answer would have said is now known: the next write compares against it.
    await store.apply(weights("mine", 2));
    expect(
      requests
        .at(-1)
        ?.compare?.slice(2)
        .map((c) => c.mod_revision),
    ).toEqual(["10", "10"]);
  });

  it("reports a failed fence as lost leadership, once, without retrying", async () => {
    const lost: Error[] = [];
    const { client, requests } = fakeEtcd([
      loaded(),
      () => ({ header: header("9"), succeeded: false, responses: [rangeOf([]), rangeOf([]), rangeOf([])] }),
    ]);
    const store = await open(client, lost);
    await expect(store.apply(weights("mine", 1))).rejects.toBeInstanceOf(LeadershipLostError);
    expect(lost).toHaveLength(1);
    expect(requests).toHaveLength(2);
  });

  it("applies operations in call order even when an earlier one fails", async () => {
    const { client } = fakeEtcd([
      loaded(),
      // Handed over together, they are written as one batch; it fails, and each is written alone.
      () => {
        throw new Error("permanent");
      },
      () => {
        throw new Error("permanent");
      },
      written("10"),
    ]);
    const store = await open(client);
    const first = store.apply(weights("a", 1));
    const second = store.apply(weights("b", 1));
    await expect(first).rejects.toThrow("permanent");
    expect(await second).toBe(true);
    expect(store.current.weights.map((w) => w.role)).toEqual(["b"]);
  });

  it("splits a batch too big for one transaction into several, in order", async () => {
    const { client, requests } = fakeEtcd([loaded(), written("10"), written("11"), written("12")]);
    // Three compares of fence and <prefix>/registry, two keys: five ops.
    const store = await open(client, [], { maxOps: 5, maxBytes: 1 << 20 });
    const roles = ["a", "b", "c", "d", "e"];
    const changed = await Promise.all([
      store.apply(weights("first", 1)),
      ...roles.map((r) => store.apply(weights(r, 1))),
    ]);
    expect(changed.every(Boolean)).toBe(true);
    const keys = requests.slice(1).map((r) => r.success?.map((op) => op.request_put?.key?.toString().slice(3)));
    // Handed over together, the six share one batch of three transactions (none goes ahead alone);
    // being the first write, the last one also puts the tombstone at <prefix>/registry.
    expect(keys).toEqual([
      ["registry/weights/first", "registry/weights/a"],
      ["registry/weights/b", "registry/weights/c"],
      ["registry/weights/d", "registry/weights/e", "registry"],
    ]);
  });

  it("refuses every later write once a batch stopped after its first transaction", async () => {
    const { client, requests } = fakeEtcd([
      loaded(),
      written("10"),
      written("11"),
      () => {
        throw new Error("etcd said no");
      },
    ]);
    const store = await open(client, [], { maxOps: 5, maxBytes: 1 << 20 });
    await store.apply(weights("first", 1));
    const batch = ["a", "b", "c"].map((r) => store.apply(weights(r, 1)));
    for (const write of batch) await expect(write).rejects.toBeInstanceOf(PartlyStoredError);
    await expect(store.apply(weights("later", 1))).rejects.toBeInstanceOf(PartlyStoredError);
    expect(requests).toHaveLength(4);
  });
});

describe("chunkChanges", () => {
  it("keeps order and stays within the key and byte limits", () => {
    const changes = Array.from({ length: 10 }, (_, i) => ({
      path: `agents/a${i}`,
      value: Buffer.alloc(i === 4 ? 900 : 10),
    }));
    const chunks = chunkChanges(changes, { maxOps: 6, maxBytes: 1_000 });
    expect(chunks.flat()).toEqual(changes);
    expect(chunks.map((c) => c.length)).toEqual([3, 1, 1, 3, 2]);
  });
});
