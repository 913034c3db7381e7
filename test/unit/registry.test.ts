import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { CallSchema as OperatorCallSchema, Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import { FrameworkInfo_Capability_Type as Capability } from "../../gen/mesos/v1/mesos_pb.js";
import { applyRegistryOperation, emptyRegistry } from "../../src/core/registry/registry.js";
import { openEmbeddedRegistry } from "../../src/master/registry.js";
import { MasterHarness } from "../helpers/master-harness.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "plateau-registry-"));
  dirs.push(d);
  return d;
};
const quota = (role: string, cpus?: number) => create(QuotaConfigSchema, { role, limits: cpus === undefined ? {} : { cpus: { value: cpus } } });

describe("registry operations", () => {
  it("say whether they changed anything", () => {
    const first = applyRegistryOperation(emptyRegistry(), { kind: "update-weights", weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 2 }] });
    expect(first.changed).toBe(true);
    expect(applyRegistryOperation(first.registry, { kind: "update-weights", weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 2 }] }).changed).toBe(false);
    const withQuota = applyRegistryOperation(first.registry, { kind: "update-quota", configs: [quota("eng", 4), quota("ops", 1)] });
    expect(withQuota.registry.quotas.map((q) => q.role)).toEqual(["eng", "ops"]);
    const removed = applyRegistryOperation(withQuota.registry, { kind: "update-quota", configs: [quota("ops")] });
    expect(removed.registry.quotas.map((q) => q.role)).toEqual(["eng"]);
    expect(withQuota.registry.quotas).toHaveLength(2); // the input is left as it was
  });
});

describe("embedded registry", () => {
  it("survives reopening, and writes nothing for a change that changes nothing", async () => {
    const dir = tempDir();
    const store = openEmbeddedRegistry(dir);
    expect(await store.apply({ kind: "update-quota", configs: [quota("eng", 4)] })).toBe(true);
    expect(await store.apply({ kind: "update-quota", configs: [quota("eng", 4)] })).toBe(false);
    const reopened = openEmbeddedRegistry(dir);
    expect(reopened.current.quotas.map((q) => [q.role, q.limits.cpus?.value])).toEqual([["eng", 4]]);
    expect(reopened.location).toBe(join(dir, "registry.binpb"));
  });

  it("refuses to start from a registry it cannot read, saying what to do", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "registry.binpb"), Buffer.from([0xff, 0xff, 0xff]));
    expect(() => openEmbeddedRegistry(dir)).toThrow(/cannot be read.*move it away to start empty/);
  });

  it("lives in memory without a work dir", async () => {
    const store = openEmbeddedRegistry(undefined);
    expect(store.location).toBe("memory");
    expect(await store.apply({ kind: "update-quota", configs: [quota("eng", 1)] })).toBe(true);
  });
});

describe("master core and the registry", () => {
  const operate = (h: MasterHarness, call: MessageInitShape<typeof OperatorCallSchema>) => {
    const { result, effects } = h.core.operate(create(OperatorCallSchema, call), h.now);
    h.apply(effects);
    return result;
  };

  it("asks to store accepted weight and quota changes, and nothing for refused ones", () => {
    const h = new MasterHarness();
    operate(h, { type: OperatorCallType.UPDATE_WEIGHTS, updateWeights: { weightInfos: [{ role: "eng", weight: 2 }] } });
    operate(h, { type: OperatorCallType.UPDATE_WEIGHTS, updateWeights: { weightInfos: [{ role: "eng", weight: -1 }] } });
    operate(h, { type: OperatorCallType.UPDATE_QUOTA, updateQuota: { quotaConfigs: [{ role: "eng", limits: { cpus: { value: 2 } } }] } });
    operate(h, { type: OperatorCallType.UPDATE_QUOTA, updateQuota: { quotaConfigs: [{ role: "*", limits: { cpus: { value: 2 } } }] } });
    expect(h.persisted.map((p) => p.kind)).toEqual(["update-weights", "update-quota"]);
  });

  it("starts with the weights and quota of a stored registry", () => {
    let registry = applyRegistryOperation(emptyRegistry(), { kind: "update-weights", weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 3 }] }).registry;
    registry = applyRegistryOperation(registry, { kind: "update-quota", configs: [quota("eng", 2)] }).registry;
    const h = new MasterHarness({ registry });
    const weights = operate(h, { type: OperatorCallType.GET_WEIGHTS });
    expect("code" in weights ? weights : weights.getWeights?.weightInfos.map((w) => [w.role, w.weight])).toEqual([["eng", 3]]);
    h.registerAgent("agent-1", "cpus:8;mem:4096");
    h.subscribe("sched", { roles: ["eng"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    const offer = h.schedulerEvents("sched").flatMap((e) => e.offers?.offers ?? [])[0];
    expect(offer?.resources.find((r) => r.name === "cpus")?.scalar?.value).toBe(2);
  });
});
