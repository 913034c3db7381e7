/**
 * The calls the v1/v2 parity test sends: every scheduler call type with
 * each class of invalid field, in Mesos' JSON, with the answer Mesos' v1
 * API gives it. Kept apart from the test so the table reads as one.
 */
import { Call_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import type { Json } from "./gateway-v1-client.js";

export interface Row {
  call: Call_Type;
  /** The class of invalid field. */
  what: string;
  /** The call in Mesos' JSON, for the framework `fw` each API subscribed. */
  body: (fw: string) => Json;
  /** Mesos' answer on v1: a refusal's status, or 202 for a call that passes validation. */
  v1: 202 | 400 | 501;
  /** For a 202: the Error a v2 stream also gets, reporting what the master did instead (none: undefined). */
  reports?: Error_Code;
  /** v1 names the framework by the call, v2 by the stream, so they word this refusal differently. */
  ownWords?: true;
}

export const withFw = (fw: string, type: string, rest: Json = {}): Json => ({
  framework_id: { value: fw },
  type,
  ...rest,
});
const uuid16 = Buffer.alloc(16, 7).toString("base64");
const uuid3 = Buffer.from([1, 2, 3]).toString("base64");
const task = { task_id: { value: "parity-task" }, agent_id: { value: "no-such-agent" } };
const info = (fw: string, extra: Json = {}) => ({ user: "test", name: "parity", id: { value: fw }, ...extra });

/** Calls on a subscribed framework. */
export const ROWS: Row[] = [
  { call: Call_Type.UNKNOWN, what: "no type", body: (fw) => ({ framework_id: { value: fw } }), v1: 400 },
  { call: Call_Type.TEARDOWN, what: "no framework_id", body: () => ({ type: "TEARDOWN" }), v1: 400 },
  {
    call: Call_Type.TEARDOWN,
    what: "another framework's id",
    body: () => withFw("no-such-framework", "TEARDOWN"),
    v1: 400,
    ownWords: true,
  },
  { call: Call_Type.ACCEPT, what: "no accept", body: (fw) => withFw(fw, "ACCEPT"), v1: 400 },
  {
    call: Call_Type.ACCEPT,
    what: "unknown offer",
    body: (fw) =>
      withFw(fw, "ACCEPT", {
        accept: {
          offer_ids: [{ value: "no-such-offer" }],
          operations: [
            {
              type: "LAUNCH",
              launch: {
                task_infos: [
                  {
                    name: "t",
                    ...task,
                    command: { value: "true" },
                    resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
                  },
                ],
              },
            },
          ],
        },
      }),
    v1: 202,
    reports: Error_Code.INVALID_ARGUMENT,
  },
  { call: Call_Type.DECLINE, what: "no decline", body: (fw) => withFw(fw, "DECLINE"), v1: 400 },
  {
    call: Call_Type.DECLINE,
    what: "unknown offer",
    body: (fw) => withFw(fw, "DECLINE", { decline: { offer_ids: [{ value: "no-such-offer" }] } }),
    v1: 202,
    reports: Error_Code.NOT_FOUND,
  },
  { call: Call_Type.REVIVE, what: "no framework_id", body: () => ({ type: "REVIVE" }), v1: 400 },
  {
    call: Call_Type.REVIVE,
    what: "another framework's id",
    body: () => withFw("no-such-framework", "REVIVE"),
    v1: 400,
    ownWords: true,
  },
  { call: Call_Type.SUPPRESS, what: "no framework_id", body: () => ({ type: "SUPPRESS" }), v1: 400 },
  { call: Call_Type.KILL, what: "no kill", body: (fw) => withFw(fw, "KILL"), v1: 400 },
  { call: Call_Type.KILL, what: "no kill.task_id", body: (fw) => withFw(fw, "KILL", { kill: {} }), v1: 400 },
  { call: Call_Type.KILL, what: "unknown task", body: (fw) => withFw(fw, "KILL", { kill: task }), v1: 202 },
  { call: Call_Type.SHUTDOWN, what: "no shutdown", body: (fw) => withFw(fw, "SHUTDOWN"), v1: 400 },
  {
    call: Call_Type.SHUTDOWN,
    what: "no executor_id and agent_id",
    body: (fw) => withFw(fw, "SHUTDOWN", { shutdown: {} }),
    v1: 400,
  },
  {
    call: Call_Type.SHUTDOWN,
    what: "unknown agent",
    body: (fw) =>
      withFw(fw, "SHUTDOWN", { shutdown: { executor_id: { value: "e" }, agent_id: { value: "no-such-agent" } } }),
    v1: 202,
    reports: Error_Code.NOT_FOUND,
  },
  { call: Call_Type.ACKNOWLEDGE, what: "no acknowledge", body: (fw) => withFw(fw, "ACKNOWLEDGE"), v1: 400 },
  {
    call: Call_Type.ACKNOWLEDGE,
    what: "malformed uuid (3 bytes)",
    body: (fw) => withFw(fw, "ACKNOWLEDGE", { acknowledge: { ...task, uuid: uuid3 } }),
    v1: 400,
  },
  {
    call: Call_Type.ACKNOWLEDGE,
    what: "no uuid",
    body: (fw) => withFw(fw, "ACKNOWLEDGE", { acknowledge: task }),
    v1: 400,
  },
  {
    call: Call_Type.ACKNOWLEDGE,
    what: "no agent_id",
    body: (fw) => withFw(fw, "ACKNOWLEDGE", { acknowledge: { task_id: task.task_id, uuid: uuid16 } }),
    v1: 400,
  },
  {
    call: Call_Type.ACKNOWLEDGE,
    what: "unknown agent",
    body: (fw) => withFw(fw, "ACKNOWLEDGE", { acknowledge: { ...task, uuid: uuid16 } }),
    v1: 202,
    reports: Error_Code.NOT_FOUND,
  },
  ...operationStatusRows(),
  { call: Call_Type.RECONCILE, what: "no reconcile", body: (fw) => withFw(fw, "RECONCILE"), v1: 400 },
  {
    call: Call_Type.RECONCILE,
    what: "a task without task_id",
    body: (fw) => withFw(fw, "RECONCILE", { reconcile: { tasks: [{ agent_id: task.agent_id }] } }),
    v1: 400,
  },
  {
    call: Call_Type.RECONCILE,
    what: "unknown task",
    body: (fw) => withFw(fw, "RECONCILE", { reconcile: { tasks: [task] } }),
    v1: 202,
  },
  {
    call: Call_Type.RECONCILE_OPERATIONS,
    what: "no reconcile_operations",
    body: (fw) => withFw(fw, "RECONCILE_OPERATIONS"),
    v1: 400,
  },
  {
    call: Call_Type.RECONCILE_OPERATIONS,
    what: "valid, not served yet",
    body: (fw) => withFw(fw, "RECONCILE_OPERATIONS", { reconcile_operations: {} }),
    v1: 501,
  },
  { call: Call_Type.MESSAGE, what: "no message", body: (fw) => withFw(fw, "MESSAGE"), v1: 400 },
  {
    call: Call_Type.MESSAGE,
    what: "no agent_id",
    body: (fw) => withFw(fw, "MESSAGE", { message: { executor_id: { value: "e" }, data: "" } }),
    v1: 400,
  },
  {
    call: Call_Type.MESSAGE,
    what: "unknown agent",
    body: (fw) =>
      withFw(fw, "MESSAGE", { message: { agent_id: task.agent_id, executor_id: { value: "e" }, data: "aGk=" } }),
    v1: 202,
    reports: Error_Code.NOT_FOUND,
  },
  { call: Call_Type.REQUEST, what: "no request", body: (fw) => withFw(fw, "REQUEST"), v1: 400 },
  { call: Call_Type.REQUEST, what: "valid", body: (fw) => withFw(fw, "REQUEST", { request: {} }), v1: 202 },
  {
    call: Call_Type.ACCEPT_INVERSE_OFFERS,
    what: "no accept_inverse_offers",
    body: (fw) => withFw(fw, "ACCEPT_INVERSE_OFFERS"),
    v1: 400,
  },
  {
    call: Call_Type.DECLINE_INVERSE_OFFERS,
    what: "no decline_inverse_offers",
    body: (fw) => withFw(fw, "DECLINE_INVERSE_OFFERS"),
    v1: 400,
  },
  {
    call: Call_Type.UPDATE_FRAMEWORK,
    what: "no update_framework",
    body: (fw) => withFw(fw, "UPDATE_FRAMEWORK"),
    v1: 400,
  },
  {
    call: Call_Type.UPDATE_FRAMEWORK,
    what: "framework_info.id differs",
    body: (fw) => withFw(fw, "UPDATE_FRAMEWORK", { update_framework: { framework_info: info("other") } }),
    v1: 400,
  },
  {
    call: Call_Type.UPDATE_FRAMEWORK,
    what: "another principal",
    body: (fw) =>
      withFw(fw, "UPDATE_FRAMEWORK", { update_framework: { framework_info: info(fw, { principal: "intruder" }) } }),
    v1: 400,
  },
  {
    call: Call_Type.UPDATE_FRAMEWORK,
    what: "invalid role",
    body: (fw) =>
      withFw(fw, "UPDATE_FRAMEWORK", { update_framework: { framework_info: info(fw, { role: "a role" }) } }),
    v1: 400,
  },
];

function operationStatusRows(): Row[] {
  const ack = (fw: string, fields: Json) => withFw(fw, "ACKNOWLEDGE_OPERATION_STATUS", fields);
  const full = { agent_id: task.agent_id, operation_id: { value: "op" }, uuid: uuid16 };
  const type = Call_Type.ACKNOWLEDGE_OPERATION_STATUS;
  return [
    { call: type, what: "no acknowledge_operation_status", body: (fw) => ack(fw, {}), v1: 400 },
    {
      call: type,
      what: "malformed uuid (3 bytes)",
      body: (fw) => ack(fw, { acknowledge_operation_status: { ...full, uuid: uuid3 } }),
      v1: 400,
    },
    {
      call: type,
      what: "no agent_id",
      body: (fw) => ack(fw, { acknowledge_operation_status: { ...full, agent_id: undefined } }),
      v1: 400,
    },
    {
      call: type,
      what: "no operation_id",
      body: (fw) => ack(fw, { acknowledge_operation_status: { ...full, operation_id: undefined } }),
      v1: 400,
    },
    {
      call: type,
      what: "valid, not served yet",
      body: (fw) => ack(fw, { acknowledge_operation_status: full }),
      v1: 501,
    },
  ];
}

export interface SubscribeRow {
  what: string;
  /** The SUBSCRIBE body; `ids` are the frameworks the test set up. */
  body: (ids: { owned: string; removed: string }) => Json;
  /** 400 before any stream, or 200 with one ERROR event and the stream's end (Mesos' answer to a refused subscription). */
  v1: 400 | "ERROR event";
}

export const subscribeCall = (frameworkInfo: Json, frameworkId?: string): Json => ({
  type: "SUBSCRIBE",
  ...(frameworkId === undefined ? {} : { framework_id: { value: frameworkId } }),
  subscribe: { framework_info: frameworkInfo },
});

export const SUBSCRIBE_ROWS: SubscribeRow[] = [
  { what: "no subscribe", body: () => ({ type: "SUBSCRIBE" }), v1: 400 },
  { what: "no framework_info.user", body: () => subscribeCall({ name: "parity" }), v1: 400 },
  { what: "empty framework_info.user", body: () => subscribeCall({ user: "", name: "parity" }), v1: 400 },
  { what: "no framework_info.name", body: () => subscribeCall({ user: "test" }), v1: 400 },
  {
    what: "framework_id differs from framework_info.id",
    body: () => subscribeCall({ user: "test", name: "parity", id: { value: "a" } }, "b"),
    v1: 400,
  },
  { what: "invalid role", body: () => subscribeCall({ user: "test", name: "parity", role: "a role" }), v1: 400 },
  {
    what: "another principal than the framework had",
    body: ({ owned }) =>
      subscribeCall({ user: "test", name: "parity", id: { value: owned }, principal: "intruder" }, owned),
    v1: "ERROR event",
  },
  {
    what: "a removed framework's id",
    body: ({ removed }) => subscribeCall({ user: "test", name: "parity", id: { value: removed } }, removed),
    v1: "ERROR event",
  },
];
