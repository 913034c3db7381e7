import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Event_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  AgentInfoSchema,
  FrameworkInfo_Capability_Type,
  FrameworkInfoSchema,
  type TaskInfo,
  TaskInfoSchema,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type AgentCore, type AgentEffect, createAgentCore } from "../../src/core/agent/agent-core.js";
import { createCounterIds } from "../../src/core/clock.js";

let uuids = 0;
function uuid(): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[15] = ++uuids;
  return bytes;
}

const framework = create(FrameworkInfoSchema, { id: { value: "fw" }, name: "test", user: "me" });

function commandTask(id: string): TaskInfo {
  return create(TaskInfoSchema, { name: id, taskId: { value: id }, command: { value: "echo hi" } });
}

function registeredCore(): AgentCore {
  const core = createAgentCore({
    workDir: "/work",
    agentInfo: create(AgentInfoSchema, { hostname: "h", port: 5051 }),
    version: "test",
    ids: createCounterIds("c"),
    uuid,
  });
  core.registered("agent-1", 0);
  return core;
}

/** Status updates an effect list sends to the master. */
function sentUpdates(effects: AgentEffect[]): TaskStatus[] {
  return effects.flatMap((e) =>
    e.kind === "to-master" && e.call.call.case === "statusUpdate" && e.call.call.value.status !== undefined
      ? [e.call.call.value.status]
      : [],
  );
}

function executorEvents(effects: AgentEffect[]): Event_Type[] {
  return effects.flatMap((e) => (e.kind === "to-executor" ? [e.event.type] : []));
}

function status(taskId: string, state: TaskState): TaskStatus {
  return create(TaskStatusSchema, {
    taskId: { value: taskId },
    state,
    uuid: uuid(),
    source: TaskStatus_Source.EXECUTOR,
  });
}

describe("agent core", () => {
  it("launches a command task's executor in a Mesos sandbox and LAUNCHes on SUBSCRIBE", () => {
    const core = registeredCore();
    const effects = core.runTask(framework, commandTask("t1"), 0);
    expect(effects).toHaveLength(1);
    const launch = effects[0];
    if (launch?.kind !== "launch-executor") throw new Error("expected launch-executor");
    expect(launch.launch.kind).toBe("command");
    expect(launch.launch.executorId).toBe("t1");
    expect(launch.launch.sandbox).toBe("/work/slaves/agent-1/frameworks/fw/executors/t1/runs/c-container-1");

    const subscribed = core.executorSubscribed("fw", "t1", undefined, 1);
    expect(subscribed.refusal).toBeUndefined();
    expect(executorEvents(subscribed.effects)).toEqual([Event_Type.SUBSCRIBED, Event_Type.LAUNCH]);
  });

  it("refuses an unknown executor", () => {
    const core = registeredCore();
    expect(core.executorSubscribed("fw", "nope", undefined, 0).refusal?.code).toBe("not-found");
  });

  it("forwards executor updates to the master and acknowledges them to the executor", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    const { effects } = core.executorUpdate("fw", "t1", status("t1", TaskState.TASK_RUNNING), 1);
    const [sent] = sentUpdates(effects);
    expect(sent?.state).toBe(TaskState.TASK_RUNNING);
    expect(sent?.agentId?.value).toBe("agent-1");
    expect(executorEvents(effects)).toEqual([Event_Type.ACKNOWLEDGED]);
    expect(core.registration().tasks?.map((t) => t.state)).toEqual([TaskState.TASK_RUNNING]);
  });

  it("holds updates while disconnected and resends them on registration", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    core.disconnected();
    expect(sentUpdates(core.executorUpdate("fw", "t1", status("t1", TaskState.TASK_RUNNING), 1).effects)).toEqual([]);
    expect(core.nextTickAt()).toBeUndefined();
    expect(sentUpdates(core.registered("agent-1", 2)).map((s) => s.state)).toEqual([TaskState.TASK_RUNNING]);
  });

  it("forgets a task once its terminal update is acknowledged", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    const done = status("t1", TaskState.TASK_FINISHED);
    core.executorUpdate("fw", "t1", done, 1);
    core.acknowledge("fw", "t1", done.uuid, 2);
    expect(core.registration().tasks).toEqual([]);
  });

  it("ends, reliably, the tasks the master asks about that it does not know, and leaves its own alone", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("mine"), 0);
    const partitionAware = create(FrameworkInfoSchema, {
      id: framework.id,
      name: framework.name,
      user: framework.user,
      capabilities: [{ type: FrameworkInfo_Capability_Type.PARTITION_AWARE }],
    });
    const [dropped, ...others] = sentUpdates(core.reconcileTasks(partitionAware, ["mine", "lost-in-restart"], 1));
    expect(others).toEqual([]);
    expect(dropped?.taskId?.value).toBe("lost-in-restart");
    expect(dropped?.state).toBe(TaskState.TASK_DROPPED);
    expect(dropped?.reason).toBe(TaskStatus_Reason.RECONCILIATION);
    expect(dropped?.source).toBe(TaskStatus_Source.AGENT);
    // Unacknowledged, it is resent; asked again, it is not made twice.
    expect(sentUpdates(core.reconcileTasks(partitionAware, ["lost-in-restart"], 2))).toEqual([]);
    const next = core.nextTickAt() ?? Number.POSITIVE_INFINITY;
    expect(sentUpdates(core.tick(next)).map((s) => s.uuid)).toEqual([dropped?.uuid]);
    core.acknowledge("fw", "lost-in-restart", dropped?.uuid ?? new Uint8Array(), next + 1);
    expect(core.nextTickAt()).toBeUndefined();
    // A framework that is not partition-aware hears TASK_LOST.
    const [lost] = sentUpdates(core.reconcileTasks(framework, ["other"], 3));
    expect(lost?.state).toBe(TaskState.TASK_LOST);
  });

  it("answers a kill of an unknown task with TASK_LOST / REASON_TASK_UNKNOWN", () => {
    const core = registeredCore();
    const [sent] = sentUpdates(core.killTask("fw", "ghost", undefined, 0));
    expect(sent?.state).toBe(TaskState.TASK_LOST);
    expect(sent?.reason).toBe(TaskStatus_Reason.TASK_UNKNOWN);
    expect(sent?.source).toBe(TaskStatus_Source.AGENT);
  });

  it("kills a task whose executor has not subscribed without launching it", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    const effects = core.killTask("fw", "t1", undefined, 1);
    expect(sentUpdates(effects).map((s) => s.state)).toEqual([TaskState.TASK_KILLED]);
    expect(effects.some((e) => e.kind === "stop-executor")).toBe(true);
  });

  it("sends KILL to a running executor", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    expect(executorEvents(core.killTask("fw", "t1", undefined, 1))).toEqual([Event_Type.KILL]);
  });

  it("fails tasks left without a terminal update when their executor exits", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    core.executorUpdate("fw", "t1", status("t1", TaskState.TASK_RUNNING), 1);
    const effects = core.executorExited("fw", "t1", { status: 9, description: "terminated with signal SIGKILL" }, 2);
    const calls = effects.flatMap((e) => (e.kind === "to-master" ? [e.call.call.case] : []));
    expect(calls).toContain("executorExited");
    // The RUNNING update is still unacknowledged, so FAILED waits behind it.
    const failed = core.state.updates.latest("fw", "t1");
    expect(failed?.state).toBe(TaskState.TASK_FAILED);
    expect(failed?.reason).toBe(TaskStatus_Reason.EXECUTOR_TERMINATED);
    expect(failed?.message).toContain("SIGKILL");
  });

  it("rejects a task with neither command nor executor as TASK_ERROR", () => {
    const core = registeredCore();
    const task = create(TaskInfoSchema, { name: "x", taskId: { value: "x" } });
    expect(sentUpdates(core.runTask(framework, task, 0)).map((s) => s.state)).toEqual([TaskState.TASK_ERROR]);
  });

  it("rejects ids that would escape the sandbox tree", () => {
    const core = registeredCore();
    expect(sentUpdates(core.runTask(framework, commandTask(".."), 0)).map((s) => s.state)).toEqual([
      TaskState.TASK_ERROR,
    ]);
  });

  it("shuts a framework's executors down", () => {
    const core = registeredCore();
    core.runTask(framework, commandTask("t1"), 0);
    core.executorSubscribed("fw", "t1", undefined, 0);
    const effects = core.shutdownFramework("fw", 1);
    expect(executorEvents(effects)).toEqual([Event_Type.SHUTDOWN]);
    const exited = core.executorExited("fw", "t1", { status: 9, description: "terminated with signal SIGTERM" }, 2);
    expect(sentUpdates(exited).map((s) => s.state)).toEqual([TaskState.TASK_KILLED]);
  });
});
