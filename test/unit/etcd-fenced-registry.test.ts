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
import {
  applyRegistryOperation,
  emptyRegistry,
  type Registry,
  type RegistryOperation,
} from "../../src/core/registry/registry.js";
import { LeadershipLostError } from "../../src/master/etcd/errors.js";
import { openFencedRegistry } from "../../src/master/etcd/fenced-registry.js";
import { encodeRegistry } from "../../src/master/etcd/registry-value.js";

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
const registryKv = (registry: Registry, modRevision: string) =>
  kv("/p/registry", { value: encodeRegistry(registry), mod_revision: modRevision });
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

const loaded =
  (registry: Registry | undefined, modRevision = "3") =>
  () => ({
    header: header("9"),
    succeeded: true,
    responses: [rangeOf(registry === undefined ? [] : [registryKv(registry, modRevision)])],
  });
const casFailed = (registry: Registry, modRevision: string) => () => ({
  header: header("9"),
  succeeded: false,
  responses: [rangeOf([campaignKv]), rangeOf([registryKv(registry, modRevision)])],
});
const written = (revision: string) => () => ({ header: header(revision), succeeded: true, responses: [] });

const open = (client: Etcd3, lost: Error[] = []) =>
  openFencedRegistry({
    client,
    fence,
    key: "/p/registry",
    isLost: () => undefined,
    fenceFailed: (e) => lost.push(e),
    transientRetryMs: 5_000,
  }).then((o) => o.store);

describe("the fenced registry store", () => {
  it("compares the campaign key's create revision and lease and the registry's mod revision in every write", async () => {
    const { client, requests } = fakeEtcd([loaded(undefined), written("10"), written("11")]);
    const store = await open(client);
    await store.apply(weights("a", 1));
    await store.apply(weights("b", 1));
    const compares = requests
      .slice(1)
      .map((r) => r.compare?.map((c) => [c.key?.toString(), c.target, c.create_revision ?? c.lease ?? c.mod_revision]));
    expect(compares).toEqual([
      [
        [fence.key, "Create", "5"],
        [fence.key, "Lease", "1"],
        ["/p/registry", "Mod", "0"],
      ],
      [
        [fence.key, "Create", "5"],
        [fence.key, "Lease", "1"],
        ["/p/registry", "Mod", "10"],
      ],
    ]);
  });

  it("gives up after a bounded number of conflicting writes by someone else", async () => {
    const other = (n: number) => applyRegistryOperation(emptyRegistry(), weights("other", n)).registry;
    const { client, requests } = fakeEtcd([
      loaded(undefined),
      ...[1, 2, 3, 4, 5, 6].map((n) => casFailed(other(n), String(20 + n))),
    ]);
    const store = await open(client);
    await expect(store.apply(weights("mine", 1))).rejects.toThrow(/kept changing/);
    expect(requests).toHaveLength(7);
  });

  it("recognises its own write when a retried transaction had committed the first time", async () => {
    const mine = applyRegistryOperation(emptyRegistry(), weights("mine", 1)).registry;
    const { client } = fakeEtcd([
      loaded(undefined),
      () => {
        throw new GRPCUnavailableError("the answer was lost");
      },
      casFailed(mine, "10"),
    ]);
    const store = await open(client);
    expect(await store.apply(weights("mine", 1))).toBe(true);
    expect(store.current.weights.map((w) => w.role)).toEqual(["mine"]);
  });

  it("reports a failed fence as lost leadership, once, without retrying", async () => {
    const lost: Error[] = [];
    const { client, requests } = fakeEtcd([
      loaded(undefined),
      () => ({ header: header("9"), succeeded: false, responses: [rangeOf([]), rangeOf([])] }),
    ]);
    const store = await open(client, lost);
    await expect(store.apply(weights("mine", 1))).rejects.toBeInstanceOf(LeadershipLostError);
    expect(lost).toHaveLength(1);
    expect(requests).toHaveLength(2);
  });

  it("applies operations in call order even when an earlier one fails", async () => {
    const { client } = fakeEtcd([
      loaded(undefined),
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
});
