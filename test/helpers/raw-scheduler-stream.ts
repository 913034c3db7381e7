/**
 * A v2 scheduler stream that sends whatever a test gives it, valid or not,
 * and tells which refusals each call got: what a framework on the unified
 * API sees, without the typed client's help.
 */
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Call, CallSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema, type ConnectResponse, type Error as StreamError } from "../../gen/mesos/v2/mesos_pb.js";
import { openStream, type UnifiedStream } from "../../src/client/stream.js";
import { eventually } from "./processes.js";

export interface RawSchedulerStream {
  /** Everything the master sent, in order. */
  readonly responses: readonly ConnectResponse[];
  /** The master ended the stream (or it dropped). */
  readonly ended: boolean;
  /** The refusals of the first call (the stream's hello), once it has an answer. */
  first(): Promise<StreamError[]>;
  /**
   * Sends `call` and resolves with the refusals that carry its id, once the
   * master has dealt with it: a probe sent after it (a call without a type,
   * which the master always refuses) is answered only after it.
   */
  outcome(call: Call): Promise<StreamError[]>;
  close(): Promise<void>;
}

/** A v1 scheduler call from its Mesos JSON (proto field names), as a v2 client would build it. */
export const callFromJson = (json: unknown): Call =>
  fromJson(CallSchema, JSON.parse(JSON.stringify(json)) as JsonValue);

export function openRawScheduler(port: number, first: Call): RawSchedulerStream {
  const responses: ConnectResponse[] = [];
  let ended = false;
  let calls = 0;
  const refusalsOf = (id: string): StreamError[] =>
    responses.flatMap((r) => (r.callId === id && r.event.case === "error" ? [r.event.value] : []));
  const stream: UnifiedStream = openStream({
    baseUrl: `127.0.0.1:${port}`,
    hello: () => create(ConnectRequestSchema, { id: "first", call: { case: "scheduler", value: first } }),
    onEvent: (response) => responses.push(response),
    onDisconnected: () => {
      ended = true;
    },
    reconnect: false,
  });
  return {
    responses,
    get ended() {
      return ended;
    },
    async first() {
      await eventually(
        () => (responses.some((r) => r.callId === "first") ? true : undefined),
        "an answer to the hello",
      );
      return refusalsOf("first");
    },
    async outcome(call) {
      const id = `call-${++calls}`;
      await eventually(() => (stream.connected ? true : undefined), "a connected stream");
      stream.send(create(ConnectRequestSchema, { id, call: { case: "scheduler", value: call } }));
      const probe = create(ConnectRequestSchema, {
        id: `probe-${calls}`,
        call: { case: "scheduler", value: create(CallSchema, {}) },
      });
      await stream.call(probe, 10_000);
      return refusalsOf(id);
    },
    close: () => stream.close(),
  };
}
