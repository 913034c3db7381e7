/**
 * The master core's refusals of invalid scheduler calls, whatever API
 * carries them (the v1 gateway runs the same validation first; the
 * integration parity test compares the two APIs end to end).
 */
import { describe, expect, it } from "vitest";
import { FrameworkInfo_Capability_Type as Capability, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import { Reason } from "../../src/core/master/events.js";
import { MasterHarness } from "../helpers/master-harness.js";

describe("master core: scheduler call validation", () => {
  it("refuses an ACKNOWLEDGE whose uuid is not 16 bytes, and tells the agent nothing", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("agent-1");
    const fw = h.subscribe("s");
    h.take("agent-1");
    for (const uuid of [new Uint8Array(3), new Uint8Array(0), new Uint8Array(17)]) {
      h.scheduler(
        "s",
        {
          frameworkId: { value: fw },
          type: SchedulerCallType.ACKNOWLEDGE,
          acknowledge: { agentId: { value: agentId }, taskId: { value: "t" }, uuid },
        },
        `ack-${uuid.length}`,
      );
      expect(h.errors("s").find((e) => e.callId === `ack-${uuid.length}`)).toMatchObject({
        code: Error_Code.INVALID_ARGUMENT,
        message: `Invalid UUID: expected 16 bytes, got ${uuid.length}`,
        fatal: false,
      });
    }
    h.scheduler(
      "s",
      {
        frameworkId: { value: fw },
        type: SchedulerCallType.ACKNOWLEDGE_OPERATION_STATUS,
        acknowledgeOperationStatus: {
          agentId: { value: agentId },
          operationId: { value: "op" },
          uuid: new Uint8Array(5),
        },
      },
      "op-ack",
    );
    expect(h.errors("s").find((e) => e.callId === "op-ack")?.code).toBe(Error_Code.INVALID_ARGUMENT);
    expect(h.agentEvents("agent-1")).toEqual([]);
  });

  it("refuses a SUBSCRIBE without FrameworkInfo.user", () => {
    const h = new MasterHarness();
    h.scheduler("s", { type: SchedulerCallType.SUBSCRIBE, subscribe: { frameworkInfo: { name: "fw" } } }, "sub");
    expect(h.errors("s")).toMatchObject([
      { callId: "sub", code: Error_Code.INVALID_ARGUMENT, message: "Not initialized: subscribe.framework_info.user" },
    ]);
    expect(h.core.state.frameworks.size).toBe(0);
  });

  it("refuses a resubscription with another principal and leaves the framework with its scheduler", () => {
    const h = new MasterHarness();
    const fw = h.subscribe("s1", { principal: "owner", failoverTimeout: 60 });
    h.scheduler(
      "s2",
      {
        type: SchedulerCallType.SUBSCRIBE,
        frameworkId: { value: fw },
        subscribe: { frameworkInfo: { user: "test", name: "fw", id: { value: fw }, principal: "intruder" } },
      },
      "sub",
    );
    expect(h.errors("s2")).toMatchObject([
      {
        callId: "sub",
        code: Error_Code.FAILED_PRECONDITION,
        message: "Changing framework's principal is not allowed.",
        fatal: true,
      },
    ]);
    expect(h.ended.has("s2")).toBe(true);
    expect(h.ended.has("s1")).toBe(false);
    expect(h.core.state.frameworks.get(fw)?.session).toBe("s1");
    // No principal, where it had one, is another principal too.
    h.scheduler("s3", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: fw },
      subscribe: { frameworkInfo: { user: "test", name: "fw", id: { value: fw } } },
    });
    expect(h.errors("s3")[0]?.code).toBe(Error_Code.FAILED_PRECONDITION);
  });

  it("keeps the user and checkpoint a framework had when it fails over with others, as Mesos does", () => {
    const h = new MasterHarness();
    const fw = h.subscribe("s1", { user: "alice", checkpoint: true, failoverTimeout: 60 });
    h.scheduler("s2", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: fw },
      subscribe: { frameworkInfo: { user: "bob", name: "renamed", id: { value: fw }, checkpoint: false } },
    });
    expect(h.schedulerEvents("s2")[0]?.subscribed?.frameworkId?.value).toBe(fw);
    expect(h.core.state.frameworks.get(fw)?.info).toMatchObject({ user: "alice", checkpoint: true, name: "renamed" });
  });

  it("drops an ACCEPT of offers made to different roles and asks for an allocation pass", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("agent-1", "cpus(a):1;mem(a):128;cpus(b):1;mem(b):128");
    const fw = h.subscribe("s", { roles: ["a", "b"], capabilities: [{ type: Capability.MULTI_ROLE }] });
    h.allocate();
    const offers = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? []);
    expect(offers.map((o) => o.allocationInfo?.role).sort()).toEqual(["a", "b"]);
    h.take("s");
    h.apply(h.core.allocate(h.now)); // clears the request the subscription made
    h.scheduler(
      "s",
      {
        frameworkId: { value: fw },
        type: SchedulerCallType.ACCEPT,
        accept: {
          offerIds: offers.map((o) => o.id ?? { value: "" }),
          operations: [
            {
              type: 1,
              launch: {
                taskInfos: [
                  {
                    name: "t",
                    taskId: { value: "t" },
                    agentId: { value: agentId },
                    command: { value: "true" },
                  },
                ],
              },
            },
          ],
        },
      },
      "accept",
    );
    const [status] = h.schedulerEvents("s").flatMap((e) => (e.update?.status ? [e.update.status] : []));
    expect(status).toMatchObject({ state: TaskState.TASK_LOST, reason: Reason.INVALID_OFFERS });
    expect(status?.message).toMatch(/^Aggregated offers must be allocated to the same role/);
    expect(h.errors("s")).toMatchObject([{ callId: "accept", code: Error_Code.INVALID_ARGUMENT }]);
    expect(h.core.state.offers.size).toBe(0);
    expect(h.core.allocationRequested).toBe(true);
    h.allocate();
    const again = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? []);
    expect(again.map((o) => o.allocationInfo?.role).sort()).toEqual(["a", "b"]);
  });
});
