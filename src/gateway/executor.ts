/**
 * POST /api/v1/executor on the agent: Mesos' executor HTTP API over the
 * agent's executor sessions, the same handling as an executor's v2 stream.
 * SUBSCRIBE opens a session whose events (SUBSCRIBED, LAUNCH, KILL,
 * ACKNOWLEDGED, MESSAGE, SHUTDOWN, ...) are streamed as RecordIO; UPDATE and
 * MESSAGE name their executor by framework and executor id and go to that
 * executor's session.
 *
 *   SUBSCRIBE ──200──► streaming ──response closed / newer SUBSCRIBE / agent stops──► closed
 *                         ▲
 *   UPDATE, MESSAGE ──────┘ 202 (400 invalid, 403 not subscribed)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import {
  type Call,
  Call_Type,
  CallSchema,
  type Event,
  Event_Type,
  EventSchema,
} from "../../gen/mesos/v1/executor/executor_pb.js";
import { ConnectRequestSchema, type ConnectResponse, Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import type { Logger } from "../log.js";
import { readBody } from "./body.js";
import { answerError, GatewayError } from "./errors.js";
import type { ExecutorSession, ExecutorSessions } from "./executor-sessions.js";
import { validateExecutorCall } from "./executor-validation.js";
import { decodeBody, encodeMessage, type Media, requestMedia, streamFormat } from "./media.js";
import { type RecordStream, startRecordStream } from "./record-stream.js";

/** What the endpoint needs to know about an executor before it forwards a call. */
export type ExecutorLookup = (
  frameworkId: string,
  executorId: string,
) => "unknown-framework" | "unknown-executor" | "known";

export interface ExecutorEndpointOptions {
  executors: ExecutorSessions;
  lookup: ExecutorLookup;
  logger: Logger;
  /** Seconds between HEARTBEAT events on each stream; Mesos' agent uses 30. */
  heartbeatSeconds?: number;
}

export interface ExecutorEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** One subscribed HTTP executor. */
interface Subscription {
  /** Set right after the session opens; the session's sink needs the subscription first. */
  session?: ExecutorSession;
  out: RecordStream | undefined;
  early: Event[];
  media: Media;
  capture: { callId: string; errors: { code: Error_Code; message: string }[] } | undefined;
  heartbeat: NodeJS.Timeout | undefined;
}

export function createExecutorEndpoint(options: ExecutorEndpointOptions): ExecutorEndpoint {
  const byExecutor = new Map<string, Subscription>();
  let calls = 0;
  const key = (call: Call) => `${call.frameworkId?.value ?? ""}/${call.executorId?.value ?? ""}`;

  const emit = (sub: Subscription, event: Event) => {
    if (sub.out === undefined) sub.early.push(event);
    else sub.out.write(encodeMessage(EventSchema, event, sub.media));
  };

  const deliver = (sub: Subscription, response: ConnectResponse) => {
    const event = response.event;
    if (event.case === "error") {
      if (sub.capture !== undefined && response.callId === sub.capture.callId)
        sub.capture.errors.push({ code: event.value.code, message: event.value.message });
      else emit(sub, create(EventSchema, { type: Event_Type.ERROR, error: { message: event.value.message } }));
    } else if (event.case === "executor") emit(sub, event.value);
  };

  const forward = (sub: Subscription, call: Call) => {
    const callId = `v1-executor-${++calls}`;
    sub.capture = { callId, errors: [] };
    try {
      sub.session?.request(create(ConnectRequestSchema, { id: callId, call: { case: "executor", value: call } }));
      return sub.capture.errors;
    } finally {
      sub.capture = undefined;
    }
  };

  const subscribe = (req: IncomingMessage, res: ServerResponse, call: Call) => {
    const format = streamFormat(req.headers);
    const id = key(call);
    const sub: Subscription = {
      out: undefined,
      early: [],
      media: format.record,
      capture: undefined,
      heartbeat: undefined,
    };
    const finish = () => {
      if (sub.heartbeat !== undefined) clearInterval(sub.heartbeat);
      sub.heartbeat = undefined;
      if (byExecutor.get(id) === sub) byExecutor.delete(id);
    };
    const session = options.executors.open({
      send: (response) => deliver(sub, response),
      end: () => {
        finish();
        sub.out?.end();
      },
    });
    sub.session = session;
    const errors = forward(sub, call);
    const refused = errors[0];
    if (refused !== undefined) {
      session.close();
      throw new GatewayError(refused.code === Error_Code.NOT_FOUND ? 400 : 403, refused.message);
    }
    byExecutor.set(id, sub);
    sub.out = startRecordStream(res, format.headers);
    for (const event of sub.early.splice(0)) sub.out.write(encodeMessage(EventSchema, event, sub.media));
    const seconds = options.heartbeatSeconds ?? 30;
    sub.heartbeat = setInterval(() => emit(sub, create(EventSchema, { type: Event_Type.HEARTBEAT })), seconds * 1000);
    res.once("close", () => {
      finish();
      session.close();
    });
  };

  const other = (res: ServerResponse, call: Call) => {
    const sub = byExecutor.get(key(call));
    if (sub?.session?.bound === undefined) throw new GatewayError(403, "Executor is not subscribed");
    const refused = sub === undefined ? undefined : forward(sub, call)[0];
    if (refused !== undefined) throw new GatewayError(400, `Failed to validate Executor::Call: ${refused.message}`);
    res.writeHead(202, { "content-length": "0" });
    res.end();
  };

  return {
    async handle(req, res) {
      try {
        if (req.method !== "POST")
          throw new GatewayError(405, `Expecting one of { 'POST' }, but received '${req.method ?? ""}'`, {
            allow: "POST",
          });
        const call = decodeBody(CallSchema, await readBody(req), requestMedia(req.headers), "Call");
        const invalid = validateExecutorCall(call);
        if (invalid !== undefined) throw new GatewayError(400, `Failed to validate Executor::Call: ${invalid}`);
        // Mesos checks Accept before it looks for the executor.
        if (call.type === Call_Type.SUBSCRIBE) streamFormat(req.headers);
        if (call.type === Call_Type.HEARTBEAT) {
          res.writeHead(202, { "content-length": "0" });
          res.end();
          return;
        }
        const known = options.lookup(call.frameworkId?.value ?? "", call.executorId?.value ?? "");
        if (known === "unknown-framework") throw new GatewayError(400, "Framework cannot be found");
        if (known === "unknown-executor") throw new GatewayError(400, "Executor cannot be found");
        if (call.type === Call_Type.SUBSCRIBE) subscribe(req, res, call);
        else other(res, call);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        options.logger.debug({ status: err.status, message: err.message }, "executor call refused");
        answerError(res, err);
      }
    },
  };
}
