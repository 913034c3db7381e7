/**
 * The two scheduler APIs must never drift: every scheduler call type, with
 * each class of invalid field, goes through v1 (POST /api/v1/scheduler,
 * JSON) and v2 (the Connect stream) against one real master, and the
 * outcomes are compared through the contract below. A change that makes one
 * API accept what the other refuses, or refuse it differently, fails here.
 */
import { isDeepStrictEqual } from "node:util";
import { enumToJson, isFieldSet } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskStateSchema, TaskStatus_ReasonSchema, TaskStatusSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type, Call_TypeSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { Error_Code, type Error as StreamError } from "../../gen/mesos/v2/mesos_pb.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { callFromJson, openRawScheduler, type RawSchedulerStream } from "../helpers/raw-scheduler-stream.js";
import { type Answer, eventOf, events, type Json, request, type Stream, subscribe } from "./gateway-v1-client.js";

/** The contract: what a v1 status means on the v2 stream. */
const V2_CODE_OF_V1_STATUS: Record<number, Error_Code> = {
  400: Error_Code.INVALID_ARGUMENT,
  403: Error_Code.FAILED_PRECONDITION,
  501: Error_Code.UNIMPLEMENTED,
  503: Error_Code.UNAVAILABLE,
};
/** v1 says why a call failed Mesos' validation after this prefix; v2 says the same words alone. */
const V1_VALIDATION_PREFIX = "Failed to validate scheduler::Call: ";

interface Row {
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

const withFw = (fw: string, type: string, rest: Json = {}): Json => ({ framework_id: { value: fw }, type, ...rest });
const uuid16 = Buffer.alloc(16, 7).toString("base64");
const uuid3 = Buffer.from([1, 2, 3]).toString("base64");
const task = { task_id: { value: "parity-task" }, agent_id: { value: "no-such-agent" } };
const info = (fw: string, extra: Json = {}) => ({ user: "test", name: "parity", id: { value: fw }, ...extra });

/** Calls on a subscribed framework. */
const ROWS: Row[] = [
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

interface SubscribeRow {
  what: string;
  /** The SUBSCRIBE body; `ids` are the frameworks the test set up. */
  body: (ids: { owned: string; removed: string }) => Json;
  /** 400 before any stream, or 200 with one ERROR event and the stream's end (Mesos' answer to a refused subscription). */
  v1: 400 | "ERROR event";
}

const subscribeCall = (frameworkInfo: Json, frameworkId?: string): Json => ({
  type: "SUBSCRIBE",
  ...(frameworkId === undefined ? {} : { framework_id: { value: frameworkId } }),
  subscribe: { framework_info: frameworkInfo },
});

const SUBSCRIBE_ROWS: SubscribeRow[] = [
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

/** One API's outcome, in words both share. */
interface Outcome {
  /** v1: the HTTP status (200 for a stream that carries the refusal); v2: the Error's code, if any. */
  answer: string;
  message?: string;
  /** Refusals a SUBSCRIBE's stream carried before it ended. */
  streamErrors?: number;
}

const codeName = (code: Error_Code | undefined): string => (code === undefined ? "none" : Error_Code[code]);

function v1Outcome(answer: Answer): Outcome {
  const body = answer.body.toString();
  return {
    answer: String(answer.status),
    message: body.startsWith(V1_VALIDATION_PREFIX) ? body.slice(V1_VALIDATION_PREFIX.length) : body,
  };
}

function v2Outcome(errors: StreamError[]): Outcome {
  const [first] = errors;
  return { answer: codeName(first?.code), message: first?.message ?? "" };
}

/** The task updates a call caused, in words both APIs share. */
type Update = [task: string, state: string, reason: string];

describe("the v1 and v2 scheduler APIs refuse the same calls the same way", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  const v1Streams: Stream[] = [];
  const v2Streams: RawSchedulerStream[] = [];
  let v1: { stream: Stream; fw: string };
  let v2: { stream: RawSchedulerStream; fw: string };

  const openV1 = async (body: Json): Promise<Stream> => {
    const stream = await subscribe(master.port, { "content-type": "application/json" }, JSON.stringify(body));
    v1Streams.push(stream);
    return stream;
  };
  const openV2 = (body: Json): RawSchedulerStream => {
    const stream = openRawScheduler(master.port, callFromJson(body));
    v2Streams.push(stream);
    return stream;
  };
  const frameworkIdOf = async (stream: Stream): Promise<string> =>
    ((await eventOf(stream, "SUBSCRIBED")).subscribed as { framework_id: { value: string } }).framework_id.value;
  const v1Call = (stream: Stream, body: Json): Promise<Answer> =>
    request(master.port, "/api/v1/scheduler", {
      headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
      body: [JSON.stringify(body)],
    });

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0"], "master listening");
    const v1Stream = await openV1(subscribeCall({ user: "test", name: "parity-v1", failover_timeout: 60 }));
    v1 = { stream: v1Stream, fw: await frameworkIdOf(v1Stream) };
    const v2Stream = openV2(subscribeCall({ user: "test", name: "parity-v2", failover_timeout: 60 }));
    expect(await v2Stream.first()).toEqual([]);
    const subscribed = v2Stream.responses.find((r) => r.callId === "first" && r.event.case === "scheduler");
    const fw = subscribed?.event.case === "scheduler" ? subscribed.event.value.subscribed?.frameworkId?.value : "";
    v2 = { stream: v2Stream, fw: fw ?? "" };
  });

  afterAll(async () => {
    for (const s of v1Streams) s.close();
    await Promise.all(v2Streams.map((s) => s.close()));
    await scope.cleanup();
  });

  it("has a row for every scheduler call type", () => {
    const covered = new Set([...ROWS.map((r) => r.call), Call_Type.SUBSCRIBE]);
    const all = Call_TypeSchema.values.map((v) => v.number as Call_Type);
    expect(all.filter((t) => !covered.has(t)).map((t) => Call_Type[t])).toEqual([]);
  });

  it("answers each invalid call on a subscribed framework alike", async () => {
    const drifts: unknown[] = [];
    for (const row of ROWS) {
      const name = `${Call_Type[row.call]}: ${row.what}`;
      const v1Before = updatesOn(events(v1.stream)).length;
      const v2Before = v2Updates(v2.stream).length;
      const one = v1Outcome(await v1Call(v1.stream, row.body(v1.fw)));
      const two = v2Outcome(await v2.stream.outcome(callFromJson(row.body(v2.fw))));
      const expected: Outcome =
        row.v1 === 202
          ? { answer: "202", message: "" }
          : { answer: String(row.v1), message: row.ownWords ? one.message : two.message };
      const expectedV2 = codeName(row.v1 === 202 ? row.reports : V2_CODE_OF_V1_STATUS[row.v1]);
      if (!isDeepStrictEqual(one, expected) || two.answer !== expectedV2)
        drifts.push({ call: name, v1: one, v2: two, wanted: { v1: row.v1, v2: expectedV2 } });
      // What the master did instead of refusing must also be the same.
      const v2New = v2Updates(v2.stream).slice(v2Before);
      const v1New = await eventually(() => {
        const seen = updatesOn(events(v1.stream)).slice(v1Before);
        return seen.length >= v2New.length ? seen : undefined;
      }, `${name}: the v1 stream's updates`);
      if (!isDeepStrictEqual(v1New, v2New)) drifts.push({ call: name, v1Updates: v1New, v2Updates: v2New });
    }
    expect(drifts).toEqual([]);
    // v1 libraries take an ERROR event as fatal: a refused call never sends one.
    expect(events(v1.stream).filter((e) => e.type === "ERROR")).toEqual([]);
    // No refusal ended either framework's stream.
    expect(v1.stream.ended).toBe(false);
    expect(v2.stream.ended).toBe(false);
  });

  it("answers each invalid SUBSCRIBE alike, with one ERROR when the stream carries it", async () => {
    // A framework with a principal, connected, and one that was torn down.
    const ownerStream = await openV1(
      subscribeCall({ user: "test", name: "owner", principal: "owner", failover_timeout: 600 }),
    );
    const owned = await frameworkIdOf(ownerStream);
    const doomed = await openV1(subscribeCall({ user: "test", name: "doomed" }));
    const removed = await frameworkIdOf(doomed);
    expect((await v1Call(doomed, withFw(removed, "TEARDOWN"))).status).toBe(202);

    const drifts: unknown[] = [];
    for (const row of SUBSCRIBE_ROWS) {
      const body = row.body({ owned, removed });
      const one = await v1SubscribeOutcome(await openV1(body));
      const two = await v2SubscribeOutcome(openV2(body));
      const expected: Outcome =
        row.v1 === 400
          ? { answer: "400", message: two.message }
          : { answer: "200", message: two.message, streamErrors: 1 };
      const expectedV2: Outcome =
        row.v1 === 400
          ? { answer: "INVALID_ARGUMENT", message: two.message }
          : { answer: "FAILED_PRECONDITION", message: two.message, streamErrors: 1 };
      if (!isDeepStrictEqual(one, expected) || !isDeepStrictEqual(two, expectedV2))
        drifts.push({ subscribe: row.what, v1: one, v2: two });
    }
    expect(drifts).toEqual([]);
    // The refused intruder did not take the framework over.
    expect(ownerStream.ended).toBe(false);
    expect(events(ownerStream).map((e) => e.type)).not.toContain("ERROR");
  });

  it("answers a call for a framework that is not subscribed alike: 403 and FAILED_PRECONDITION", async () => {
    const away = await openV1(subscribeCall({ user: "test", name: "away", failover_timeout: 600 }));
    const fw = await frameworkIdOf(away);
    away.close();
    const one = await eventually(async () => {
      const answer = await v1Call(away, withFw(fw, "REVIVE"));
      return answer.status === 202 ? undefined : answer;
    }, "the master to see the framework go");
    // On v2 the stream, not the call, says who the framework is: a stream that never subscribed.
    const two = await openV2(withFw(fw, "REVIVE")).first();
    expect(one.status).toBe(403);
    expect(codeName(two[0]?.code)).toBe(codeName(V2_CODE_OF_V1_STATUS[403]));
  });

  async function v1SubscribeOutcome(stream: Stream): Promise<Outcome> {
    if (stream.status !== 200) {
      await eventually(() => (stream.ended ? true : undefined), "the refusal's end");
      return v1Outcome({ status: stream.status, headers: stream.headers, body: Buffer.concat(stream.records) });
    }
    await eventually(() => (stream.ended ? true : undefined), "the refused stream's end");
    const errors = events(stream).filter((e) => e.type === "ERROR");
    const message = (errors[0]?.error as { message: string } | undefined)?.message;
    return { answer: "200", message, streamErrors: errors.length };
  }

  async function v2SubscribeOutcome(stream: RawSchedulerStream): Promise<Outcome> {
    const errors = await stream.first();
    const outcome = v2Outcome(errors);
    if (errors[0]?.fatal !== true) return outcome;
    await eventually(() => (stream.ended ? true : undefined), "the refused stream's end");
    const all = stream.responses.filter((r) => r.event.case === "error").length;
    return { ...outcome, streamErrors: all };
  }
});

function updatesOn(v1Events: Json[]): Update[] {
  return v1Events.flatMap((e) => {
    if (e.type !== "UPDATE") return [];
    const status = (e.update as { status: { task_id: { value: string }; state: string; reason?: string } }).status;
    return [[status.task_id.value, status.state, status.reason ?? ""] as Update];
  });
}

function v2Updates(stream: RawSchedulerStream): Update[] {
  return stream.responses.flatMap((r) => {
    const status = r.event.case === "scheduler" ? r.event.value.update?.status : undefined;
    if (status === undefined) return [];
    return [
      [
        status.taskId?.value ?? "",
        enumToJson(TaskStateSchema, status.state) as string,
        isFieldSet(status, TaskStatusSchema.field.reason)
          ? (enumToJson(TaskStatus_ReasonSchema, status.reason) as string)
          : "",
      ] as Update,
    ];
  });
}
