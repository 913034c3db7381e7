import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import {
  CallSchema as OperatorCallSchema,
  Call_Type as OperatorCallType,
} from "../../gen/mesos/v1/master/master_pb.js";
import {
  AgentInfoSchema,
  FrameworkInfo_Capability_Type as Capability,
  FrameworkInfoSchema,
  TaskState,
} from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { countersView } from "../../src/core/master/views.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
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
const quota = (role: string, cpus?: number) =>
  create(QuotaConfigSchema, { role, limits: cpus === undefined ? {} : { cpus: { value: cpus } } });

describe("registry operations", () => {
  it("say whether they changed anything", () => {
    const first = applyRegistryOperation(emptyRegistry(), {
      kind: "update-weights",
      weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 2 }],
    });
    expect(first.changed).toBe(true);
    expect(
      applyRegistryOperation(first.registry, {
        kind: "update-weights",
        weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 2 }],
      }).changed,
    ).toBe(false);
    const withQuota = applyRegistryOperation(first.registry, {
      kind: "update-quota",
      configs: [quota("eng", 4), quota("ops", 1)],
    });
    expect(withQuota.registry.quotas.map((q) => q.role)).toEqual(["eng", "ops"]);
    const removed = applyRegistryOperation(withQuota.registry, { kind: "update-quota", configs: [quota("ops")] });
    expect(removed.registry.quotas.map((q) => q.role)).toEqual(["eng"]);
    expect(withQuota.registry.quotas).toHaveLength(2); // the input is left as it was
  });
});

describe("registry operations on agents and frameworks", () => {
  const agent = (id: string, hostname = "h") => create(AgentInfoSchema, { id: { value: id }, hostname });
  const framework = (id: string, name = "fw") => create(FrameworkInfoSchema, { id: { value: id }, name, user: "u" });

  it("admits agents, marks them unreachable and back, and keeps gone ones out", () => {
    let r = emptyRegistry();
    const apply = (op: Parameters<typeof applyRegistryOperation>[1]) => {
      const next = applyRegistryOperation(r, op);
      r = next.registry;
      return next.changed;
    };
    expect(apply({ kind: "admit-agent", info: agent("a2") })).toBe(true);
    expect(apply({ kind: "admit-agent", info: agent("a1") })).toBe(true);
    expect(apply({ kind: "admit-agent", info: agent("a1") })).toBe(false);
    // A re-admission that changes nothing hands back the same registry, uncopied.
    expect(applyRegistryOperation(r, { kind: "admit-agent", info: agent("a1") }).registry).toBe(r);
    expect(r.agents.map((a) => a.id?.value)).toEqual(["a1", "a2"]);
    expect(apply({ kind: "mark-agent-unreachable", agentId: "a1", time: 5000 })).toBe(true);
    expect([
      r.agents.map((a) => a.id?.value),
      r.unreachable.map((m) => [m.info?.id?.value, m.time?.nanoseconds]),
    ]).toEqual([["a2"], [["a1", 5_000_000_000n]]]);
    expect(apply({ kind: "admit-agent", info: agent("a1", "h2") })).toBe(true);
    expect([r.agents.map((a) => a.hostname), r.unreachable]).toEqual([["h2", "h"], []]);
    expect(apply({ kind: "mark-agent-gone", agentId: "a2", time: 6000 })).toBe(true);
    expect(apply({ kind: "admit-agent", info: agent("a2") })).toBe(false);
    expect(r.gone.map((m) => m.info?.id?.value)).toEqual(["a2"]);
    expect(apply({ kind: "mark-agent-unreachable", agentId: "nobody", time: 1 })).toBe(false);
  });

  it("adds, updates and removes frameworks, keeping when their scheduler left", () => {
    let r = applyRegistryOperation(emptyRegistry(), { kind: "add-framework", info: framework("f1") }).registry;
    r = applyRegistryOperation(r, { kind: "framework-disconnected", frameworkId: "f1", time: 7000 }).registry;
    r = applyRegistryOperation(r, { kind: "add-framework", info: framework("f1", "renamed") }).registry;
    expect(r.frameworks.map((f) => [f.info?.name, f.disconnectedTime?.nanoseconds])).toEqual([
      ["renamed", 7_000_000_000n],
    ]);
    r = applyRegistryOperation(r, { kind: "framework-disconnected", frameworkId: "f1", time: undefined }).registry;
    expect(r.frameworks[0]?.disconnectedTime).toBeUndefined();
    expect(applyRegistryOperation(r, { kind: "remove-framework", frameworkId: "f1" }).registry.frameworks).toEqual([]);
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
    operate(h, {
      type: OperatorCallType.UPDATE_WEIGHTS,
      updateWeights: { weightInfos: [{ role: "eng", weight: -1 }] },
    });
    operate(h, {
      type: OperatorCallType.UPDATE_QUOTA,
      updateQuota: { quotaConfigs: [{ role: "eng", limits: { cpus: { value: 2 } } }] },
    });
    operate(h, {
      type: OperatorCallType.UPDATE_QUOTA,
      updateQuota: { quotaConfigs: [{ role: "*", limits: { cpus: { value: 2 } } }] },
    });
    expect(h.persisted.map((p) => p.kind)).toEqual(["update-weights", "update-quota"]);
  });

  it("starts with the weights and quota of a stored registry", () => {
    let registry = applyRegistryOperation(emptyRegistry(), {
      kind: "update-weights",
      weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 3 }],
    }).registry;
    registry = applyRegistryOperation(registry, { kind: "update-quota", configs: [quota("eng", 2)] }).registry;
    const h = new MasterHarness({ registry });
    const weights = operate(h, { type: OperatorCallType.GET_WEIGHTS });
    expect("code" in weights ? weights : weights.getWeights?.weightInfos.map((w) => [w.role, w.weight])).toEqual([
      ["eng", 3],
    ]);
    h.registerAgent("agent-1", "cpus:8;mem:4096");
    h.subscribe("sched", { roles: ["eng"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    const offer = h.schedulerEvents("sched").flatMap((e) => e.offers?.offers ?? [])[0];
    expect(offer?.resources.find((r) => r.name === "cpus")?.scalar?.value).toBe(2);
  });

  it("stores agents and frameworks as they come and go", () => {
    const h = new MasterHarness({ agentReregisterTimeoutSeconds: 10 });
    const agentId = h.registerAgent("agent-1");
    const frameworkId = h.subscribe("sched", { failoverTimeout: 60 });
    h.closed("sched");
    h.closed("agent-1");
    h.advance(76_000); // past the failover timeout, and five missed pings of 15 s
    h.apply(h.core.expire(h.now));
    expect(
      h.persisted.map((p) =>
        "agentId" in p ? `${p.kind} ${p.agentId}` : "frameworkId" in p ? `${p.kind} ${p.frameworkId}` : p.kind,
      ),
    ).toEqual([
      "admit-agent",
      "add-framework",
      `framework-disconnected ${frameworkId}`,
      `remove-framework ${frameworkId}`,
      `mark-agent-unreachable ${agentId}`,
    ]);
  });

  it("starts with the registry's agents and frameworks, waiting for them to come back", () => {
    let registry = emptyRegistry();
    registry = applyRegistryOperation(registry, {
      kind: "admit-agent",
      info: create(AgentInfoSchema, { id: { value: "a1" }, hostname: "h", port: 5051 }),
    }).registry;
    registry = applyRegistryOperation(registry, {
      kind: "admit-agent",
      info: create(AgentInfoSchema, { id: { value: "a2" }, hostname: "h2", port: 5051 }),
    }).registry;
    registry = applyRegistryOperation(registry, {
      kind: "add-framework",
      info: create(FrameworkInfoSchema, {
        id: { value: "f1" },
        name: "fw",
        user: "u",
        failoverTimeout: 3600,
        capabilities: [{ type: Capability.PARTITION_AWARE }],
      }),
    }).registry;
    const h = new MasterHarness({ registry, agentReregisterTimeoutSeconds: 30 });
    const state = operate(h, { type: OperatorCallType.GET_STATE });
    if ("code" in state) throw new Error(state.message);
    // Not re-registered yet: known only from the registry, as Mesos' recovered agents.
    expect(state.getState?.getAgents?.agents).toEqual([]);
    expect(state.getState?.getAgents?.recoveredAgents.map((a) => a.id?.value)).toEqual(["a1", "a2"]);
    expect(
      state.getState?.getFrameworks?.frameworks.map((f) => [f.frameworkInfo?.id?.value, f.active, f.recovered]),
    ).toEqual([["f1", false, true]]);
    // a1 comes back with its running task; the scheduler resubscribes and keeps it.
    h.send("agent-a1", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: { id: { value: "a1" }, hostname: "h", port: 5051 },
            tasks: [
              {
                name: "t",
                taskId: { value: "t1" },
                frameworkId: { value: "f1" },
                agentId: { value: "a1" },
                state: TaskState.TASK_RUNNING,
              },
            ],
            version: "t",
          },
        },
      },
    });
    const back = operate(h, { type: OperatorCallType.GET_AGENTS });
    if ("code" in back) throw new Error(back.message);
    expect(back.getAgents?.agents.map((a) => a.agentInfo?.id?.value)).toEqual(["a1"]);
    expect(back.getAgents?.recoveredAgents.map((a) => a.id?.value)).toEqual(["a2"]);
    h.scheduler("sched", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: "f1" },
      subscribe: { frameworkInfo: { id: { value: "f1" }, name: "fw", user: "u", failoverTimeout: 3600 } },
    });
    expect(h.schedulerEvents("sched")[0]?.subscribed?.frameworkId?.value).toBe("f1");
    h.scheduler("sched", { type: SchedulerCallType.RECONCILE, frameworkId: { value: "f1" }, reconcile: { tasks: [] } });
    expect(
      h
        .schedulerEvents("sched")
        .flatMap((e) => (e.update?.status ? [[e.update.status.taskId?.value, TaskState[e.update.status.state]]] : [])),
    ).toEqual([["t1", "TASK_RUNNING"]]);
    // A task on a2, which has not come back yet, gets no answer rather than a wrong one.
    h.scheduler("sched", {
      type: SchedulerCallType.RECONCILE,
      frameworkId: { value: "f1" },
      reconcile: { tasks: [{ taskId: { value: "t9" }, agentId: { value: "a2" } }] },
    });
    expect(h.schedulerEvents("sched").some((e) => e.update?.status?.taskId?.value === "t9")).toBe(false);
    // Nor does a task named without its agent while any agent is still expected (Mesos too).
    h.scheduler("sched", {
      type: SchedulerCallType.RECONCILE,
      frameworkId: { value: "f1" },
      reconcile: { tasks: [{ taskId: { value: "t8" } }] },
    });
    expect(h.schedulerEvents("sched").some((e) => e.update?.status?.taskId?.value === "t8")).toBe(false);
    // a2 never comes back: marked unreachable once the re-register timeout passes.
    h.advance(31_000);
    h.apply(h.core.expire(h.now));
    expect(
      h.persisted.filter((p) => p.kind === "mark-agent-unreachable").map((p) => ("agentId" in p ? p.agentId : "")),
    ).toEqual(["a2"]);
    const after = operate(h, { type: OperatorCallType.GET_AGENTS });
    if ("code" in after) throw new Error(after.message);
    expect(after.getAgents?.recoveredAgents).toEqual([]);
    expect(countersView(h.core.state).unreachableAgents).toBe(1);
    h.scheduler("sched", {
      type: SchedulerCallType.RECONCILE,
      frameworkId: { value: "f1" },
      reconcile: { tasks: [{ taskId: { value: "t9" }, agentId: { value: "a2" } }] },
    });
    expect(
      h.schedulerEvents("sched").find((e) => e.update?.status?.taskId?.value === "t9")?.update?.status?.state,
    ).toBe(TaskState.TASK_LOST);
  });

  it("MARK_AGENT_GONE ends the agent's tasks, stores it, and keeps it out for good", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("agent-1");
    const frameworkId = h.subscribe("sched", { capabilities: [{ type: Capability.PARTITION_AWARE }] });
    h.allocate();
    const offer = h.schedulerEvents("sched").flatMap((e) => e.offers?.offers ?? [])[0];
    h.scheduler("sched", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACCEPT,
      accept: {
        offerIds: [offer!.id!],
        operations: [
          {
            type: 1,
            launch: {
              taskInfos: [
                {
                  name: "t",
                  taskId: { value: "t1" },
                  agentId: { value: agentId },
                  resources: offer!.resources.filter((r) => r.name === "cpus"),
                  command: { value: "sleep 9" },
                },
              ],
            },
          },
        ],
      },
    });
    expect(
      "code" in operate(h, { type: OperatorCallType.MARK_AGENT_GONE, markAgentGone: { agentId: { value: "nobody" } } }),
    ).toBe(true);
    const result = operate(h, {
      type: OperatorCallType.MARK_AGENT_GONE,
      markAgentGone: { agentId: { value: agentId } },
    });
    expect("code" in result ? result.message : "ok").toBe("ok");
    const update = h.schedulerEvents("sched").find((e) => e.update?.status?.taskId?.value === "t1")?.update?.status;
    expect([update?.state, update?.reason]).toEqual([
      TaskState.TASK_GONE_BY_OPERATOR,
      31 /* REASON_AGENT_REMOVED_BY_OPERATOR */,
    ]);
    expect(h.persisted.some((p) => p.kind === "mark-agent-gone")).toBe(true);
    expect(h.errors("agent-1").at(-1)?.fatal).toBe(true);
    // The agent is told to stop the framework's tasks before it is cut off.
    expect(
      h
        .agentEvents("agent-1")
        .some((e) => e.event.case === "shutdownFramework" && e.event.value.frameworkId?.value === frameworkId),
    ).toBe(true);
    // It cannot come back, not even after a master restart.
    h.send("agent-1b", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: { agentInfo: { id: { value: agentId }, hostname: "host-a", port: 5051 }, version: "t" },
        },
      },
    });
    expect(h.errors("agent-1b").at(-1)?.message).toMatch(/marked gone/);
    let registry = applyRegistryOperation(emptyRegistry(), {
      kind: "admit-agent",
      info: create(AgentInfoSchema, { id: { value: agentId }, hostname: "host-a" }),
    }).registry;
    registry = applyRegistryOperation(registry, { kind: "mark-agent-gone", agentId, time: 1 }).registry;
    const restarted = new MasterHarness({ registry });
    restarted.send("agent-1c", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: { agentInfo: { id: { value: agentId }, hostname: "host-a", port: 5051 }, version: "t" },
        },
      },
    });
    expect(restarted.errors("agent-1c").at(-1)?.message).toMatch(/marked gone/);
  });

  it("keeps the maintenance schedule, validated as Mesos does, across a restart", () => {
    const h = new MasterHarness();
    const window = (machines: Array<{ hostname?: string; ip?: string }>, durationSeconds = 3600) => ({
      machineIds: machines,
      unavailability: {
        start: { nanoseconds: 1_800_000_000_000_000_000n },
        duration: { nanoseconds: BigInt(durationSeconds) * 1_000_000_000n },
      },
    });
    const update = (windows: ReturnType<typeof window>[]) =>
      operate(h, {
        type: OperatorCallType.UPDATE_MAINTENANCE_SCHEDULE,
        updateMaintenanceSchedule: { schedule: { windows } },
      });
    const refusal = (result: ReturnType<typeof update>) => ("code" in result ? result.message : "accepted");
    expect(refusal(update([window([])]))).toMatch(/window is empty/);
    expect(refusal(update([window([{}])]))).toMatch(/Both 'hostname' and 'ip'/);
    expect(refusal(update([window([{ ip: "300.1.1.1" }])]))).toMatch(/not an IPv4 address/);
    expect(refusal(update([window([{ hostname: "A" }]), window([{ hostname: "a" }])]))).toMatch(/more than once/);
    expect(refusal(update([window([{ hostname: "x" }], -1)]))).toMatch(/negative/);
    expect(h.persisted.filter((p) => p.kind === "update-maintenance-schedule")).toHaveLength(0);
    expect(refusal(update([window([{ hostname: "Rack1-Node1" }, { ip: "10.0.0.2" }])]))).toBe("accepted");
    const status = operate(h, { type: OperatorCallType.GET_MAINTENANCE_STATUS });
    expect(
      "code" in status
        ? []
        : status.getMaintenanceStatus?.status?.drainingMachines.map((m) => m.id?.hostname || m.id?.ip),
    ).toEqual(["rack1-node1", "10.0.0.2"]);
    const stored = h.persisted.find((p) => p.kind === "update-maintenance-schedule");
    const registry = applyRegistryOperation(emptyRegistry(), stored as RegistryOperation).registry;
    const restarted = new MasterHarness({ registry });
    const schedule = operate(restarted, { type: OperatorCallType.GET_MAINTENANCE_SCHEDULE });
    expect(
      "code" in schedule
        ? []
        : schedule.getMaintenanceSchedule?.schedule?.windows.flatMap((w) =>
            w.machineIds.map((m) => m.hostname || m.ip),
          ),
    ).toEqual(["rack1-node1", "10.0.0.2"]);
  });
});
