/**
 * The master's history as Mesos keeps it: completed and unreachable tasks
 * per framework and completed frameworks, each bounded by its flag, and the
 * time a framework was removed.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CallSchema, Call_Type as OperatorCallType, type Response } from "../../gen/mesos/v1/master/master_pb.js";
import { FrameworkInfo_Capability_Type as Capability, type Offer, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { countersView } from "../../src/core/master/views.js";
import { parseResources } from "../../src/core/resources/index.js";
import { MasterHarness, type TestMasterOptions } from "../helpers/master-harness.js";

const PARTITION_AWARE = { capabilities: [{ type: Capability.PARTITION_AWARE }] };

function operate(h: MasterHarness, type: OperatorCallType): Response {
  const { result, effects } = h.core.operate(create(CallSchema, { type }), h.now);
  h.apply(effects);
  if ("code" in result) throw new Error(result.message);
  return result;
}

function tasks(h: MasterHarness) {
  const t = operate(h, OperatorCallType.GET_TASKS).getTasks;
  const ids = (list: NonNullable<typeof t>["tasks"] = []) =>
    list.map((task) => `${task.frameworkId?.value}/${task.taskId?.value}:${TaskState[task.state]}`);
  return { live: ids(t?.tasks), unreachable: ids(t?.unreachableTasks), completed: ids(t?.completedTasks) };
}

/** A framework on `session` with its first offer on the one agent. */
function subscribeWithOffer(h: MasterHarness, session: string, info: Record<string, unknown> = {}) {
  const frameworkId = h.subscribe(session, info);
  h.allocate();
  const offer = h.schedulerEvents(session).flatMap((e) => e.offers?.offers ?? [])[0] as Offer;
  h.take(session);
  return { frameworkId, offer };
}

function launch(h: MasterHarness, session: string, frameworkId: string, offer: Offer, ids: string[]): void {
  h.scheduler(session, {
    frameworkId: { value: frameworkId },
    type: SchedulerCallType.ACCEPT,
    accept: {
      offerIds: [offer.id!],
      operations: [
        {
          type: 1,
          launch: {
            taskInfos: ids.map((id) => ({
              name: id,
              taskId: { value: id },
              agentId: offer.agentId,
              resources: parseResources("cpus:0.1;mem:32"),
              command: { value: "true" },
            })),
          },
        },
      ],
    },
  });
}

let uuids = 0;
function finish(h: MasterHarness, frameworkId: string, taskId: string): void {
  const uuid = new Uint8Array(16);
  uuid[14] = ++uuids >> 8;
  uuid[15] = uuids & 0xff;
  h.send("a1", {
    case: "agent",
    value: {
      call: {
        case: "statusUpdate",
        value: {
          frameworkId: { value: frameworkId },
          status: { taskId: { value: taskId }, state: TaskState.TASK_FINISHED, uuid },
        },
      },
    },
  });
}

function withAgent(options: TestMasterOptions): MasterHarness {
  const h = new MasterHarness(options);
  h.registerAgent("a1", "cpus:8;mem:8192");
  return h;
}

describe("master history: completed and unreachable tasks per framework", () => {
  it("keeps each framework's newest --max-completed-tasks-per-framework ended tasks", () => {
    const h = withAgent({ maxCompletedTasksPerFramework: 2 });
    const a = subscribeWithOffer(h, "sa");
    launch(h, "sa", a.frameworkId, a.offer, ["a1", "a2", "a3"]);
    for (const id of ["a1", "a2", "a3"]) finish(h, a.frameworkId, id);
    const b = subscribeWithOffer(h, "sb");
    launch(h, "sb", b.frameworkId, b.offer, ["b1"]);
    finish(h, b.frameworkId, "b1");

    expect(tasks(h).completed.sort()).toEqual([
      `${a.frameworkId}/a2:TASK_FINISHED`,
      `${a.frameworkId}/a3:TASK_FINISHED`,
      `${b.frameworkId}/b1:TASK_FINISHED`,
    ]);
    // The counters behind master/tasks_finished count what history forgot too.
    expect(countersView(h.core.state).endedTasks).toEqual({ TASK_FINISHED: 4 });
  });

  it("counts launches it refused as ended tasks, as Mesos' master/tasks_error does", () => {
    const h = withAgent({});
    const a = subscribeWithOffer(h, "sa");
    launch(h, "sa", a.frameworkId, a.offer, ["ok", "bad id"]);
    expect(countersView(h.core.state).endedTasks).toEqual({ TASK_ERROR: 1 });
  });

  it("keeps each framework's newest --max-unreachable-tasks-per-framework tasks of lost agents", () => {
    const h = withAgent({ maxUnreachableTasksPerFramework: 2 });
    const a = subscribeWithOffer(h, "sa", PARTITION_AWARE);
    launch(h, "sa", a.frameworkId, a.offer, ["t1", "t2", "t3"]);
    h.closed("a1");
    h.advance(601_000);
    h.apply(h.core.expire(h.now));

    const after = tasks(h);
    expect(after.live).toEqual([]);
    expect(after.unreachable).toEqual([`${a.frameworkId}/t2:TASK_UNREACHABLE`, `${a.frameworkId}/t3:TASK_UNREACHABLE`]);
    // The forgotten one is not completed either: history dropped it, as Mesos' bounded map does.
    expect(after.completed).toEqual([]);
  });

  it("takes back, live, a task history forgot when its agent returns with it", () => {
    const h = withAgent({ maxUnreachableTasksPerFramework: 1 });
    const agentId = h.core.state.agents.keys().next().value ?? "";
    const a = subscribeWithOffer(h, "sa", PARTITION_AWARE);
    launch(h, "sa", a.frameworkId, a.offer, ["t1", "t2"]);
    h.closed("a1");
    h.advance(601_000);
    h.apply(h.core.expire(h.now));
    expect(tasks(h).unreachable).toEqual([`${a.frameworkId}/t2:TASK_UNREACHABLE`]);

    h.send("a1-back", {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              hostname: "host-a",
              port: 5051,
              id: { value: agentId },
              resources: parseResources("cpus:8;mem:8192"),
            },
            frameworks: [{ id: { value: a.frameworkId }, user: "test", name: "fw" }],
            tasks: ["t1", "t2"].map((id) => ({
              taskId: { value: id },
              frameworkId: { value: a.frameworkId },
              agentId: { value: agentId },
              state: TaskState.TASK_RUNNING,
              resources: parseResources("cpus:0.1;mem:32"),
            })),
          },
        },
      },
    });
    const back = tasks(h);
    expect(back.live.sort()).toEqual([`${a.frameworkId}/t1:TASK_RUNNING`, `${a.frameworkId}/t2:TASK_RUNNING`]);
    expect([back.unreachable, back.completed]).toEqual([[], []]);
  });

  it("counts unreachable agents and shows the tasks on them until the agent returns", () => {
    const h = withAgent({});
    const a = subscribeWithOffer(h, "sa", PARTITION_AWARE);
    launch(h, "sa", a.frameworkId, a.offer, ["t"]);
    h.closed("a1");
    h.advance(601_000);
    h.apply(h.core.expire(h.now));
    expect(countersView(h.core.state).unreachableAgents).toBe(1);
    expect(tasks(h).unreachable).toEqual([`${a.frameworkId}/t:TASK_UNREACHABLE`]);
  });
});

describe("master history: completed frameworks", () => {
  it("keeps a torn-down framework with its tasks, killed, and the time it was removed", () => {
    const h = withAgent({});
    const a = subscribeWithOffer(h, "sa");
    launch(h, "sa", a.frameworkId, a.offer, ["running", "done"]);
    finish(h, a.frameworkId, "done");
    h.advance(5_000);
    const removedAt = h.now;
    h.scheduler("sa", { frameworkId: { value: a.frameworkId }, type: SchedulerCallType.TEARDOWN });

    const frameworks = operate(h, OperatorCallType.GET_FRAMEWORKS).getFrameworks;
    expect(frameworks?.frameworks).toEqual([]);
    const completed = frameworks?.completedFrameworks ?? [];
    expect(completed.map((f) => f.frameworkInfo?.id?.value)).toEqual([a.frameworkId]);
    expect(completed[0]?.active).toBe(false);
    expect(completed[0]?.unregisteredTime?.nanoseconds).toBe(BigInt(removedAt) * 1_000_000n);
    expect(tasks(h).completed).toEqual([`${a.frameworkId}/done:TASK_FINISHED`, `${a.frameworkId}/running:TASK_KILLED`]);
  });

  it("files a framework whose failover timeout passed, at the time it was removed", () => {
    const h = withAgent({});
    const a = subscribeWithOffer(h, "sa", { failoverTimeout: 10 });
    h.closed("sa");
    const disconnected = operate(h, OperatorCallType.GET_FRAMEWORKS).getFrameworks?.frameworks[0];
    // Disconnected is not unregistered: the scheduler may still come back.
    expect(disconnected?.unregisteredTime).toBeUndefined();
    h.advance(11_000);
    h.apply(h.core.expire(h.now));
    const completed = operate(h, OperatorCallType.GET_FRAMEWORKS).getFrameworks?.completedFrameworks ?? [];
    expect(completed.map((f) => f.frameworkInfo?.id?.value)).toEqual([a.frameworkId]);
    expect(completed[0]?.unregisteredTime?.nanoseconds).toBe(BigInt(h.now) * 1_000_000n);
  });

  it("keeps the newest --max-completed-frameworks removed frameworks", () => {
    const h = withAgent({ maxCompletedFrameworks: 2 });
    const ids = ["s1", "s2", "s3"].map((session) => {
      const id = h.subscribe(session);
      h.scheduler(session, { frameworkId: { value: id }, type: SchedulerCallType.TEARDOWN });
      return id;
    });
    const completed = operate(h, OperatorCallType.GET_STATE).getState?.getFrameworks?.completedFrameworks ?? [];
    expect(completed.map((f) => f.frameworkInfo?.id?.value)).toEqual(ids.slice(1));
  });

  it("still refuses a resubscription under the id of a removed framework", () => {
    const h = withAgent({});
    const id = h.subscribe("s1");
    h.scheduler("s1", { frameworkId: { value: id }, type: SchedulerCallType.TEARDOWN });
    h.scheduler("s2", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: id },
      subscribe: { frameworkInfo: { user: "test", name: "fw", id: { value: id } } },
    });
    expect(h.errors("s2").map((e) => e.message)).toEqual([`Framework ${id} has been removed; subscribe without an id`]);
  });
});
