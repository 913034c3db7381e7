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
 * Each call awaits its own outcome from the master (its effects carried
 * out, registry writes first): a refusal the core reports for it becomes
 * the HTTP answer to that call instead of an event on the stream.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import { type Call, Call_Type, CallSchema, type Event } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { type CallError, ErrorCode } from "../core/master/events.js";
import { validateSchedulerCall } from "../core/master/scheduler-validation.js";
import type { Logger } from "../log.js";
import { readBody } from "./body.js";
import { answerError, GatewayError, notServed, statusOf } from "./errors.js";
import { decodeBody, requestMedia, streamFormat } from "./media.js";
import { startRecordStream } from "./record-stream.js";
import {
  createSubscription,
  emit,
  errorEventOf,
  type Subscription,
  type SubscriptionHooks,
  startWriting,
  subscriptionSink,
} from "./scheduler-subscription.js";
import type { GatewaySessions } from "./sessions.js";

/** What the endpoint needs to know about a framework before it forwards a call. */
export interface FrameworkLookup {
  /** undefined: the master does not know the framework. */
  framework(id: string): { connected: boolean } | undefined;
}

export interface SchedulerEndpointOptions {
  sessions: GatewaySessions;
  frameworks: FrameworkLookup;
  /** Fills in what a v1 event needs that the core leaves out (see the gateway README); returns a new event, never changes the core's. */
  decorate?: (event: Event) => Event;
  logger: Logger;
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

  const finish = (sub: Subscription): void => {
    byStream.delete(sub.streamId);
    if (sub.frameworkId !== undefined && byFramework.get(sub.frameworkId) === sub) byFramework.delete(sub.frameworkId);
  };
  const hooks: SubscriptionHooks = {
    decorate: options.decorate,
    subscribed: (sub) => {
      if (sub.frameworkId !== undefined) byFramework.set(sub.frameworkId, sub);
    },
    finished: finish,
    logger,
  };

  /** Sends one call to the core; resolves with the refusals it reported for it. */
  const forward = async (sub: Subscription, call: Call): Promise<CallError[]> => {
    const callId = `v1-${++calls}`;
    logger.debug({ session: sub.session, callId, type: Call_Type[call.type] }, "scheduler call");
    sub.pending.add(callId);
    try {
      return await sessions.request(
        sub.session,
        create(ConnectRequestSchema, { id: callId, call: { case: "scheduler", value: call } }),
      );
    } catch (err) {
      throw notServed(err);
    } finally {
      sub.pending.delete(callId);
    }
  };

  const subscribe = async (req: IncomingMessage, res: ServerResponse, call: Call): Promise<void> => {
    const format = streamFormat(req.headers);
    if (req.headers["mesos-stream-id"] !== undefined) {
      throw new GatewayError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
    }
    const sub = createSubscription(randomUUID(), format.record);
    const session = sessions.open(subscriptionSink(sub, hooks));
    sub.session = session;
    byStream.set(sub.streamId, sub);
    // A client that goes away while its SUBSCRIBE is stored is a disconnect.
    const closed = (): void => {
      finish(sub);
      sessions.close(session);
    };
    res.once("close", closed);
    let errors: CallError[];
    try {
      errors = await forward(sub, call);
    } catch (err) {
      closed();
      throw err;
    }
    const invalid = errors.find((e) => statusOf(e) === 400);
    if (invalid !== undefined) {
      // Mesos refuses a SUBSCRIBE that fails validation before any stream exists.
      closed();
      throw new GatewayError(400, `Failed to validate scheduler::Call: ${invalid.message}`);
    }
    if (res.destroyed) return;
    // A fatal refusal is on the stream already (see deliver); one that is not
    // still ends this stream, since no framework is subscribed on it.
    for (const error of errors) if (error.fatal !== true) emit(sub, errorEventOf(error.message), hooks);
    startWriting(sub, startRecordStream(res, { ...format.headers, "mesos-stream-id": sub.streamId }));
    if (sub.ended || errors.length > 0) {
      closed();
      sub.out?.end();
    }
  };

  const call = async (req: IncomingMessage, res: ServerResponse, call: Call): Promise<void> => {
    const frameworkId = call.frameworkId?.value ?? "";
    const framework = options.frameworks.framework(frameworkId);
    if (framework === undefined) throw new GatewayError(400, "Framework cannot be found");
    if (!framework.connected) throw new GatewayError(403, "Framework is not subscribed");
    const sub = byFramework.get(frameworkId);
    if (sub === undefined || !sessions.has(sub.session))
      throw new GatewayError(403, "Framework is not connected via HTTP");
    const streamId = req.headers["mesos-stream-id"];
    if (streamId === undefined)
      throw new GatewayError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    if (streamId !== sub.streamId) {
      throw new GatewayError(
        400,
        `The stream ID '${String(streamId)}' included in this request didn't match the stream ID currently associated with framework ID ${frameworkId}`,
      );
    }
    const errors = await forward(sub, call);
    for (const error of errors)
      logger.debug(
        { framework: frameworkId, code: error.code, message: error.message },
        "scheduler call refused by the master",
      );
    const refused = errors.find((error) => answersWith(call, error) !== 202);
    if (refused !== undefined) {
      const status = answersWith(call, refused);
      throw new GatewayError(
        status,
        status === 400 ? `Failed to validate scheduler::Call: ${refused.message}` : refused.message,
      );
    }
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
        const media = requestMedia(req.headers);
        const body = await readBody(req);
        const decoded = decodeBody(CallSchema, body, media, "Call");
        const invalid = validateSchedulerCall(decoded);
        if (invalid !== undefined) throw new GatewayError(400, `Failed to validate scheduler::Call: ${invalid}`);
        if (decoded.type === Call_Type.SUBSCRIBE) await subscribe(req, res, decoded);
        else await call(req, res, decoded);
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
