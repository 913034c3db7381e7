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
import { ROWS, SUBSCRIBE_ROWS, subscribeCall, withFw } from "./scheduler-validation-cases.js";

/** The contract: what a v1 status means on the v2 stream. */
const V2_CODE_OF_V1_STATUS: Record<number, Error_Code> = {
  400: Error_Code.INVALID_ARGUMENT,
  403: Error_Code.FAILED_PRECONDITION,
  501: Error_Code.UNIMPLEMENTED,
  503: Error_Code.UNAVAILABLE,
};
/** v1 says why a call failed Mesos' validation after this prefix; v2 says the same words alone. */
const V1_VALIDATION_PREFIX = "Failed to validate scheduler::Call: ";

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
