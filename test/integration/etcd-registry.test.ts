import { create } from "@bufbuild/protobuf";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { type MasterInfo, MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import {
  applyRegistryOperation,
  emptyRegistry,
  type Registry,
  type RegistryOperation,
} from "../../src/core/registry/registry.js";
import { silentLogger } from "../../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator, LeadershipLostError } from "../../src/master/etcd/index.js";
import { readStoredRegistry } from "../../src/master/etcd/registry-read.js";
import { encodeRegistry } from "../../src/master/etcd/registry-value.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";

const masterInfo = (id: string): MasterInfo =>
  create(MasterInfoSchema, { id, hostname: "localhost", port: 5000, version: "test" });
const weights = (role: string, weight: number): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight })],
});
const quota = (role: string, cpus: number): RegistryOperation => ({
  kind: "update-quota",
  configs: [create(QuotaConfigSchema, { role, limits: { cpus: { value: cpus } } })],
});
const weightsOf = (registry: Registry) => registry.weights.map((w) => [w.role, w.weight]);

// How the registry lives in etcd; what every election backend promises of
// the registry across terms is in etcd-election-contract.test.ts.
describe("the registry in etcd", () => {
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
      electionTtlSeconds: 2,
      logger: silentLogger(),
    });
    closers.push(() => c.close());
    return c;
  };
  /** A plain etcd client, as an operator with etcdctl would have. */
  const operator = (etcd: EtcdServer): Etcd3 => {
    const c = new Etcd3({ hosts: [etcd.clientUrl] });
    closers.push(() => c.close());
    return c;
  };
  const stored = async (etcd: EtcdServer): Promise<Registry> => readStoredRegistry(operator(etcd), "/plateau/registry");

  it("stores the leader's writes under <prefix>/registry/, one key per entry", async () => {
    const etcd = await etcds.start();
    const leading = await coordinator(etcd).campaign(masterInfo("a"));
    expect(await leading.registry.apply(weights("prod", 2))).toBe(true);
    expect(await leading.registry.apply(quota("prod", 4))).toBe(true);
    const now = await stored(etcd);
    expect(weightsOf(now)).toEqual([["prod", 2]]);
    expect(now.quotas.map((q) => [q.role, q.limits.cpus?.value])).toEqual([["prod", 4]]);
    expect(await operator(etcd).getAll().prefix("/plateau/registry/").keys()).toEqual([
      "/plateau/registry/quotas/prod",
      "/plateau/registry/weights/prod",
    ]);
  });

  it("compare-and-set: a write after someone else changed the registry re-reads it and applies on top", async () => {
    const etcd = await etcds.start();
    const leading = await coordinator(etcd).campaign(masterInfo("a"));
    await leading.registry.apply(weights("prod", 2));
    // An operator restores a registry (an old backup, one value) behind the leader's back.
    const restored = applyRegistryOperation(emptyRegistry(), quota("dev", 1)).registry;
    await operator(etcd).put("/plateau/registry").value(encodeRegistry(restored));

    expect(await leading.registry.apply(weights("ci", 3))).toBe(true);
    const now = await stored(etcd);
    expect(weightsOf(now)).toEqual([["ci", 3]]);
    expect(now.quotas.map((q) => q.role)).toEqual(["dev"]);
    expect(weightsOf(leading.registry.current)).toEqual([["ci", 3]]);
  });

  it("refuses to lead on a registry it cannot read, saying where it is", async () => {
    const etcd = await etcds.start();
    await operator(etcd).put("/plateau/registry").value("not gzip");
    await expect(coordinator(etcd).campaign(masterInfo("a"))).rejects.toThrow(
      /registry at \/plateau\/registry in etcd cannot be read/,
    );
  });

  it("keeps the registry through an etcd crash and restart under a leader", async () => {
    const etcd = await etcds.start();
    const a = coordinator(etcd);
    const leadingA = await a.campaign(masterInfo("a"));
    await leadingA.registry.apply(weights("prod", 2));
    await etcd.kill();
    await etcd.restart();

    // Whether A still leads depends on how long the restart took: its
    // write either lands or fails for lost leadership, nothing else.
    const outcome = await leadingA.registry.apply(weights("ops", 1)).then(
      () => "written",
      (err: unknown) => (err instanceof LeadershipLostError ? "lost" : String(err)),
    );
    expect(["written", "lost"]).toContain(outcome);
    await leadingA.resign();
    const leadingB = await coordinator(etcd).campaign(masterInfo("b"));
    const before = weightsOf(leadingB.registry.current);
    expect(before).toEqual(
      outcome === "written"
        ? [
            ["ops", 1],
            ["prod", 2],
          ]
        : [["prod", 2]],
    );
    expect(await leadingB.registry.apply(weights("dev", 1))).toBe(true);
    expect(weightsOf(await stored(etcd))).toEqual([["dev", 1], ...before]);
  });
});
