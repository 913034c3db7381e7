/**
 * POST /api/v1 on the master: Mesos' operator API. One-shot calls go through
 * the same `core.operate` as the v2 Operate RPC; SUBSCRIBE opens a session,
 * like an operator's v2 stream, whose events are written as RecordIO.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import {
  CallSchema,
  Call_Type,
  EventSchema,
  ResponseSchema,
  Response_Type,
  type Call,
  type Response,
} from "../../gen/mesos/v1/master/master_pb.js";
import { ConnectRequestSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { ErrorCode, type CallError } from "../core/master/events.js";
import type { Logger } from "../log.js";
import type { SessionTable } from "../master/sessions.js";
import { readBody } from "./body.js";
import { GatewayError, answerError, statusOf } from "./errors.js";
import { contentTypeOf, decodeBody, encodeMessage, requestMedia, responseMedia, streamFormat } from "./media.js";
import { startRecordStream, type RecordStream } from "./record-stream.js";

export interface OperatorEndpointOptions {
  /** Where SUBSCRIBE streams go; without it (an agent) SUBSCRIBE is one more call for `operate`. */
  sessions?: SessionTable;
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

export function createOperatorEndpoint(options: OperatorEndpointOptions): OperatorEndpoint {
  const { sessions } = options;
  let calls = 0;

  const subscribe = (req: IncomingMessage, res: ServerResponse, call: Call, sessions: SessionTable): void => {
    const format = streamFormat(req.headers);
    let out: RecordStream | undefined;
    const early: Uint8Array[] = [];
    const write = (record: Uint8Array) => (out === undefined ? early.push(record) : out.write(record));
    let failure: CallError | undefined;
    const callId = `v1-operator-${++calls}`;
    const session = sessions.open({
      send: (response) => {
        const event = response.event;
        if (event.case === "operatorEvent") write(encodeMessage(EventSchema, event.value, format.record));
        else if (event.case === "error") failure ??= { code: event.value.code, message: event.value.message };
      },
      end: () => out?.end(),
      get backlog() {
        return out?.backlog ?? 0;
      },
    });
    sessions.request(session, create(ConnectRequestSchema, { id: callId, call: { case: "operator", value: call } }));
    if (failure !== undefined) {
      sessions.close(session);
      throw new GatewayError(statusOf(failure), failure.message);
    }
    out = startRecordStream(res, format.headers);
    for (const record of early.splice(0)) out.write(record);
    res.once("close", () => sessions.close(session));
  };

  const oneShot = async (req: IncomingMessage, res: ServerResponse, call: Call): Promise<void> => {
    const media = responseMedia(req.headers);
    const result = await options.operate(call);
    if ("code" in result) {
      const status = statusOf(result);
      throw new GatewayError(status, result.code === ErrorCode.INVALID_ARGUMENT ? `Failed to validate master::Call: ${result.message}` : result.message);
    }
    // Calls that only act (TEARDOWN, UPDATE_WEIGHTS, ...) answer 200 with no body, as in Mesos.
    if (result.type === Response_Type.UNKNOWN) {
      res.writeHead(200, { "content-length": "0" });
      res.end();
      return;
    }
    const body = encodeMessage(ResponseSchema, result, media);
    res.writeHead(200, { "content-type": contentTypeOf(media), "content-length": String(body.byteLength) });
    res.end(body);
  };

  return {
    async handle(req, res) {
      try {
        if (req.method !== "POST") throw new GatewayError(405, `Expecting one of { 'POST' }, but received '${req.method ?? ""}'`, { allow: "POST" });
        const media = requestMedia(req.headers);
        const call = decodeBody(CallSchema, await readBody(req), media, "Call");
        if (call.type === Call_Type.SUBSCRIBE && sessions !== undefined) subscribe(req, res, call, sessions);
        else await oneShot(req, res, call);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        options.logger.debug({ status: err.status, message: err.message }, "operator call refused");
        answerError(res, err);
      }
    },
  };
}

