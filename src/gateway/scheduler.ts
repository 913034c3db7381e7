/**
 * POST /api/v1/scheduler: Mesos' scheduler HTTP API over the same session
 * table and core as the v2 stream. A SUBSCRIBE opens a session whose events
 * are written to the HTTP response as RecordIO; every later call names that
 * session by its Mesos-Stream-Id and becomes the same ConnectRequest a v2
 * client would send on its stream.
 *
 *   SUBSCRIBE ──200, Mesos-Stream-Id──► streaming ──response closed──► session closed (framework disconnected)
 *                                          │   ▲
 *                 other calls (stream id) ─┘   └─ 202 / 4xx per call
 *
 * A refusal the core reports for a call (an Error event with the call's id)
 * becomes the HTTP answer to that call instead of an event on the stream.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import {
  CallSchema,
  Call_Type,
  EventSchema,
  Event_Type,
  type Call,
  type Event,
} from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema, type ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { ErrorCode, type CallError } from "../core/master/events.js";
import type { Logger } from "../log.js";
import type { SessionTable } from "../master/sessions.js";
import { readBody } from "./body.js";
import { GatewayError, answerError, statusOf } from "./errors.js";
import { decodeBody, encodeMessage, requestMedia, streamFormat, type Media } from "./media.js";
import { startRecordStream, type RecordStream } from "./record-stream.js";
import { validateSchedulerCall } from "./scheduler-validation.js";

/** What the endpoint needs to know about a framework before it forwards a call. */
export interface FrameworkLookup {
  /** undefined: the master does not know the framework. */
  framework(id: string): { connected: boolean } | undefined;
}

export interface SchedulerEndpointOptions {
  sessions: SessionTable;
  frameworks: FrameworkLookup;
  /** Fills in what a v1 event needs that the core leaves out (see the gateway README); returns a new event, never changes the core's. */
  decorate?: (event: Event) => Event;
  logger: Logger;
}

/** One SUBSCRIBE's stream, from the call until its response closes. */
interface Subscription {
  readonly streamId: string;
  session: string;
  frameworkId: string | undefined;
  /** Set while one call of this session is with the core: its refusals are caught here. */
  capture: { callId: string; errors: CallError[] } | undefined;
  /** Events produced before the answer's headers went out. */
  early: Event[];
  out: RecordStream | undefined;
  media: Media;
  ended: boolean;
  lastWasError: boolean;
}

export interface SchedulerEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Live subscriptions, for tests and metrics. */
  readonly size: number;
}

/**
 * The answer to a valid call the core refused. Mesos accepts every call that
 * passes validation (202) and reports what went wrong through events (e.g.
 * TASK_DROPPED), which the core sends too; only a call the core does not
 * serve (501), a master that cannot serve (503, 500), and an invalid
 * UPDATE_FRAMEWORK (400, as Mesos) are answered otherwise.
 */
function answersWith(call: Call, error: CallError): number {
  const status = statusOf(error);
  if (status >= 500) return status;
  if (call.type === Call_Type.UPDATE_FRAMEWORK && error.code === ErrorCode.INVALID_ARGUMENT) return 400;
  return 202;
}

export function createSchedulerEndpoint(options: SchedulerEndpointOptions): SchedulerEndpoint {
  const { sessions, logger } = options;
  const byStream = new Map<string, Subscription>();
  const byFramework = new Map<string, Subscription>();
  let calls = 0;

  const emit = (sub: Subscription, original: Event): void => {
    const event = options.decorate?.(original) ?? original;
    sub.lastWasError = event.type === Event_Type.ERROR;
    if (sub.out === undefined) sub.early.push(event);
    else sub.out.write(encodeMessage(EventSchema, event, sub.media));
  };

  const deliver = (sub: Subscription, response: ConnectResponse): void => {
    const event = response.event;
    if (event.case === "error") {
      if (sub.capture !== undefined && response.callId === sub.capture.callId) {
        sub.capture.errors.push({ code: event.value.code, message: event.value.message, fatal: event.value.fatal });
        return;
      }
      // v1 libraries take an ERROR event as the end of the framework, so
      // only an error that ends the stream becomes one.
      if (event.value.fatal) emit(sub, create(EventSchema, { type: Event_Type.ERROR, error: { message: event.value.message } }));
      else logger.debug({ session: sub.session, message: event.value.message }, "master reported an error outside a call");
      return;
    }
    if (event.case !== "scheduler") return;
    if (event.value.type === Event_Type.SUBSCRIBED) {
      sub.frameworkId = event.value.subscribed?.frameworkId?.value;
      if (sub.frameworkId !== undefined) byFramework.set(sub.frameworkId, sub);
    }
    emit(sub, event.value);
  };

  const finish = (sub: Subscription): void => {
    byStream.delete(sub.streamId);
    if (sub.frameworkId !== undefined && byFramework.get(sub.frameworkId) === sub) byFramework.delete(sub.frameworkId);
  };

  /** Sends one call to the core and returns the refusals it reported for it. */
  const forward = (sub: Subscription, call: Call): CallError[] => {
    const callId = `v1-${++calls}`;
    sub.capture = { callId, errors: [] };
    try {
      sessions.request(sub.session, create(ConnectRequestSchema, { id: callId, call: { case: "scheduler", value: call } }));
      return sub.capture.errors;
    } finally {
      sub.capture = undefined;
    }
  };

  const subscribe = (req: IncomingMessage, res: ServerResponse, call: Call): void => {
    const format = streamFormat(req.headers);
    if (req.headers["mesos-stream-id"] !== undefined) {
      throw new GatewayError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
    }
    const sub: Subscription = {
      streamId: randomUUID(),
      session: "",
      frameworkId: undefined,
      capture: undefined,
      early: [],
      out: undefined,
      media: format.record,
      ended: false,
      lastWasError: false,
    };
    const session = sessions.open({
      send: (response) => deliver(sub, response),
      end: (error) => {
        // v1 libraries treat ERROR as fatal: say why a refused call ends the
        // stream, but a master going away (or dropping a slow reader) just
        // closes it, as Mesos does, so the scheduler reconnects.
        if (error !== undefined && error.code !== ErrorCode.UNAVAILABLE && !sub.lastWasError) {
          emit(sub, create(EventSchema, { type: Event_Type.ERROR, error: { message: error.message } }));
        }
        sub.ended = true;
        finish(sub);
        sub.out?.end();
      },
      get backlog() {
        return sub.out?.backlog ?? 0;
      },
    });
    sub.session = session;
    byStream.set(sub.streamId, sub);
    const errors = forward(sub, call);
    const invalid = errors.find((e) => statusOf(e) === 400);
    if (invalid !== undefined) {
      // Mesos refuses a SUBSCRIBE that fails validation before any stream exists.
      sessions.close(session);
      finish(sub);
      throw new GatewayError(400, `Failed to validate scheduler::Call: ${invalid.message}`);
    }
    for (const error of errors) emit(sub, create(EventSchema, { type: Event_Type.ERROR, error: { message: error.message } }));
    sub.out = startRecordStream(res, { ...format.headers, "mesos-stream-id": sub.streamId });
    for (const event of sub.early.splice(0)) sub.out.write(encodeMessage(EventSchema, event, sub.media));
    if (sub.ended || errors.length > 0) {
      sessions.close(session);
      finish(sub);
      sub.out.end();
      return;
    }
    res.once("close", () => {
      finish(sub);
      sessions.close(session);
    });
  };

  const call = (req: IncomingMessage, res: ServerResponse, call: Call): void => {
    const frameworkId = call.frameworkId?.value ?? "";
    const framework = options.frameworks.framework(frameworkId);
    if (framework === undefined) throw new GatewayError(400, "Framework cannot be found");
    if (!framework.connected) throw new GatewayError(403, "Framework is not subscribed");
    const sub = byFramework.get(frameworkId);
    if (sub === undefined || !sessions.has(sub.session)) throw new GatewayError(403, "Framework is not connected via HTTP");
    const streamId = req.headers["mesos-stream-id"];
    if (streamId === undefined) throw new GatewayError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    if (streamId !== sub.streamId) {
      throw new GatewayError(
        400,
        `The stream ID '${String(streamId)}' included in this request didn't match the stream ID currently associated with framework ID ${frameworkId}`,
      );
    }
    const errors = forward(sub, call);
    for (const error of errors) logger.debug({ framework: frameworkId, code: error.code, message: error.message }, "scheduler call refused by the master");
    const refused = errors.find((error) => answersWith(call, error) !== 202);
    if (refused !== undefined) {
      const status = answersWith(call, refused);
      throw new GatewayError(status, status === 400 ? `Failed to validate scheduler::Call: ${refused.message}` : refused.message);
    }
    res.writeHead(202, { "content-length": "0" });
    res.end();
  };

  return {
    async handle(req, res) {
      try {
        if (req.method !== "POST") throw new GatewayError(405, `Expecting one of { 'POST' }, but received '${req.method ?? ""}'`, { allow: "POST" });
        const media = requestMedia(req.headers);
        const body = await readBody(req);
        const decoded = decodeBody(CallSchema, body, media, "Call");
        const invalid = validateSchedulerCall(decoded);
        if (invalid !== undefined) throw new GatewayError(400, `Failed to validate scheduler::Call: ${invalid}`);
        if (decoded.type === Call_Type.SUBSCRIBE) subscribe(req, res, decoded);
        else call(req, res, decoded);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        logger.debug({ status: err.status, message: err.message }, "scheduler call refused");
        answerError(res, err);
      }
    },
    get size() {
      return byStream.size;
    },
  };
}
