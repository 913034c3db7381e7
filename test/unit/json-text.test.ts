import { create, type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { filledCore } from "../../bench/state-render.js";
import { Call_Type, CallSchema, type Response, ResponseSchema } from "../../gen/mesos/v1/master/master_pb.js";
import {
  HealthCheck_Type,
  Resource_ReservationInfo_Type,
  type Task,
  TaskInfoSchema,
  TaskSchema,
  TaskState,
  TaskStatus_Reason,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { toMesosJson } from "../../src/gateway/json.js";
import { jsonTextPieces, messageText } from "../../src/gateway/json-text.js";
import { keptItemText } from "../../src/gateway/kept-text.js";

const reference = (desc: DescMessage, message: Message): string => JSON.stringify(toMesosJson(desc, message as never));

/** A task with most of what a real one carries: labels, full statuses, reservations, discovery, a container. */
function richTask(): Task {
  return create(TaskSchema, {
    name: 'web "1" \u00e9\u2028',
    taskId: { value: "web-1" },
    frameworkId: { value: "fw" },
    executorId: { value: "ex" },
    agentId: { value: "agent-1" },
    state: TaskState.TASK_RUNNING,
    statusUpdateState: TaskState.TASK_RUNNING,
    statusUpdateUuid: new Uint8Array([1, 2, 3, 250]),
    user: "nobody",
    resources: [
      {
        name: "cpus",
        type: 0,
        scalar: { value: 0.1 },
        allocationInfo: { role: "web/a" },
        reservations: [
          { type: Resource_ReservationInfo_Type.STATIC, role: "web" },
          {
            type: Resource_ReservationInfo_Type.DYNAMIC,
            role: "web/a",
            principal: "ops",
            labels: { labels: [{ key: "owner", value: "me" }] },
          },
        ],
      },
      { name: "ports", type: 1, ranges: { range: [{ begin: 31000n, end: 31005n }] }, role: "*" },
      {
        name: "disks",
        type: 2,
        set: { item: ["a", "b"] },
        disk: { persistence: { id: "v1", principal: "p" }, volume: { containerPath: "data", mode: 1 } },
      },
    ],
    statuses: [
      {
        taskId: { value: "web-1" },
        state: TaskState.TASK_RUNNING,
        message: "ok",
        source: TaskStatus_Source.EXECUTOR,
        reason: TaskStatus_Reason.COMMAND_EXECUTOR_FAILED,
        data: new Uint8Array([0, 255]),
        agentId: { value: "agent-1" },
        executorId: { value: "ex" },
        timestamp: 1700000000.123,
        uuid: new Uint8Array([9, 8, 7]),
        healthy: true,
        labels: { labels: [{ key: "k", value: "v" }, { key: "only" }] },
        containerStatus: {
          containerId: { value: "c1", parent: { value: "c0" } },
          networkInfos: [{ ipAddresses: [{ ipAddress: "10.0.0.1" }], name: "net", groups: ["g"] }],
          executorPid: 42,
        },
        unreachableTime: { nanoseconds: 5n },
      },
    ],
    labels: { labels: [{ key: "tier", value: "front" }] },
    discovery: {
      visibility: 2,
      name: "web",
      ports: { ports: [{ number: 80, name: "http", protocol: "tcp", labels: { labels: [{ key: "a", value: "b" }] } }] },
    },
    container: {
      type: 2,
      volumes: [{ containerPath: "/data", hostPath: "/srv", mode: 1 }],
      hostname: "web",
      mesos: { image: { type: 2, docker: { name: "nginx" } } },
      networkInfos: [{ name: "net", portMappings: [{ hostPort: 31000, containerPort: 80, protocol: "tcp" }] }],
    },
    healthCheck: { type: HealthCheck_Type.HTTP, http: { port: 80, path: "/" }, delaySeconds: 1 },
    killPolicy: { gracePeriod: { nanoseconds: 1_000_000_000n } },
  });
}

/** Sets every field of a message (one item per list), `depth` levels down: every kind of field is written. */
function everyField(desc: DescMessage, depth: number): Message {
  const init: Record<string, unknown> = {};
  const seenOneofs = new Set<string>();
  for (const field of desc.fields) {
    if (field.oneof !== undefined) {
      if (seenOneofs.has(field.oneof.localName)) continue;
      seenOneofs.add(field.oneof.localName);
      const value = sample(field, depth);
      if (value !== undefined) init[field.oneof.localName] = { case: field.localName, value };
      continue;
    }
    if (field.fieldKind === "list") {
      const item = sample(field, depth);
      if (item !== undefined) init[field.localName] = [item];
    } else if (field.fieldKind === "map") {
      const value = sample(field, depth);
      if (value !== undefined) init[field.localName] = { "2": value, b: value, "1": value };
    } else {
      const value = sample(field, depth);
      if (value !== undefined) init[field.localName] = value;
    }
  }
  return create(desc, init as never);
}

function sample(field: DescField, depth: number): unknown {
  const kind =
    field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
  if (kind === "message") {
    const desc = field.message as DescMessage;
    return depth > 0 ? everyField(desc, depth - 1) : undefined;
  }
  if (kind === "enum") return field.enum?.values.at(-1)?.number;
  switch (field.scalar) {
    case ScalarType.STRING:
      return `s-${field.name}"\\`;
    case ScalarType.BYTES:
      return new Uint8Array([1, 200, 3]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1234567890123n;
    default:
      return 7;
  }
}

describe("Mesos JSON written as text", () => {
  it("writes a rich task exactly as toMesosJson and JSON.stringify do", () => {
    const task = richTask();
    expect(messageText(TaskSchema, task)).toBe(reference(TaskSchema, task));
  });

  it("writes unset proto2 fields with declared defaults as toMesosJson does", () => {
    const bare = create(TaskSchema, {
      name: "t",
      taskId: { value: "t" },
      healthCheck: {},
      container: { type: 1, docker: { image: "i" } },
    });
    expect(messageText(TaskSchema, bare)).toBe(reference(TaskSchema, bare));
    expect(JSON.parse(messageText(TaskSchema, bare))).toMatchObject({
      health_check: { delay_seconds: 15, interval_seconds: 10 },
      container: { docker: { network: "HOST", privileged: false } },
    });
  });

  it("writes every kind of field of Task, TaskInfo and a GET_STATE answer as toMesosJson does", () => {
    for (const desc of [TaskSchema, TaskInfoSchema, ResponseSchema]) {
      const message = everyField(desc, 6);
      expect(messageText(desc, message)).toBe(reference(desc, message));
    }
  });

  it("streams a GET_STATE answer in pieces whose concatenation is the same text, kept tasks included", () => {
    const core = filledCore({ agents: 20, runningPerAgent: 3, finishedPerAgent: 2, frameworks: 4 });
    const read = () => core.operate(create(CallSchema, { type: Call_Type.GET_STATE }), 0).result as Response;
    const first = read();
    const want = reference(ResponseSchema, first);
    expect([...jsonTextPieces(ResponseSchema, first, keptItemText)].join("")).toBe(want);
    // Again with every item's text kept from the first read.
    expect([...jsonTextPieces(ResponseSchema, read(), keptItemText)].join("")).toBe(want);
    expect(JSON.parse(want).get_state.get_tasks.completed_tasks).toHaveLength(40);
  });

  it("writes a task anew once its status moved", () => {
    const task = richTask();
    const before = keptItemText(TaskSchema, task);
    task.state = TaskState.TASK_FINISHED;
    task.statuses = [...task.statuses, create(TaskStatusSchema, { state: TaskState.TASK_FINISHED })];
    const after = keptItemText(TaskSchema, task);
    expect(after).not.toBe(before);
    expect(after).toBe(reference(TaskSchema, task));
  });
});
