import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CallSchema as OperatorCallSchema,
  Call_Type as OperatorCallType,
} from "../../gen/mesos/v1/master/master_pb.js";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  type Offer_OperationSchema,
  OperationState,
  Offer_Operation_Type as OperationType,
  type Resource,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import { formatResources, parseResources, unallocated } from "../../src/core/resources/index.js";
import { MasterHarness } from "../helpers/master-harness.js";
import { reserved, volume } from "../helpers/resources.js";

type Operation = MessageInitShape<typeof Offer_OperationSchema>;

function cluster(role = "prod") {
  const h = new MasterHarness();
  const agentId = h.registerAgent("agent-1", "cpus:4;mem:1024;disk:1000");
  const frameworkId = h.subscribe("sched", { roles: [role], capabilities: [{ type: Capability.MULTI_ROLE }] });
  h.allocate();
  return { h, agentId, frameworkId };
}

function latestOffer(h: MasterHarness, session = "sched"): Offer {
  const offers = h.schedulerEvents(session).flatMap((e) => e.offers?.offers ?? []);
  const offer = offers.at(-1);
  if (offer === undefined) throw new Error("no offer");
  return offer;
}

function accept(h: MasterHarness, frameworkId: string, offer: Offer, operations: Operation[], session = "sched") {
  return h.scheduler(
    session,
    {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACCEPT,
      accept: { offerIds: [offer.id!], operations, filters: { refuseSeconds: 0 } },
    },
    "call-1",
  );
}

function applyOperations(h: MasterHarness, session = "agent-1") {
  return h.agentEvents(session).flatMap((e) => (e.event.case === "applyOperation" ? [e.event.value] : []));
}

/** The agent answers every ApplyOperation it got with `state`. */
function agentAnswers(h: MasterHarness, state: OperationState, message = "") {
  for (const apply of applyOperations(h)) {
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "operationStatus",
          value: { frameworkId: apply.frameworkId, operationUuid: apply.operationUuid, status: { state, message } },
        },
      },
    });
  }
}

function operationUpdates(h: MasterHarness, session = "sched") {
  return h
    .schedulerEvents(session)
    .flatMap((e) => (e.updateOperationStatus?.status ? [e.updateOperationStatus.status] : []));
}

function operator(h: MasterHarness, call: MessageInitShape<typeof OperatorCallSchema>) {
  const { result, effects } = h.core.operate(create(OperatorCallSchema, call), h.now);
  h.apply(effects);
  return result;
}

const offered = (offer: Offer) => formatResources(unallocated(offer.resources));

describe("master core: dynamic reservations and volumes from ACCEPT", () => {
  it("reserves, creates a volume, and offers both again to the role", () => {
    const { h, agentId, frameworkId } = cluster();
    const offer = latestOffer(h);
    accept(h, frameworkId, offer, [
      {
        type: OperationType.RESERVE,
        id: { value: "op-reserve" },
        reserve: { resources: reserved("cpus:1;disk:100", "prod") },
      },
      { type: OperationType.CREATE, id: { value: "op-create" }, create: { volumes: volume("prod", "v1", "data") } },
    ]);
    expect(h.errors("sched")).toEqual([]);
    const sent = applyOperations(h);
    expect(sent.map((a) => a.operation?.type)).toEqual([OperationType.RESERVE, OperationType.CREATE]);
    expect(sent[0]?.frameworkId?.value).toBe(frameworkId);
    // The operator's view already shows the new total.
    const agents = operator(h, { type: OperatorCallType.GET_AGENTS });
    expect("code" in agents ? agents : formatResources(agents.getAgents?.agents[0]?.totalResources ?? [])).toBe(
      "cpus:3; mem:1024; disk:900; cpus(prod):1; disk(prod):36; disk(prod)[v1:data]:64",
    );
    agentAnswers(h, OperationState.OPERATION_FINISHED);
    const statuses = operationUpdates(h);
    expect(statuses.map((s) => [s.operationId?.value, OperationState[s.state]])).toEqual([
      ["op-reserve", "OPERATION_FINISHED"],
      ["op-create", "OPERATION_FINISHED"],
    ]);
    expect(statuses[0]?.agentId?.value).toBe(agentId);
    h.allocate();
    expect(offered(latestOffer(h))).toBe(
      "cpus:3; mem:1024; disk:900; cpus(prod):1; disk(prod):36; disk(prod)[v1:data]:64",
    );
  });

  it("keeps a reservation away from other roles", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-1", "cpus:4;mem:1024");
    const prod = h.subscribe("prod", { roles: ["prod"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    accept(
      h,
      prod,
      latestOffer(h, "prod"),
      [{ type: OperationType.RESERVE, reserve: { resources: reserved("cpus:2;mem:512", "prod") } }],
      "prod",
    );
    agentAnswers(h, OperationState.OPERATION_FINISHED);
    h.scheduler("prod", { frameworkId: { value: prod }, type: SchedulerCallType.TEARDOWN });
    h.subscribe("dev", { roles: ["dev"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    expect(offered(latestOffer(h, "dev"))).toBe("cpus:2; mem:512");
  });

  it("unreserves and destroys, giving the resources back unreserved", () => {
    const { h, frameworkId } = cluster();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.RESERVE, reserve: { resources: reserved("disk:100", "prod") } },
      { type: OperationType.CREATE, create: { volumes: volume("prod", "v1", "data") } },
    ]);
    h.allocate();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.DESTROY, destroy: { volumes: volume("prod", "v1", "data") } },
      { type: OperationType.UNRESERVE, unreserve: { resources: reserved("disk:100", "prod") } },
    ]);
    expect(h.errors("sched")).toEqual([]);
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:4; mem:1024; disk:1000");
  });

  it("refuses a bad operation with an error naming it, and keeps the rest of the ACCEPT", () => {
    const { h, frameworkId } = cluster();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.RESERVE, id: { value: "too-much" }, reserve: { resources: reserved("cpus:8", "prod") } },
      { type: OperationType.RESERVE, id: { value: "other-role" }, reserve: { resources: reserved("cpus:1", "dev") } },
      { type: OperationType.CREATE, id: { value: "unreserved" }, create: { volumes: volume("prod", "v1", "data") } },
      { type: OperationType.RESERVE, id: { value: "fine" }, reserve: { resources: reserved("mem:256", "prod") } },
    ]);
    const errors = h.errors("sched").map((e) => e.message);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/RESERVE needs cpus:8, which the offers \(.*\) do not have/);
    expect(errors[1]).toMatch(/only reserve for the role it was offered the resources in \('prod'\)/);
    expect(errors[2]).toMatch(/CREATE needs disk\(prod\):64/);
    expect(h.errors("sched").every((e) => e.callId === "call-1" && e.code === Error_Code.INVALID_ARGUMENT)).toBe(true);
    expect(operationUpdates(h).map((s) => [s.operationId?.value, OperationState[s.state]])).toEqual([
      ["too-much", "OPERATION_ERROR"],
      ["other-role", "OPERATION_ERROR"],
      ["unreserved", "OPERATION_ERROR"],
    ]);
    expect(applyOperations(h)).toHaveLength(1);
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:4; mem:768; disk:1000; mem(prod):256");
  });

  it("refuses to destroy a volume a task uses, and a second volume with the same id", () => {
    const { h, agentId, frameworkId } = cluster();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.RESERVE, reserve: { resources: reserved("disk:200", "prod") } },
      { type: OperationType.CREATE, create: { volumes: volume("prod", "v1", "data") } },
      {
        type: OperationType.LAUNCH,
        launch: {
          taskInfos: [
            {
              name: "t",
              taskId: { value: "t1" },
              agentId: { value: agentId },
              command: { value: "sleep 100" },
              resources: [...parseResources("cpus:1;mem:64"), ...volume("prod", "v1", "data")],
            },
          ],
        },
      },
    ]);
    expect(h.errors("sched")).toEqual([]);
    expect(h.agentEvents("agent-1").some((e) => e.event.case === "runTask")).toBe(true);
    h.allocate();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.CREATE, create: { volumes: volume("prod", "v1", "other") } },
    ]);
    expect(h.errors("sched").at(-1)?.message).toMatch(/volume with id 'v1' already exists/);
    // DESTROY of the volume in use: the volume is not offered while in use, so offer it by hand via the operator.
    const result = operator(h, {
      type: OperatorCallType.DESTROY_VOLUMES,
      destroyVolumes: { agentId: { value: agentId }, volumes: volume("prod", "v1", "data") },
    });
    expect("code" in result && result.message).toMatch(/in use by task t1/);
  });

  it("takes the agent's checkpoint as the truth when it fails an operation: offers rescinded, stream ended, re-registration decides", () => {
    const { h, agentId, frameworkId } = cluster();
    accept(h, frameworkId, latestOffer(h), [
      { type: OperationType.RESERVE, id: { value: "r" }, reserve: { resources: reserved("cpus:2", "prod") } },
    ]);
    h.allocate();
    const stale = latestOffer(h);
    expect(offered(stale)).toContain("cpus(prod):2");
    agentAnswers(h, OperationState.OPERATION_FAILED, "disk full");
    expect(operationUpdates(h).map((s) => [OperationState[s.state], s.message])).toEqual([
      ["OPERATION_FAILED", "disk full"],
    ]);
    expect(h.schedulerEvents("sched").some((e) => e.rescind?.offerId?.value === stale.id?.value)).toBe(true);
    expect(h.ended.has("agent-1")).toBe(true);
    // The agent comes back with what it has: nothing reserved.
    h.send("agent-1b", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              id: { value: agentId },
              hostname: "host-a",
              port: 5051,
              resources: parseResources("cpus:4;mem:1024;disk:1000"),
            },
            version: "t",
          },
        },
      },
    });
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:4; mem:1024; disk:1000");
  });
});

describe("master core: GET_ROLES", () => {
  it("shows each role's weight, quota, and what it has allocated, offered and reserved", () => {
    const { h, agentId } = cluster();
    operator(h, {
      type: OperatorCallType.RESERVE_RESOURCES,
      reserveResources: { agentId: { value: agentId }, resources: reserved("cpus:1", "ops") },
    });
    operator(h, {
      type: OperatorCallType.UPDATE_WEIGHTS,
      updateWeights: { weightInfos: [{ role: "prod", weight: 2 }] },
    });
    operator(h, {
      type: OperatorCallType.UPDATE_QUOTA,
      updateQuota: { quotaConfigs: [{ role: "prod", limits: { cpus: { value: 3 } } }] },
    });
    h.allocate();
    const result = operator(h, { type: OperatorCallType.GET_ROLES });
    if ("code" in result) throw new Error(result.message);
    const view = (result.getRoles?.roles ?? []).map((r) => ({
      name: r.name,
      weight: r.weight,
      frameworks: r.frameworks.length,
      allocated: formatResources(r.allocated),
      offered: formatResources(r.offered),
      reserved: formatResources(r.reserved),
      limits: Object.fromEntries(Object.entries(r.quotaLimits).map(([k, v]) => [k, v.value])),
    }));
    expect(view).toEqual([
      { name: "ops", weight: 1, frameworks: 0, allocated: "{}", offered: "{}", reserved: "cpus(ops):1", limits: {} },
      {
        name: "prod",
        weight: 2,
        frameworks: 1,
        allocated: "cpus:3; mem:1024; disk:1000",
        offered: "cpus:3; mem:1024; disk:1000",
        reserved: "{}",
        limits: { cpus: 3 },
      },
    ]);
  });
});

describe("master core: operator reservations and volumes", () => {
  it("reserves free resources, rescinding offers that hold them", () => {
    const { h, agentId } = cluster("dev");
    const offer = latestOffer(h);
    const result = operator(h, {
      type: OperatorCallType.RESERVE_RESOURCES,
      reserveResources: { agentId: { value: agentId }, resources: reserved("cpus:2;mem:512", "prod") },
    });
    expect("code" in result ? result.message : "ok").toBe("ok");
    expect(h.schedulerEvents("sched").some((e) => e.rescind?.offerId?.value === offer.id?.value)).toBe(true);
    expect(applyOperations(h).at(-1)?.frameworkId).toBeUndefined();
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:2; mem:512; disk:1000");
  });

  it("answers what was wrong: unknown agent, not enough free, malformed", () => {
    const { h, agentId } = cluster();
    const call = (resources: Resource[], id = agentId) =>
      operator(h, {
        type: OperatorCallType.RESERVE_RESOURCES,
        reserveResources: { agentId: { value: id }, resources },
      });
    const nope = call(reserved("cpus:1", "prod"), "nope");
    expect("code" in nope && [nope.code, nope.message]).toEqual([Error_Code.NOT_FOUND, "No agent nope"]);
    const big = call(reserved("cpus:10", "prod"));
    expect("code" in big && big.code).toBe(Error_Code.FAILED_PRECONDITION);
    const bad = call(parseResources("cpus:1"));
    expect("code" in bad && bad.code).toBe(Error_Code.INVALID_ARGUMENT);
    const noBody = operator(h, { type: OperatorCallType.CREATE_VOLUMES });
    expect("code" in noBody && noBody.message).toMatch(/create_volumes/);
  });

  it("creates and destroys volumes and unreserves, ending where it started", () => {
    const { h, agentId } = cluster();
    const agent = { value: agentId };
    const ok = (result: ReturnType<typeof operator>) => expect("code" in result ? result.message : "ok").toBe("ok");
    ok(
      operator(h, {
        type: OperatorCallType.RESERVE_RESOURCES,
        reserveResources: { agentId: agent, resources: reserved("disk:100", "prod") },
      }),
    );
    ok(
      operator(h, {
        type: OperatorCallType.CREATE_VOLUMES,
        createVolumes: { agentId: agent, volumes: volume("prod", "v9", "data") },
      }),
    );
    ok(
      operator(h, {
        type: OperatorCallType.DESTROY_VOLUMES,
        destroyVolumes: { agentId: agent, volumes: volume("prod", "v9", "data") },
      }),
    );
    ok(
      operator(h, {
        type: OperatorCallType.UNRESERVE_RESOURCES,
        unreserveResources: { agentId: agent, resources: reserved("disk:100", "prod") },
      }),
    );
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:4; mem:1024; disk:1000");
  });

  it("takes an agent's checkpointed reservations and volumes when it registers", () => {
    const h = new MasterHarness();
    h.send("agent-9", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: { hostname: "h", resources: parseResources("cpus:2;disk:500") },
            checkpointedResources: [...reserved("cpus:1", "prod"), ...volume("prod", "v1", "data")],
            version: "t",
          },
        },
      },
    });
    h.subscribe("sched", { roles: ["prod"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    expect(offered(latestOffer(h))).toBe("cpus:1; disk:436; cpus(prod):1; disk(prod)[v1:data]:64");
  });
});
