/**
 * POST /api/v1 on the master: Mesos' operator API. One-shot calls go through
 * the same `core.operate` as the v2 Operate RPC; SUBSCRIBE opens a session,
 * like an operator's v2 stream, whose events are written as RecordIO.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import {
  type Call,
  Call_Type,
  CallSchema,
  EventSchema,
  type Response,
  Response_Type,
  ResponseSchema,
} from "../../gen/mesos/v1/master/master_pb.js";
import { ConnectRequestSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { type CallError, ErrorCode, LARGE_ANSWERS } from "../core/master/events.js";
import type { Logger } from "../log.js";
import { readBody } from "./body.js";
import { answerError, GatewayError, notServed, statusOf } from "./errors.js";
import { drained } from "./json-broadcast.js";
import { textChunks } from "./json-stream.js";
import { jsonTextPieces } from "./json-text.js";
import { keptItemText } from "./kept-text.js";
import { contentTypeOf, decodeBody, encodeMessage, requestMedia, responseMedia, streamFormat } from "./media.js";
import { type RecordStream, startRecordStream } from "./record-stream.js";
import type { GatewaySessions } from "./sessions.js";

export interface OperatorEndpointOptions {
  /** Where SUBSCRIBE streams go; without it (an agent) SUBSCRIBE is one more call for `operate`. */
  sessions?: GatewaySessions;
  /**
   * The one-shot path: the same entry point as the v2 Operate RPC, resolving
   * once the call's effects are carried out (registry writes included).
   */
  operate(call: Call): Promise<Response | CallError>;
  logger: Logger;
}

export interface OperatorEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * The v1 status of each call that acts: Mesos answers the resource
 * operations 202 Accepted (the agent applies them after the answer) and the
 * others 200 OK.
 */
const emptyAnswers = new Map<Response_Type, number>([
  [Response_Type.UNKNOWN, 200],
  [Response_Type.SET_LOGGING_LEVEL, 200],
  [Response_Type.UPDATE_WEIGHTS, 200],
  [Response_Type.RESERVE_RESOURCES, 202],
  [Response_Type.UNRESERVE_RESOURCES, 202],
  [Response_Type.CREATE_VOLUMES, 202],
  [Response_Type.DESTROY_VOLUMES, 202],
  [Response_Type.GROW_VOLUME, 202],
  [Response_Type.SHRINK_VOLUME, 202],
  [Response_Type.UPDATE_MAINTENANCE_SCHEDULE, 200],
  [Response_Type.START_MAINTENANCE, 200],
  [Response_Type.STOP_MAINTENANCE, 200],
  [Response_Type.TEARDOWN, 200],
  [Response_Type.MARK_AGENT_GONE, 200],
  [Response_Type.UPDATE_QUOTA, 200],
  [Response_Type.DRAIN_AGENT, 200],
  [Response_Type.DEACTIVATE_AGENT, 200],
  [Response_Type.REACTIVATE_AGENT, 200],
]);

/**
 * A large answer as JSON, written in chunks as it is made (chunked
 * transfer, no Content-Length): the same bytes as encodeMessage's, but the
 * whole text is never held, and unchanged tasks, agents and frameworks
 * keep their text between reads (kept-text.ts).
 */
async function writeLarge(res: ServerResponse, result: Response): Promise<void> {
  res.writeHead(200, { "content-type": contentTypeOf("json") });
  for (const chunk of textChunks(jsonTextPieces(ResponseSchema, result, keptItemText))) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
}

export function createOperatorEndpoint(options: OperatorEndpointOptions): OperatorEndpoint {
  const { sessions } = options;
  let calls = 0;

  const subscribe = async (
    req: IncomingMessage,
    res: ServerResponse,
    call: Call,
    sessions: GatewaySessions,
  ): Promise<void> => {
    const format = streamFormat(req.headers);
    let out: RecordStream | undefined;
    const early: Uint8Array[] = [];
    const write = (record: Uint8Array) => (out === undefined ? early.push(record) : out.write(record));
    const callId = `v1-operator-${++calls}`;
    /** The core ended the session before its answer's headers went out. */
    let ended = false;
    const session = sessions.open({
      send: (response) => {
        // Refusals of the SUBSCRIBE itself come back as the call's outcome.
        if (response.event.case === "operatorEvent")
          write(encodeMessage(EventSchema, response.event.value, format.record));
      },
      end: () => {
        ended = true;
        out?.end();
      },
      get backlog() {
        return out?.backlog ?? 0;
      },
    });
    const closed = (): void => sessions.close(session);
    res.once("close", closed);
    let failures: CallError[];
    try {
      failures = await sessions.request(
        session,
        create(ConnectRequestSchema, { id: callId, call: { case: "operator", value: call } }),
      );
    } catch (err) {
      closed();
      throw notServed(err);
    }
    const [failure] = failures;
    if (failure !== undefined) {
      closed();
      throw new GatewayError(statusOf(failure), failure.message);
    }
    if (res.destroyed) return;
    out = startRecordStream(res, format.headers);
    for (const record of early.splice(0)) out.write(record);
    if (ended) out.end();
  };

  const oneShot = async (req: IncomingMessage, res: ServerResponse, call: Call): Promise<void> => {
    const media = responseMedia(req.headers);
    let result: Response | CallError;
    try {
      result = await options.operate(call);
    } catch (err) {
      throw notServed(err);
    }
    if ("code" in result) {
      const status = statusOf(result);
      throw new GatewayError(
        status,
        result.code === ErrorCode.INVALID_ARGUMENT
          ? `Failed to validate master::Call: ${result.message}`
          : result.message,
      );
    }
    // Calls that only act (TEARDOWN, UPDATE_WEIGHTS, ...) answer with no body, as in
    // Mesos: their v2 Response types are Plateau's, which a v1 client does not know.
    const acted = emptyAnswers.get(result.type);
    if (acted !== undefined) {
      res.writeHead(acted, { "content-length": "0" });
      res.end();
      return;
    }
    if (media === "json" && LARGE_ANSWERS.has(result.type)) {
      await writeLarge(res, result);
      return;
    }
    const body = encodeMessage(ResponseSchema, result, media);
    res.writeHead(200, { "content-type": contentTypeOf(media), "content-length": String(body.byteLength) });
    res.end(body);
  };

  return {
    async handle(req, res) {
      try {
        if (req.method !== "POST")
          throw new GatewayError(405, `Expecting one of { 'POST' }, but received '${req.method ?? ""}'`, {
            allow: "POST",
          });
        const media = requestMedia(req.headers);
        const call = decodeBody(CallSchema, await readBody(req), media, "Call");
        if (call.type === Call_Type.SUBSCRIBE && sessions !== undefined) await subscribe(req, res, call, sessions);
        else await oneShot(req, res, call);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        options.logger.debug({ status: err.status, message: err.message }, "operator call refused");
        answerError(res, err);
      }
    },
  };
}
