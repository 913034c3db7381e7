/**
 * One ACCEPT of offers made to different roles: Mesos refuses to aggregate
 * them ("Aggregated offers must be allocated to the same role"), drops the
 * launches with REASON_INVALID_OFFERS (TASK_DROPPED for partition-aware
 * frameworks, TASK_LOST for the others) and offers the resources again.
 * Through both APIs, on a real master and an agent whose resources are
 * reserved half to each role, so every allocation pass offers one of each.
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  Offer_Operation_Type,
  Offer_OperationSchema,
  TaskState,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type, type Event as SchedulerEvent } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import type { Error as StreamError } from "../../gen/mesos/v2/mesos_pb.js";
import { createScheduler } from "../../src/client/scheduler.js";
import { Reason } from "../../src/core/master/events.js";
import { parseResources } from "../../src/core/resources/index.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { events, type Json, request, type Stream, subscribe } from "./gateway-v1-client.js";

const SAME_ROLE = /Aggregated offers must be allocated to the same role/;

describe("an ACCEPT of offers made to different roles", () => {
  const scope = new ProcessScope();
  let master: Daemon;

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "10mins"], "master listening");
    await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        scope.tempDir(),
        "--resources",
        "cpus(a):0.5;mem(a):128;cpus(b):0.5;mem(b):128",
      ],
      "agent listening",
    );
  });
  afterAll(() => scope.cleanup());

  it("is dropped on v1 (202, TASK_DROPPED for a partition-aware framework) and the resources come back", async () => {
    const stream: Stream = await subscribe(
      master.port,
      { "content-type": "application/json" },
      JSON.stringify({
        type: "SUBSCRIBE",
        subscribe: {
          framework_info: {
            user: "test",
            name: "roles-v1",
            roles: ["a", "b"],
            capabilities: [{ type: "MULTI_ROLE" }, { type: "PARTITION_AWARE" }],
          },
        },
      }),
    );
    try {
      type V1Offer = { id: { value: string }; agent_id: { value: string }; allocation_info: { role: string } };
      const offersOf = () =>
        events(stream).flatMap((e) => (e.type === "OFFERS" ? (e.offers as { offers: V1Offer[] }).offers : []));
      const [a, b] = await eventually(() => {
        const a = offersOf().find((o) => o.allocation_info.role === "a");
        const b = offersOf().find((o) => o.allocation_info.role === "b");
        return a && b ? [a, b] : undefined;
      }, "an offer for each role");
      const frameworkId = String(
        (events(stream).find((e) => e.type === "SUBSCRIBED")?.subscribed as { framework_id: { value: string } })
          .framework_id.value,
      );
      const answer = await request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
        body: [
          JSON.stringify({
            framework_id: { value: frameworkId },
            type: "ACCEPT",
            accept: { offer_ids: [a.id, b.id], operations: [launch("v1-task", a.agent_id.value)] },
          }),
        ],
      });
      expect(answer.status).toBe(202);
      const update = await eventually(
        () => events(stream).find((e) => e.type === "UPDATE")?.update as { status: Json } | undefined,
        "the dropped task's update",
      );
      expect(update.status).toMatchObject({
        task_id: { value: "v1-task" },
        state: "TASK_DROPPED",
        reason: "REASON_INVALID_OFFERS",
        source: "SOURCE_MASTER",
      });
      expect(String(update.status.message)).toMatch(SAME_ROLE);
      // Offered again, both halves, under new offer ids.
      await eventually(() => {
        const again = offersOf().filter((o) => o.id.value !== a.id.value && o.id.value !== b.id.value);
        const roles = new Set(again.map((o) => o.allocation_info.role));
        return roles.has("a") && roles.has("b") ? true : undefined;
      }, "the resources offered again");
      expect(events(stream).map((e) => e.type)).not.toContain("ERROR");
      await request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
        body: [JSON.stringify({ framework_id: { value: frameworkId }, type: "TEARDOWN" })],
      });
    } finally {
      stream.close();
    }
  });

  it("is dropped on v2 (an INVALID_ARGUMENT report, TASK_LOST for a framework that is not partition-aware) and the resources come back", async () => {
    const received: SchedulerEvent[] = [];
    const errors: StreamError[] = [];
    const scheduler = createScheduler({
      master: `127.0.0.1:${master.port}`,
      framework: { user: "test", name: "roles-v2", roles: ["a", "b"], capabilities: [{ type: Capability.MULTI_ROLE }] },
      onEvent: (e) => received.push(e),
      onError: (e) => errors.push(e),
      reconnect: false,
    });
    try {
      const offersOf = (): Offer[] =>
        received.flatMap((e) => (e.type === Event_Type.OFFERS ? (e.offers?.offers ?? []) : []));
      const [a, b] = await eventually(() => {
        const a = offersOf().find((o) => o.allocationInfo?.role === "a");
        const b = offersOf().find((o) => o.allocationInfo?.role === "b");
        return a && b ? [a, b] : undefined;
      }, "an offer for each role");
      const operation = create(Offer_OperationSchema, {
        type: Offer_Operation_Type.LAUNCH,
        launch: {
          taskInfos: [
            {
              name: "v2-task",
              taskId: { value: "v2-task" },
              agentId: a.agentId,
              resources: parseResources("cpus:0.1;mem:32"),
              command: { value: "true" },
            },
          ],
        },
      });
      expect(scheduler.accept([a.id?.value ?? "", b.id?.value ?? ""], [operation])).toBe(true);
      const status = await eventually(
        () => received.find((e) => e.type === Event_Type.UPDATE)?.update?.status,
        "the dropped task's update",
      );
      expect(status.taskId?.value).toBe("v2-task");
      expect(status.state).toBe(TaskState.TASK_LOST);
      expect(status.reason).toBe(Reason.INVALID_OFFERS);
      expect(status.message).toMatch(SAME_ROLE);
      await eventually(() => errors[0], "the ACCEPT's report");
      expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(SAME_ROLE)]);
      await eventually(() => {
        const again = offersOf().filter((o) => o !== a && o !== b);
        const roles = new Set(again.map((o) => o.allocationInfo?.role));
        return roles.has("a") && roles.has("b") ? true : undefined;
      }, "the resources offered again");
      await scheduler.teardown();
    } finally {
      await scheduler.close();
    }
  });
});

function launch(taskId: string, agentId: string): Json {
  return {
    type: "LAUNCH",
    launch: {
      task_infos: [
        {
          name: taskId,
          task_id: { value: taskId },
          agent_id: { value: agentId },
          command: { value: "true" },
          resources: [
            { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
            { name: "mem", type: "SCALAR", scalar: { value: 32 } },
          ],
        },
      ],
    },
  };
}
