import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  AgentInfoSchema,
  FrameworkInfoSchema,
  Offer_OperationSchema,
  OperationState,
  Offer_Operation_Type as OperationType,
  type Resource,
  TaskInfoSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type AgentCore, type AgentEffect, createAgentCore } from "../../src/core/agent/agent-core.js";
import { createCounterIds } from "../../src/core/clock.js";
import { formatResources, parseResources } from "../../src/core/resources/index.js";
import { reserved, volume } from "../helpers/resources.js";

const uuidOf = (n: number) => Uint8Array.of(n);

function core(checkpointedResources: Resource[] = []): AgentCore {
  const c = createAgentCore({
    workDir: "/work/",
    agentInfo: create(AgentInfoSchema, {
      hostname: "h",
      port: 5051,
      resources: parseResources("cpus:4;mem:1024;disk:1000"),
    }),
    version: "test",
    ids: createCounterIds("c"),
    uuid: () => new Uint8Array(16),
    checkpointedResources,
  });
  c.registered("agent-1", 0);
  return c;
}

const reserve = (resources: Resource[]) =>
  create(Offer_OperationSchema, { type: OperationType.RESERVE, reserve: { resources } });
const createVolume = (volumes: Resource[]) =>
  create(Offer_OperationSchema, { type: OperationType.CREATE, create: { volumes } });
const destroyVolume = (volumes: Resource[]) =>
  create(Offer_OperationSchema, { type: OperationType.DESTROY, destroy: { volumes } });

function statuses(effects: AgentEffect[]) {
  return effects.flatMap((e) =>
    e.kind === "to-master" && e.call.call.case === "operationStatus"
      ? [[OperationState[e.call.call.value.status?.state ?? 0], e.call.call.value.status?.message]]
      : [],
  );
}

const checkpointed = (c: AgentCore) => formatResources(c.registration().checkpointedResources as Resource[]);

describe("agent core: operations on its resources", () => {
  it("applies a reservation, has it checkpointed, then tells the master", () => {
    const c = core();
    const effects = c.applyOperation("fw", reserve(reserved("cpus:1", "prod")), uuidOf(1));
    expect(effects).toEqual([
      expect.objectContaining({ kind: "apply-operation", createVolumes: [], destroyVolumes: [] }),
    ]);
    const apply = effects[0] as AgentEffect & { kind: "apply-operation" };
    expect(formatResources(apply.checkpointed)).toBe("cpus(prod):1");
    expect(statuses(c.operationApplied(uuidOf(1)))).toEqual([["OPERATION_FINISHED", ""]]);
    expect(checkpointed(c)).toBe("cpus(prod):1");
  });

  it("creates volume directories under the work dir by role, and removes them on DESTROY", () => {
    const c = core(reserved("disk:100", "eng/web"));
    const made = c.applyOperation(undefined, createVolume(volume("eng/web", "v1", "data")), uuidOf(2));
    expect(made).toEqual([
      expect.objectContaining({ kind: "apply-operation", createVolumes: ["/work/volumes/roles/eng web/v1"] }),
    ]);
    c.operationApplied(uuidOf(2));
    expect(checkpointed(c)).toBe("disk(eng/web):36; disk(eng/web)[v1:data]:64");
    const gone = c.applyOperation(undefined, destroyVolume(volume("eng/web", "v1", "data")), uuidOf(3));
    expect(gone).toEqual([
      expect.objectContaining({ kind: "apply-operation", destroyVolumes: ["/work/volumes/roles/eng web/v1"] }),
    ]);
  });

  it("fails an operation on resources it does not have, changing nothing", () => {
    const c = core();
    expect(statuses(c.applyOperation("fw", reserve(reserved("cpus:9", "prod")), uuidOf(4)))).toEqual([
      ["OPERATION_FAILED", expect.stringMatching(/does not have cpus:9/)],
    ]);
    expect(checkpointed(c)).toBe("{}");
  });

  it("undoes the operation when the shell could not carry it out", () => {
    const c = core(reserved("disk:100", "prod"));
    c.applyOperation("fw", createVolume(volume("prod", "v1", "data")), uuidOf(5));
    const effects = c.operationApplied(uuidOf(5), "mkdir failed: EACCES");
    expect(effects[0]).toEqual(expect.objectContaining({ kind: "checkpoint-resources" }));
    expect(statuses(effects)).toEqual([["OPERATION_FAILED", "mkdir failed: EACCES"]]);
    expect(checkpointed(c)).toBe("disk(prod):100");
  });

  it("links a task's volumes into its sandbox before launching its executor", () => {
    const c = core([...reserved("disk:100", "prod"), ...volume("prod", "v1", "data")]);
    const task = create(TaskInfoSchema, {
      name: "t",
      taskId: { value: "t1" },
      command: { value: "ls data" },
      resources: [...parseResources("cpus:1"), ...volume("prod", "v1", "data")],
    });
    const effects = c.runTask(create(FrameworkInfoSchema, { id: { value: "fw" }, user: "u", name: "n" }), task, 0);
    expect(effects.map((e) => e.kind)).toEqual(["link-volumes", "launch-executor"]);
    const link = effects[0] as AgentEffect & { kind: "link-volumes" };
    expect(link.volumes).toEqual([{ hostPath: "/work/volumes/roles/prod/v1", containerPath: "data" }]);
    expect(link.sandbox).toBe((effects[1] as AgentEffect & { kind: "launch-executor" }).launch.sandbox);
  });
});
