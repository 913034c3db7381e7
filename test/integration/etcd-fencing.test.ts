import { Worker } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { type MasterInfo, MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { Registry, RegistryOperation } from "../../src/core/registry/registry.js";
import { silentLogger } from "../../src/log.js";
import { openFencedRegistry } from "../../src/master/etcd/fenced-registry.js";
import {
  createEtcdCoordinator,
  type EtcdCoordinator,
  type Leadership,
  LeadershipLostError,
} from "../../src/master/etcd/index.js";
import { readStoredRegistry } from "../../src/master/etcd/registry-read.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";

const TTL = 2;
const masterInfo = (id: string): MasterInfo =>
  create(MasterInfoSchema, { id, hostname: "localhost", port: 5000, version: "test" });
const weights = (role: string, weight: number): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight })],
});
const roles = (registry: Registry) => registry.weights.map((w) => w.role);

/**
 * Blocks this process's event loop, as if it were stopped with SIGSTOP,
 * until etcd has expired the lease and deleted `key`: no timer, keep-alive
 * or socket callback of this process runs meanwhile. A worker thread, whose
 * event loop is its own, asks etcd's JSON gateway and wakes us.
 */
function freezeUntilDeleted(clientUrl: string, key: string, maxMs: number): void {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { workerData } = require("node:worker_threads");
    const { flag, url, key } = workerData;
    (async () => {
      for (;;) {
        const response = await fetch(url + "/v3/kv/range", { method: "POST", body: JSON.stringify({ key: Buffer.from(key).toString("base64") }) }).catch(() => undefined);
        const body = response === undefined ? undefined : await response.json().catch(() => undefined);
        if (body !== undefined && body.kvs === undefined) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    })();
    `,
    { eval: true, workerData: { flag, url: clientUrl, key } },
  );
  Atomics.wait(flag, 0, 0, maxMs);
  void worker.terminate();
  if (Atomics.load(flag, 0) !== 1) throw new Error(`etcd did not delete ${key} within ${maxMs} ms`);
}

// etcd's own ways of deposing a leader; the fencing every backend promises
// (a lease that expires) is in etcd-election-contract.test.ts.
describe("fencing: a deposed leader cannot write", () => {
  const etcds = new EtcdScope();
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    // Last opened, first closed: a lease goes before its client.
    for (const close of closers.splice(0).reverse()) await close();
    await etcds.cleanup();
  });
  const coordinator = (etcd: EtcdServer): EtcdCoordinator => {
    const c = createEtcdCoordinator({
      endpoints: [etcd.endpoint],
      prefix: "/plateau",
      electionTtlSeconds: TTL,
      logger: silentLogger(),
    });
    closers.push(() => c.close());
    return c;
  };
  const operator = (etcd: EtcdServer): Etcd3 => {
    const c = new Etcd3({ hosts: [etcd.clientUrl] });
    closers.push(() => c.close());
    return c;
  };
  const storedRoles = async (etcd: EtcdServer): Promise<string[]> =>
    roles(await readStoredRegistry(operator(etcd), "/plateau/registry"));
  /** The key that leads and its lease, as an operator would find them. */
  const leaderKv = async (etcd: EtcdServer) => {
    const response = await operator(etcd).kv.range({
      key: Buffer.from("/plateau/election/"),
      range_end: Buffer.from("/plateau/election0"),
      sort_target: "Create",
      sort_order: "Ascend",
      limit: 1,
    });
    const kv = response.kvs[0];
    if (kv === undefined) throw new Error("no leader");
    return kv;
  };
  const leaderKey = async (etcd: EtcdServer): Promise<string> => (await leaderKv(etcd)).key.toString();

  it("a leader frozen past its TTL and then resumed is refused by etcd itself, and a new leader takes over", async () => {
    const etcd = await etcds.start();
    const leadingA = await coordinator(etcd).campaign(masterInfo("a"));
    await leadingA.registry.apply(weights("before", 1));

    // Frozen until etcd expired A's lease, then the write goes out at once,
    // before any of A's timers could notice: only etcd's compare stands in
    // its way.
    freezeUntilDeleted(etcd.clientUrl, await leaderKey(etcd), 30_000);
    const write = leadingA.registry.apply(weights("from-a", 1));
    await expect(write).rejects.toBeInstanceOf(LeadershipLostError);
    await expect(write).rejects.toThrow(/etcd refused the registry write/);
    expect(await leadingA.lost).toBeInstanceOf(LeadershipLostError);

    const leadingB = await coordinator(etcd).campaign(masterInfo("b"));
    expect(await leadingB.registry.apply(weights("from-b", 1))).toBe(true);
    expect(await storedRoles(etcd)).toEqual(["before", "from-b"]);
  });

  it("the fence alone refuses a write once the campaign key is gone, with no other sign of loss", async () => {
    const etcd = await etcds.start();
    const client = operator(etcd);
    const lease = client.lease(30);
    const leaseId = await lease.grant();
    closers.push(() => lease.revoke());
    const put = await lease.put("/plateau/election/test").value("{}").exec();
    const fence = { key: "/plateau/election/test", createRevision: put.header.revision, leaseId };
    const fenceFailures: Error[] = [];
    const { store: registry } = await openFencedRegistry({
      client,
      fence,
      key: "/plateau/registry",
      isLost: () => undefined,
      fenceFailed: (err) => fenceFailures.push(err),
      transientRetryMs: 1_000,
    });
    expect(await registry.apply(weights("first", 1))).toBe(true);

    // The same key, recreated: same name and lease, a new create revision.
    await client.delete().key("/plateau/election/test");
    await lease.put("/plateau/election/test").value("{}");
    await expect(registry.apply(weights("second", 1))).rejects.toBeInstanceOf(LeadershipLostError);
    expect(fenceFailures).toHaveLength(1);
    expect(await storedRoles(etcd)).toEqual(["first"]);
  });

  it("an operator deleting the campaign key deposes the leader", async () => {
    const etcd = await etcds.start();
    const leading = await coordinator(etcd).campaign(masterInfo("a"));
    await operator(etcd).delete().prefix("/plateau/election/");
    expect((await leading.lost).message).toMatch(/deleted/);
    await expect(leading.registry.apply(weights("late", 1))).rejects.toBeInstanceOf(LeadershipLostError);
  });

  it("etcd unreachable for longer than the TTL: the leader steps down, and campaigns again once etcd is back", async () => {
    const etcd = await etcds.start();
    const a = coordinator(etcd);
    const leading = await a.campaign(masterInfo("a"));
    await leading.registry.apply(weights("before", 1));
    etcd.pause();
    expect(await leading.lost).toBeInstanceOf(LeadershipLostError);
    etcd.resume();
    // The client may still hold etcd for down for a moment: campaign until it works.
    let again: Leadership | undefined;
    for (let attempt = 0; again === undefined && attempt < 50; attempt++) {
      again = await a.campaign(masterInfo("a")).catch(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      });
    }
    if (again === undefined) throw new Error("could not campaign again after etcd came back");
    expect(again.epoch).toBeGreaterThan(leading.epoch);
    expect(roles(again.registry.current)).toEqual(["before"]);
  });

  it("resigning deletes the campaign key at once rather than leaving it to the TTL", async () => {
    const etcd = await etcds.start();
    const leading: Leadership = await coordinator(etcd).campaign(masterInfo("a"));
    await leading.resign();
    expect(await operator(etcd).getAll().prefix("/plateau/election/").keys()).toEqual([]);
  });
});
