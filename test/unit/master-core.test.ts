import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CallSchema as OperatorCallSchema,
  Call_Type as OperatorCallType,
} from "../../gen/mesos/v1/master/master_pb.js";
import { type Offer, TaskState, TaskStatus_Reason, TaskStatus_Source } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type, Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import { parseAttributes, parseResources } from "../../src/core/resources/index.js";
import { MasterHarness } from "../helpers/master-harness.js";

function setup() {
  const h = new MasterHarness();
  const agentId = h.registerAgent("agent-1");
  const frameworkId = h.subscribe("sched-1");
  h.allocate();
  const offers = h.schedulerEvents("sched-1").flatMap((e) => e.offers?.offers ?? []);
  return { h, agentId, frameworkId, offer: offers[0] as Offer, offers };
}

function launch(
  h: MasterHarness,
  frameworkId: string,
  offer: Offer,
  tasks: Array<{ id: string; resources?: string; agentId?: string; command?: string }>,
  session = "sched-1",
) {
  return h.scheduler(session, {
    frameworkId: { value: frameworkId },
    type: SchedulerCallType.ACCEPT,
    accept: {
      offerIds: [offer.id!],
      operations: [
        {
          type: 1, // LAUNCH
          launch: {
            taskInfos: tasks.map((t) => ({
              name: t.id,
              taskId: { value: t.id },
              agentId: { value: t.agentId ?? offer.agentId?.value ?? "" },
              resources: parseResources(t.resources ?? "cpus:1;mem:128"),
              command: { value: t.command ?? "echo hi" },
            })),
          },
        },
      ],
    },
  });
}

function updates(h: MasterHarness, session = "sched-1") {
  return h.schedulerEvents(session).flatMap((e) => (e.update?.status ? [e.update.status] : []));
}

describe("master core: a task's journey", () => {
  it("offers an agent's resources to a subscribed framework", () => {
    const { h, agentId, offers } = setup();
    expect(offers).toHaveLength(1);
    expect(offers[0]?.agentId?.value).toBe(agentId);
    expect(offers[0]?.hostname).toBe("host-a");
    expect(offers[0]?.allocationInfo?.role).toBe("*");
    expect([
      offers[0]?.url?.scheme,
      offers[0]?.url?.address?.hostname,
      offers[0]?.url?.address?.port,
      offers[0]?.url?.path,
    ]).toEqual(["http", "host-a", 5051, "/slave(1)"]);
    expect(h.schedulerEvents("sched-1")[0]?.subscribed?.heartbeatIntervalSeconds).toBe(15);
  });

  it("launches a task on the agent, relays updates and acknowledgements", () => {
    const { h, frameworkId, offer, agentId } = setup();
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    const run = h.agentEvents("agent-1").find((e) => e.event.case === "runTask");
    expect(run?.event.case === "runTask" && run.event.value.task?.taskId?.value).toBe("t1");

    const uuid = new Uint8Array(16).fill(3);
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: { value: frameworkId },
            status: {
              taskId: { value: "t1" },
              state: TaskState.TASK_RUNNING,
              uuid,
              source: TaskStatus_Source.EXECUTOR,
            },
          },
        },
      },
    });
    const running = updates(h).find((s) => s.state === TaskState.TASK_RUNNING);
    expect(running?.agentId?.value).toBe(agentId);
    expect(running?.uuid).toEqual(uuid);

    h.take("agent-1");
    h.scheduler("sched-1", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACKNOWLEDGE,
      acknowledge: { agentId: { value: agentId }, taskId: { value: "t1" }, uuid },
    });
    const ack = h.agentEvents("agent-1").find((e) => e.event.case === "acknowledge");
    expect(ack?.event.case === "acknowledge" && ack.event.value.uuid).toEqual(uuid);
  });

  it("returns a finished task's resources to the pool", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t1", resources: "cpus:4;mem:4096" }]);
    h.take("sched-1");
    h.advance(10_000);
    h.allocate();
    // Nothing left on the agent but disk and ports.
    const second = h.schedulerEvents("sched-1").flatMap((e) => e.offers?.offers ?? []);
    expect(second.flatMap((o) => o.resources.map((r) => r.name))).not.toContain("cpus");
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: { value: frameworkId },
            status: { taskId: { value: "t1" }, state: TaskState.TASK_FINISHED, uuid: new Uint8Array([9]) },
          },
        },
      },
    });
    for (const o of second)
      h.scheduler("sched-1", {
        frameworkId: { value: frameworkId },
        type: SchedulerCallType.DECLINE,
        decline: { offerIds: [o.id!], filters: { refuseSeconds: 0 } },
      });
    h.take("sched-1");
    h.allocate();
    const third = h.schedulerEvents("sched-1").flatMap((e) => e.offers?.offers ?? []);
    const cpus = third.flatMap((o) => o.resources).find((r) => r.name === "cpus");
    expect(cpus?.scalar?.value).toBe(4);
  });
});

describe("master core: bad input gets a clear answer and disturbs nobody", () => {
  it("answers a scheduler call before SUBSCRIBE with an error echoing the call id", () => {
    const h = new MasterHarness();
    h.scheduler("s", { frameworkId: { value: "fw" }, type: SchedulerCallType.REVIVE }, "call-7");
    const [error] = h.errors("s");
    expect(error?.code).toBe(Error_Code.FAILED_PRECONDITION);
    expect(error?.callId).toBe("call-7");
    expect(error?.message).toMatch(/SUBSCRIBE/);
  });

  it("rejects a call without type", () => {
    const { h, frameworkId } = setup();
    h.scheduler("sched-1", { frameworkId: { value: frameworkId } }, "x");
    expect(h.errors("sched-1")[0]?.message).toMatch(/type/);
  });

  it("rejects a call naming another framework", () => {
    const { h } = setup();
    h.scheduler("sched-1", { frameworkId: { value: "nope" }, type: SchedulerCallType.REVIVE });
    expect(h.errors("sched-1")[0]?.message).toMatch(/nope/);
  });

  it("turns a duplicate task id into TASK_ERROR and still launches the rest", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "a" }, { id: "a" }, { id: "b" }]);
    const errors = updates(h).filter((s) => s.state === TaskState.TASK_ERROR);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.reason).toBe(TaskStatus_Reason.TASK_INVALID);
    expect(errors[0]?.message).toMatch(/already in use/);
    expect(h.agentEvents("agent-1").filter((e) => e.event.case === "runTask")).toHaveLength(2);
  });

  it("turns resources not in the offer into TASK_ERROR", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "big", resources: "cpus:64;mem:128" }]);
    const [status] = updates(h);
    expect(status?.state).toBe(TaskState.TASK_ERROR);
    expect(status?.message).toMatch(/more resources/);
  });

  it("turns a negative or NaN scalar into TASK_ERROR", () => {
    const { h, frameworkId, offer } = setup();
    const negative = parseResources("cpus:1;mem:128");
    negative[0]!.scalar!.value = -1;
    const nan = parseResources("cpus:1;mem:128");
    nan[0]!.scalar!.value = Number.NaN;
    h.scheduler("sched-1", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACCEPT,
      accept: {
        offerIds: [offer.id!],
        operations: [
          {
            type: 1,
            launch: {
              taskInfos: [
                {
                  name: "n",
                  taskId: { value: "neg" },
                  agentId: offer.agentId,
                  resources: negative,
                  command: { value: "true" },
                },
                {
                  name: "n",
                  taskId: { value: "nan" },
                  agentId: offer.agentId,
                  resources: nan,
                  command: { value: "true" },
                },
              ],
            },
          },
        ],
      },
    });
    const statuses = updates(h);
    expect(statuses.map((s) => s.state)).toEqual([TaskState.TASK_ERROR, TaskState.TASK_ERROR]);
    expect(statuses.every((s) => /Invalid resources/.test(s.message))).toBe(true);
  });

  it("drops launches on a declined or already used offer", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "first" }]);
    h.take("sched-1");
    launch(h, frameworkId, offer, [{ id: "second" }]);
    const [status] = updates(h);
    expect(status?.state).toBe(TaskState.TASK_LOST);
    expect(status?.reason).toBe(TaskStatus_Reason.INVALID_OFFERS);
    expect(h.errors("sched-1")[0]?.message).toMatch(/no longer valid/);
  });

  it("uses TASK_DROPPED for partition-aware frameworks", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-1");
    const fw = h.subscribe("s", { capabilities: [{ type: 5 }] });
    h.allocate();
    const offer = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? [])[0]!;
    h.scheduler("s", {
      frameworkId: { value: fw },
      type: SchedulerCallType.DECLINE,
      decline: { offerIds: [offer.id!] },
    });
    launch(h, fw, offer, [{ id: "x" }], "s");
    expect(updates(h, "s")[0]?.state).toBe(TaskState.TASK_DROPPED);
  });

  it("keeps serving another framework while one misbehaves", () => {
    const { h, frameworkId, offer } = setup();
    const other = h.subscribe("sched-2", { name: "other" });
    launch(h, frameworkId, offer, [{ id: "bad", resources: "cpus:99" }]);
    h.registerAgent("agent-2", "cpus:2;mem:1024", "host-b");
    h.allocate();
    expect(h.schedulerEvents("sched-2").some((e) => (e.offers?.offers.length ?? 0) > 0)).toBe(true);
    expect(other).not.toBe(frameworkId);
  });

  it("refuses an executor call at the master", () => {
    const h = new MasterHarness();
    h.send("e", { case: "executor", value: { type: 1 } }, "c1");
    expect(h.errors("e")[0]?.message).toMatch(/agent/);
  });

  it("refuses a second role on one stream", () => {
    const { h } = setup();
    h.send("sched-1", { case: "operator", value: { type: OperatorCallType.GET_HEALTH } }, "op");
    expect(h.errors("sched-1")[0]?.code).toBe(Error_Code.FAILED_PRECONDITION);
  });
});

/** A framework with one launched task `t` whose scheduler stream `s1` just ended. */
function disconnectedWithTask(failoverTimeout: number) {
  const h = new MasterHarness();
  h.registerAgent("agent-1");
  const fw = h.subscribe("s1", { failoverTimeout });
  h.allocate();
  const offer = h.schedulerEvents("s1").flatMap((e) => e.offers?.offers ?? [])[0]!;
  launch(h, fw, offer, [{ id: "t" }], "s1");
  h.closed("s1");
  return { h, fw };
}

describe("master core: framework lifecycle", () => {
  it("rescinds offers and removes a framework without failover timeout when it disconnects", () => {
    const { h, frameworkId } = setup();
    h.closed("sched-1");
    expect(h.core.state.frameworks.has(frameworkId)).toBe(false);
    expect(h.core.state.offers.size).toBe(0);
  });

  it("gives a framework back to a scheduler that resubscribes within failover_timeout", () => {
    const { h, fw } = disconnectedWithTask(60);
    h.advance(30_000);
    h.apply(h.core.expire(h.now));
    h.scheduler("s2", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: fw },
      subscribe: { frameworkInfo: { user: "u", name: "fw", id: { value: fw }, failoverTimeout: 60 } },
    });
    expect(h.schedulerEvents("s2")[0]?.subscribed?.frameworkId?.value).toBe(fw);
    expect(h.core.state.frameworks.get(fw)?.tasks.has("t")).toBe(true);
  });

  it("asks the agents to resend a resubscribed framework's pending updates", () => {
    const { h, fw } = disconnectedWithTask(60);
    h.take("agent-1");
    h.scheduler("s2", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: fw },
      subscribe: { frameworkInfo: { user: "u", name: "fw", id: { value: fw } } },
    });
    const resend = h.agentEvents("agent-1").find((e) => e.event.case === "resendUpdates");
    expect(resend?.event.case === "resendUpdates" && resend.event.value.frameworkId?.value).toBe(fw);
  });

  it("kills a framework's tasks when its failover timeout passes", () => {
    const { h, fw } = disconnectedWithTask(5);
    h.advance(6_000);
    h.apply(h.core.expire(h.now));
    expect(h.core.state.frameworks.has(fw)).toBe(false);
    expect(h.agentEvents("agent-1").some((e) => e.event.case === "shutdownFramework")).toBe(true);
  });

  it("ends the old stream when a scheduler fails over to a new one", () => {
    const h = new MasterHarness();
    const fw = h.subscribe("s1", { failoverTimeout: 60 });
    h.scheduler("s2", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: fw },
      subscribe: { frameworkInfo: { user: "u", name: "fw", id: { value: fw } } },
    });
    expect(h.ended.has("s1")).toBe(true);
    expect(h.schedulerEvents("s1").some((e) => e.type === Event_Type.ERROR)).toBe(true);
  });

  it("TEARDOWN removes the framework and ends its stream", () => {
    const { h, frameworkId } = setup();
    h.scheduler("sched-1", { frameworkId: { value: frameworkId }, type: SchedulerCallType.TEARDOWN });
    expect(h.core.state.frameworks.has(frameworkId)).toBe(false);
    expect(h.ended.has("sched-1")).toBe(true);
  });

  it("answers implicit and explicit reconciliation", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    h.take("sched-1");
    h.scheduler("sched-1", { frameworkId: { value: frameworkId }, type: SchedulerCallType.RECONCILE, reconcile: {} });
    expect(updates(h).map((s) => [s.taskId?.value, s.state, s.reason])).toEqual([
      ["t1", TaskState.TASK_STAGING, TaskStatus_Reason.RECONCILIATION],
    ]);
    h.take("sched-1");
    h.scheduler("sched-1", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: { tasks: [{ taskId: { value: "ghost" } }] },
    });
    expect(updates(h)[0]?.state).toBe(TaskState.TASK_LOST);
  });

  it("sends HEARTBEAT to schedulers and operator subscribers, and pings agents", () => {
    const { h } = setup();
    h.send("op", { case: "operator", value: { type: OperatorCallType.SUBSCRIBE } });
    h.take("sched-1");
    h.take("agent-1");
    h.apply(h.core.heartbeat(h.now));
    expect(h.schedulerEvents("sched-1").map((e) => e.type)).toEqual([Event_Type.HEARTBEAT]);
    expect(h.agentEvents("agent-1")).toEqual([]);
    h.apply(h.core.pingAgents(h.now));
    expect(h.agentEvents("agent-1").map((e) => e.event.case)).toEqual(["heartbeat"]);
    expect(h.operatorEvents("op").at(-1)?.type).toBe(9);
  });
});

describe("master core: allocation outside the interval", () => {
  it("asks for a pass when a framework subscribes, revives, or a task ends", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-1");
    expect(h.core.allocationRequested).toBe(true);
    h.allocate();
    expect(h.core.allocationRequested).toBe(false);
    const frameworkId = h.subscribe("sched-1");
    expect(h.core.allocationRequested).toBe(true);
    h.allocate();
    const [offer] = h.schedulerEvents("sched-1").flatMap((e) => e.offers?.offers ?? []) as Offer[];
    h.scheduler("sched-1", { frameworkId: { value: frameworkId }, type: SchedulerCallType.REVIVE });
    expect(h.core.allocationRequested).toBe(true);
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    h.allocate();
    expect(h.core.allocationRequested).toBe(false);
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: { value: frameworkId },
            status: { taskId: { value: "t1" }, state: TaskState.TASK_FINISHED, uuid: new Uint8Array([1]) },
          },
        },
      },
    });
    expect(h.core.allocationRequested).toBe(true);
  });
});

describe("master core: agents", () => {
  it("rescinds offers when their agent leaves", () => {
    const { h, offer } = setup();
    h.take("sched-1");
    h.closed("agent-1");
    const rescind = h.schedulerEvents("sched-1").find((e) => e.type === Event_Type.RESCIND);
    expect(rescind?.rescind?.offerId?.value).toBe(offer.id?.value);
  });

  it("keeps an agent's id when it re-registers", () => {
    const { h, agentId } = setup();
    h.closed("agent-1");
    h.send("agent-2", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            // What it offered before (see setup): offering less is refused (agent-compatibility.ts).
            agentInfo: {
              hostname: "host-a",
              id: { value: agentId },
              resources: parseResources("cpus:4;mem:4096;disk:10000;ports:[31000-32000]"),
            },
          },
        },
      },
    });
    const reg = h.agentEvents("agent-2").find((e) => e.event.case === "registered");
    expect(reg?.event.case === "registered" && reg.event.value.agentId?.value).toBe(agentId);
    expect(h.core.state.agents.size).toBe(1);
  });

  it("recovers frameworks and tasks an agent reports to a restarted master", () => {
    const h = new MasterHarness();
    const frameworkInfo = { user: "u", name: "fw", id: { value: "fw-1" }, failoverTimeout: 0 };
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: { hostname: "host-a", id: { value: "agent-old" }, resources: parseResources("cpus:4;mem:4096") },
            frameworks: [frameworkInfo],
            tasks: [
              {
                taskId: { value: "t1" },
                frameworkId: { value: "fw-1" },
                agentId: { value: "agent-old" },
                state: TaskState.TASK_RUNNING,
                resources: parseResources("cpus:1;mem:128"),
              },
            ],
          },
        },
      },
    });
    const { result } = h.core.operate(
      { $typeName: "mesos.v1.master.Call", type: OperatorCallType.GET_FRAMEWORKS },
      h.now,
    );
    const recovered = "code" in result ? undefined : result.getFrameworks?.frameworks[0];
    expect(recovered?.recovered).toBe(true);
    expect(recovered?.active).toBe(false);
    // The scheduler finds the new master within the grace period and gets its task back.
    h.advance(30_000);
    h.apply(h.core.expire(h.now));
    h.scheduler("s", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: "fw-1" },
      subscribe: { frameworkInfo },
    });
    h.scheduler("s", { frameworkId: { value: "fw-1" }, type: SchedulerCallType.RECONCILE, reconcile: {} });
    expect(updates(h, "s").map((u) => [u.taskId?.value, u.state])).toEqual([["t1", TaskState.TASK_RUNNING]]);
    // Its resources stay charged: only what is free is offered.
    h.allocate();
    const cpus = h
      .schedulerEvents("s")
      .flatMap((e) => e.offers?.offers ?? [])
      .flatMap((o) => o.resources)
      .find((r) => r.name === "cpus");
    expect(cpus?.scalar?.value).toBe(3);
  });

  it("marks tasks lost when an agent stays away past the timeout", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    h.take("sched-1");
    h.closed("agent-1");
    h.advance(601_000);
    h.apply(h.core.expire(h.now));
    const lost = updates(h).find((s) => s.taskId?.value === "t1");
    expect(lost?.state).toBe(TaskState.TASK_LOST);
    expect(lost?.reason).toBe(TaskStatus_Reason.AGENT_REMOVED);
  });
});

describe("master core: UPDATE_FRAMEWORK", () => {
  const multiRole = (roles: string[], id?: string) => ({
    user: "u",
    name: "fw",
    roles,
    capabilities: [{ type: 6 }],
    ...(id ? { id: { value: id } } : {}),
  });

  it("changes a framework's roles, rescinding offers of the roles it gives up", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-1");
    const fw = h.subscribe("s", multiRole(["a"]));
    h.allocate();
    const [offer] = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? []);
    expect(offer?.allocationInfo?.role).toBe("a");
    h.take("s");
    h.scheduler("s", {
      frameworkId: { value: fw },
      type: SchedulerCallType.UPDATE_FRAMEWORK,
      updateFramework: { frameworkInfo: multiRole(["b"], fw) },
    });
    expect(h.errors("s")).toEqual([]);
    expect(h.schedulerEvents("s").map((e) => e.rescind?.offerId?.value)).toEqual([offer?.id?.value]);
    h.allocate();
    const roles = h
      .schedulerEvents("s")
      .flatMap((e) => e.offers?.offers ?? [])
      .map((o) => o.allocationInfo?.role);
    expect(roles).toEqual(["b"]);
  });

  it("refuses an update for another framework id or a changed user", () => {
    const h = new MasterHarness();
    const fw = h.subscribe("s", multiRole(["a"]));
    h.scheduler(
      "s",
      {
        frameworkId: { value: fw },
        type: SchedulerCallType.UPDATE_FRAMEWORK,
        updateFramework: { frameworkInfo: multiRole(["a"], "other") },
      },
      "u1",
    );
    h.scheduler(
      "s",
      {
        frameworkId: { value: fw },
        type: SchedulerCallType.UPDATE_FRAMEWORK,
        updateFramework: { frameworkInfo: { ...multiRole(["a"], fw), user: "root" } },
      },
      "u2",
    );
    expect(h.errors("s").map((e) => [e.callId, e.code])).toEqual([
      ["u1", Error_Code.INVALID_ARGUMENT],
      ["u2", Error_Code.INVALID_ARGUMENT],
    ]);
  });
});

describe("master core: offer constraints", () => {
  const rackIs = (value: string) => ({
    roleConstraints: {
      "*": {
        groups: [
          {
            attributeConstraints: [
              {
                selector: { selector: { case: "attributeName" as const, value: "rack" } },
                predicate: { predicate: { case: "textEquals" as const, value: { value } } },
              },
            ],
          },
        ],
      },
    },
  });

  it("offers only agents that satisfy the framework's constraints", () => {
    const h = new MasterHarness();
    h.send("a1", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              hostname: "h1",
              resources: parseResources("cpus:1;mem:256"),
              attributes: parseAttributes("rack:a"),
            },
          },
        },
      },
    });
    h.send("a2", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              hostname: "h2",
              resources: parseResources("cpus:1;mem:256"),
              attributes: parseAttributes("rack:b"),
            },
          },
        },
      },
    });
    h.scheduler("s", {
      type: SchedulerCallType.SUBSCRIBE,
      subscribe: { frameworkInfo: { user: "u", name: "picky" }, offerConstraints: rackIs("b") },
    });
    h.allocate();
    expect(
      h
        .schedulerEvents("s")
        .flatMap((e) => e.offers?.offers ?? [])
        .map((o) => o.hostname),
    ).toEqual(["h2"]);
  });

  it("refuses constraints Mesos would refuse, with the reason", () => {
    const h = new MasterHarness();
    const bad = { roleConstraints: { ops: { groups: [] } } };
    h.scheduler(
      "s",
      {
        type: SchedulerCallType.SUBSCRIBE,
        subscribe: { frameworkInfo: { user: "u", name: "picky" }, offerConstraints: bad },
      },
      "sub",
    );
    expect(h.errors("s")[0]?.message).toMatch(/role 'ops'/);
    expect(h.core.state.frameworks.size).toBe(0);
  });
});

describe("master core: quota", () => {
  const quota = (
    h: MasterHarness,
    configs: Array<{ role: string; limits?: Record<string, number>; guarantees?: Record<string, number> }>,
  ) => {
    const toScalars = (m: Record<string, number> = {}) =>
      Object.fromEntries(Object.entries(m).map(([k, value]) => [k, { value }]));
    return h.core.operate(
      create(OperatorCallSchema, {
        type: OperatorCallType.UPDATE_QUOTA,
        updateQuota: {
          quotaConfigs: configs.map((c) => ({
            role: c.role,
            limits: toScalars(c.limits),
            guarantees: toScalars(c.guarantees),
          })),
        },
      }),
      h.now,
    ).result;
  };
  const getQuota = (h: MasterHarness) => {
    const r = h.core.operate(create(OperatorCallSchema, { type: OperatorCallType.GET_QUOTA }), h.now).result;
    return "code" in r
      ? []
      : (r.getQuota?.status?.configs ?? []).map((c) => [
          c.role,
          Object.fromEntries(Object.entries(c.limits).map(([k, v]) => [k, v.value])),
        ]);
  };

  it("caps what a role is offered at its limits and reports them in GET_QUOTA", () => {
    const h = new MasterHarness();
    for (let i = 0; i < 4; i++) h.registerAgent(`agent-${i}`, "cpus:1;mem:256", `host-${i}`);
    const ok = quota(h, [{ role: "eng", limits: { cpus: 2 } }]);
    expect("code" in ok).toBe(false);
    expect(getQuota(h)).toEqual([["eng", { cpus: 2 }]]);
    h.subscribe("s", { roles: ["eng"], capabilities: [{ type: 6 }] });
    h.allocate();
    const offered = h
      .schedulerEvents("s")
      .flatMap((e) => e.offers?.offers ?? [])
      .flatMap((o) => o.resources);
    const cpus = offered.filter((r) => r.name === "cpus").reduce((n, r) => n + (r.scalar?.value ?? 0), 0);
    expect(cpus).toBe(2);
  });

  it("refuses guarantees beyond the cluster's capacity, and bad configs, changing nothing", () => {
    const h = new MasterHarness();
    const guarantees = quota(h, [{ role: "eng", guarantees: { cpus: 1 } }]);
    expect("code" in guarantees && guarantees.code).toBe(Error_Code.INVALID_ARGUMENT);
    expect("code" in guarantees && guarantees.message).toMatch(/capacity/);
    const star = quota(h, [{ role: "*", limits: { cpus: 1 } }]);
    expect("code" in star && star.message).toMatch(/'\*'/);
    const negative = quota(h, [{ role: "eng", limits: { cpus: -1 } }]);
    expect("code" in negative && negative.message).toMatch(/non-negative/);
    quota(h, [{ role: "eng", limits: { cpus: 4 } }]);
    const child = quota(h, [{ role: "eng/web", limits: { cpus: 8 } }]);
    expect("code" in child && child.message).toMatch(/exceeds its parent/);
    expect(getQuota(h)).toEqual([["eng", { cpus: 4 }]]);
  });

  it("removes a role's quota when a config has neither guarantees nor limits", () => {
    const h = new MasterHarness();
    quota(h, [{ role: "eng", limits: { cpus: 4 } }]);
    quota(h, [{ role: "eng" }]);
    expect(getQuota(h)).toEqual([]);
  });
});

describe("master core: offer timeout", () => {
  it("rescinds offers held past --offer-timeout and offers the resources again", () => {
    const h = new MasterHarness({ offerTimeoutSeconds: 30 });
    h.registerAgent("agent-1");
    h.subscribe("s");
    h.allocate();
    const [offer] = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? []);
    h.take("s");
    h.advance(29_000);
    h.apply(h.core.expire(h.now));
    expect(h.schedulerEvents("s")).toEqual([]);
    h.advance(1_000);
    h.apply(h.core.expire(h.now));
    expect(h.schedulerEvents("s").map((e) => e.rescind?.offerId?.value)).toEqual([offer?.id?.value]);
    expect(h.core.allocationRequested).toBe(true);
    h.allocate();
    expect(h.schedulerEvents("s").some((e) => (e.offers?.offers.length ?? 0) > 0)).toBe(true);
  });

  it("keeps offers forever without the flag", () => {
    const { h } = setup();
    h.take("sched-1");
    for (let hour = 0; hour < 24; hour++) {
      h.advance(3600_000);
      h.send("agent-1", { case: "agent", value: { call: { case: "heartbeat", value: {} } } }); // the agent stays alive
      h.apply(h.core.expire(h.now));
    }
    expect(h.schedulerEvents("sched-1")).toEqual([]);
  });
});

describe("master core: operator", () => {
  it("applies UPDATE_WEIGHTS all or nothing and shows them in GET_WEIGHTS", () => {
    const h = new MasterHarness();
    const call = (init: MessageInitShape<typeof OperatorCallSchema>) =>
      h.core.operate(create(OperatorCallSchema, init), h.now).result;
    const bad = call({
      type: OperatorCallType.UPDATE_WEIGHTS,
      updateWeights: {
        weightInfos: [
          { role: "eng", weight: 2 },
          { role: "ops", weight: -1 },
        ],
      },
    });
    expect("code" in bad && bad.message).toMatch(/positive/);
    const before = call({ type: OperatorCallType.GET_WEIGHTS });
    expect("code" in before ? undefined : before.getWeights?.weightInfos).toEqual([]);
    call({ type: OperatorCallType.UPDATE_WEIGHTS, updateWeights: { weightInfos: [{ role: "eng", weight: 2 }] } });
    const after = call({ type: OperatorCallType.GET_WEIGHTS });
    expect("code" in after ? undefined : after.getWeights?.weightInfos.map((w) => [w.role, w.weight])).toEqual([
      ["eng", 2],
    ]);
  });

  it("answers GET_STATE with agents, frameworks and tasks", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    const { result } = h.core.operate({ $typeName: "mesos.v1.master.Call", type: OperatorCallType.GET_STATE }, h.now);
    expect("code" in result).toBe(false);
    if ("code" in result) return;
    expect(result.getState?.getAgents?.agents).toHaveLength(1);
    expect(result.getState?.getFrameworks?.frameworks[0]?.frameworkInfo?.id?.value).toBe(frameworkId);
    expect(result.getState?.getTasks?.tasks[0]?.taskId?.value).toBe("t1");
  });

  it("streams TASK_ADDED and TASK_UPDATED to a subscribed operator", () => {
    const { h, frameworkId, offer } = setup();
    h.send("op", { case: "operator", value: { type: OperatorCallType.SUBSCRIBE } }, "sub");
    launch(h, frameworkId, offer, [{ id: "t1" }]);
    h.send("agent-1", {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: { value: frameworkId },
            status: { taskId: { value: "t1" }, state: TaskState.TASK_RUNNING, uuid: new Uint8Array([1]) },
          },
        },
      },
    });
    const types = h.operatorEvents("op").map((e) => e.type);
    expect(types).toEqual([1, 2, 3]); // SUBSCRIBED, TASK_ADDED, TASK_UPDATED
  });

  it("reports unsupported operator calls as UNIMPLEMENTED", () => {
    const h = new MasterHarness();
    const { result } = h.core.operate(
      { $typeName: "mesos.v1.master.Call", type: OperatorCallType.START_MAINTENANCE },
      h.now,
    );
    expect("code" in result && result.code).toBe(Error_Code.UNIMPLEMENTED);
  });
});
