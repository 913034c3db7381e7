/**
 * The agent's history as Mesos' agent keeps it: acknowledged tasks under
 * their executor, exited executors under their framework (bounded by
 * --max-completed-executors-per-framework), idle frameworks as completed
 * (the newest 50).
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  AgentInfoSchema,
  FrameworkInfoSchema,
  TaskInfoSchema,
  TaskState,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type AgentCore, createAgentCore } from "../../src/core/agent/agent-core.js";
import { MAX_COMPLETED_FRAMEWORKS } from "../../src/core/agent/history.js";
import { createCounterIds } from "../../src/core/clock.js";

let uuids = 0;
function uuid(): Uint8Array {
  const bytes = new Uint8Array(16);
  uuids++;
  bytes[14] = uuids >> 8;
  bytes[15] = uuids & 0xff;
  return bytes;
}

function registeredCore(maxCompletedExecutorsPerFramework?: number): AgentCore {
  const core = createAgentCore({
    workDir: "/work",
    agentInfo: create(AgentInfoSchema, { hostname: "h", port: 5051 }),
    version: "test",
    ids: createCounterIds("c"),
    uuid,
    maxCompletedExecutorsPerFramework,
  });
  core.registered("agent-1", 0);
  return core;
}

const info = (id: string) => create(FrameworkInfoSchema, { id: { value: id }, name: id, user: "me" });

/** Runs a command task to TASK_FINISHED; its executor exits, then (unless `ack` is false) the master acknowledges. */
function runToEnd(core: AgentCore, frameworkId: string, taskId: string, ack = true): void {
  core.runTask(
    info(frameworkId),
    create(TaskInfoSchema, { name: taskId, taskId: { value: taskId }, command: { value: "true" } }),
    0,
  );
  core.executorSubscribed(frameworkId, taskId, undefined, 0);
  const done = create(TaskStatusSchema, {
    taskId: { value: taskId },
    state: TaskState.TASK_FINISHED,
    uuid: uuid(),
    source: TaskStatus_Source.EXECUTOR,
  });
  core.executorUpdate(frameworkId, taskId, done, 1);
  core.executorExited(frameworkId, taskId, { status: 0, description: "exited with status 0" }, 2);
  if (ack) core.acknowledge(frameworkId, taskId, done.uuid, 3);
}

const executorIds = (list: ReadonlyArray<{ executorId: string }> | undefined) => (list ?? []).map((e) => e.executorId);

describe("agent history", () => {
  it("keeps an exited executor under its framework, and its task once acknowledged", () => {
    const core = registeredCore();
    runToEnd(core, "fw", "t1", false);
    // Exited, but its task's terminal update is not acknowledged yet: the framework is still here.
    expect([...core.state.frameworks.keys()]).toEqual(["fw"]);
    expect(executorIds(core.state.history.completedExecutors.get("fw"))).toEqual(["t1"]);

    const update = core.registration().tasks?.[0]?.statuses?.[0];
    core.acknowledge("fw", "t1", update?.uuid ?? new Uint8Array(), 4);
    expect(core.state.frameworks.size).toBe(0);
    const [completed] = core.state.history.completedFrameworks;
    expect(completed?.info.id?.value).toBe("fw");
    const [executor] = completed?.completedExecutors ?? [];
    expect(executor?.executorId).toBe("t1");
    expect(executor?.completedTasks.map((t) => [t.info.taskId?.value, TaskState[t.state]])).toEqual([
      ["t1", "TASK_FINISHED"],
    ]);
  });

  it("keeps the newest --max-completed-executors-per-framework exited executors of a framework", () => {
    const core = registeredCore(2);
    // A task that keeps running holds the framework here.
    core.runTask(
      info("fw"),
      create(TaskInfoSchema, { name: "keep", taskId: { value: "keep" }, command: { value: "sleep 1000" } }),
      0,
    );
    for (const id of ["t1", "t2", "t3"]) runToEnd(core, "fw", id);
    expect([...core.state.frameworks.keys()]).toEqual(["fw"]);
    expect(executorIds(core.state.history.completedExecutors.get("fw"))).toEqual(["t2", "t3"]);
  });

  it("keeps the newest 50 completed frameworks", () => {
    const core = registeredCore();
    const ids = Array.from({ length: MAX_COMPLETED_FRAMEWORKS + 1 }, (_, i) => `fw-${i}`);
    for (const id of ids) runToEnd(core, id, "t");
    const kept = core.state.history.completedFrameworks.map((f) => f.info.id?.value);
    expect(kept).toEqual(ids.slice(1));
  });
});
