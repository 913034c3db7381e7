import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskState, type TaskStatus, TaskStatusSchema } from "../../gen/mesos/v1/mesos_pb.js";
import {
  createStatusUpdateStreams,
  STATUS_UPDATE_RETRY_MAX_MS,
  STATUS_UPDATE_RETRY_MIN_MS,
} from "../../src/core/agent/status-update-stream.js";

let n = 0;
function update(taskId: string, state: TaskState): TaskStatus {
  const uuid = new Uint8Array(16);
  uuid[0] = ++n;
  return create(TaskStatusSchema, { taskId: { value: taskId }, state, uuid });
}

const states = (xs: { status: TaskStatus }[]) => xs.map((x) => [x.status.taskId?.value, x.status.state]);

describe("status update streams", () => {
  it("sends only the head of each task's stream, in order", () => {
    const s = createStatusUpdateStreams();
    const starting = update("t", TaskState.TASK_STARTING);
    const running = update("t", TaskState.TASK_RUNNING);
    expect(s.add("f", starting, 0)).toBe("queued");
    expect(s.add("f", running, 0)).toBe("queued");
    expect(s.add("f", update("u", TaskState.TASK_RUNNING), 0)).toBe("queued");
    expect(states(s.due(0))).toEqual([
      ["t", TaskState.TASK_STARTING],
      ["u", TaskState.TASK_RUNNING],
    ]);
    expect(s.due(1)).toEqual([]);
    s.acknowledge("f", "t", starting.uuid, 5);
    expect(states(s.due(5))).toEqual([["t", TaskState.TASK_RUNNING]]);
    expect(states(s.pending())).toEqual([
      ["t", TaskState.TASK_RUNNING],
      ["u", TaskState.TASK_RUNNING],
    ]);
  });

  it("resends the head with doubling backoff, capped at 10 minutes", () => {
    const s = createStatusUpdateStreams();
    s.add("f", update("t", TaskState.TASK_RUNNING), 0);
    const sentAt: number[] = [];
    for (let now = 0; now <= 40 * 60_000; now += 1000) {
      if (s.due(now).length > 0) sentAt.push(now);
    }
    const gaps = sentAt.slice(1).map((t, i) => t - (sentAt[i] ?? 0));
    expect(gaps.slice(0, 4)).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(Math.max(...gaps)).toBe(STATUS_UPDATE_RETRY_MAX_MS);
    expect(s.nextDueAt()).toBeGreaterThan(40 * 60_000);
  });

  it("ignores duplicate and stale acknowledgements", () => {
    const s = createStatusUpdateStreams();
    const a = update("t", TaskState.TASK_STARTING);
    const b = update("t", TaskState.TASK_RUNNING);
    s.add("f", a, 0);
    s.add("f", b, 0);
    s.due(0);
    expect(s.acknowledge("f", "t", b.uuid, 1)).toEqual({ kind: "stale" });
    expect(s.acknowledge("f", "t", a.uuid, 1)).toEqual({ kind: "acknowledged", terminal: false });
    expect(s.acknowledge("f", "t", a.uuid, 2)).toEqual({ kind: "stale" });
    expect(s.acknowledge("f", "nope", a.uuid, 2)).toEqual({ kind: "unknown-task" });
    expect(states(s.pending())).toEqual([["t", TaskState.TASK_RUNNING]]);
  });

  it("drops replayed updates by uuid", () => {
    const s = createStatusUpdateStreams();
    const a = update("t", TaskState.TASK_RUNNING);
    expect(s.add("f", a, 0)).toBe("queued");
    expect(s.add("f", a, 0)).toBe("duplicate");
    expect(s.pending()).toHaveLength(1);
  });

  it("ends a task's stream when its terminal update is acknowledged", () => {
    const s = createStatusUpdateStreams();
    const done = update("t", TaskState.TASK_FINISHED);
    s.add("f", done, 0);
    expect(s.add("f", update("t", TaskState.TASK_RUNNING), 0)).toBe("stream-terminated");
    expect(s.acknowledge("f", "t", done.uuid, 1)).toEqual({ kind: "acknowledged", terminal: true });
    expect(s.pending()).toEqual([]);
    expect(s.nextDueAt()).toBeUndefined();
    expect(s.has("f", "t")).toBe(false);
  });

  it("makes every head due at once after a reconnect", () => {
    const s = createStatusUpdateStreams();
    s.add("f", update("t", TaskState.TASK_RUNNING), 0);
    s.due(0);
    s.due(STATUS_UPDATE_RETRY_MIN_MS);
    expect(s.due(STATUS_UPDATE_RETRY_MIN_MS + 1)).toEqual([]);
    s.resetBackoff(STATUS_UPDATE_RETRY_MIN_MS + 1);
    expect(s.due(STATUS_UPDATE_RETRY_MIN_MS + 1)).toHaveLength(1);
    expect(s.nextDueAt()).toBe(2 * STATUS_UPDATE_RETRY_MIN_MS + 1);
  });
});
