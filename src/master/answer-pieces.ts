/**
 * The master's large operator answers (GET_STATE, GET_TASKS, ..., and the
 * SUBSCRIBED event that carries the state) as gRPC messages under the 4 MiB
 * default, so clients with default limits can read a large cluster:
 *
 *   Connect stream   split into several ConnectResponses, each with `piece`
 *   OperateStream    split into OperateStreamResponses, each with `piece`
 *   Operate (unary)  sent whole when it fits; RESOURCE_EXHAUSTED naming the
 *                    two above when it does not
 *
 * Each answer is encoded once (src/wire/pieces.ts); binary clients get the
 * encoded pieces as they are, JSON clients decoded ones.
 */
import { create, isMessage, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Event_Type,
  EventSchema,
  type Response,
  Response_GetAgents_AgentSchema,
  Response_GetFrameworks_FrameworkSchema,
  Response_Type,
  ResponseSchema,
} from "../../gen/mesos/v1/master/master_pb.js";
import { type Task, TaskSchema, type TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import {
  type ConnectResponse,
  ConnectResponseSchema,
  type OperateResponse,
  OperateResponseSchema,
  type OperateStreamResponse,
  OperateStreamResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { LARGE_ANSWERS } from "../core/master/events.js";
import {
  decodePieces,
  type EncodeItem,
  embedded,
  encodePieces,
  GRPC_DEFAULT_MAX_MESSAGE_BYTES,
  MAX_PIECE_BYTES,
  PieceTooLargeError,
} from "../wire/pieces.js";

/** Whether the request's content type asks for JSON (Connect or gRPC with +json). */
export function wantsJson(contentType: string | null): boolean {
  return contentType?.includes("json") === true;
}

function tooLarge(err: unknown): ConnectError {
  const message = err instanceof PieceTooLargeError ? err.message : String(err);
  return new ConnectError(`The answer cannot be split into messages under 4 MiB: ${message}`, Code.ResourceExhausted);
}

/** A task's encoding as last made, with what it was made from. */
interface EncodedTask {
  statuses: TaskStatus[];
  state: TaskState;
  bytes: Uint8Array;
}

/**
 * The master changes a task only through its status moves, which set its
 * state and replace its `statuses` list (core/master/task-bookkeeping.ts):
 * while both are as they were, so are its bytes. A large state is mostly
 * such tasks (every completed one), and encoding them anew on each read was
 * most of its time. Held as long as the task is.
 */
const encodedTasks = new WeakMap<Task, EncodedTask>();

/**
 * Agents and frameworks come from the core's views, which hand out the same
 * message while nothing in it changed and never modify one handed out
 * (core/master/views.ts): their bytes are kept by identity.
 */
const encodedViews = new WeakMap<object, Uint8Array>();

const encodeItem: EncodeItem = (desc, item) => {
  if (isMessage(item, Response_GetAgents_AgentSchema) || isMessage(item, Response_GetFrameworks_FrameworkSchema)) {
    let bytes = encodedViews.get(item);
    if (bytes === undefined) {
      bytes = toBinary(desc, item);
      encodedViews.set(item, bytes);
    }
    return bytes;
  }
  if (!isMessage(item, TaskSchema)) return toBinary(desc, item);
  const kept = encodedTasks.get(item);
  if (kept?.statuses === item.statuses && kept.state === item.state) return kept.bytes;
  const bytes = toBinary(TaskSchema, item);
  encodedTasks.set(item, { statuses: item.statuses, state: item.state, bytes });
  return bytes;
};

function responsePieces(response: Response): Uint8Array[] {
  try {
    return encodePieces(ResponseSchema, response, MAX_PIECE_BYTES, encodeItem);
  } catch (err) {
    throw tooLarge(err);
  }
}

const MiB = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** The unary answer; throws RESOURCE_EXHAUSTED when it would exceed gRPC's default message limit. */
export function operateAnswer(response: Response, json: boolean): OperateResponse {
  if (!LARGE_ANSWERS.has(response.type)) return create(OperateResponseSchema, { response });
  const pieces = responsePieces(response);
  if (pieces.length > 1) {
    const bytes = pieces.reduce((n, p) => n + p.byteLength, 0);
    throw new ConnectError(
      `The ${Response_Type[response.type]} answer is ${MiB(bytes)} MiB, over gRPC's default message limit ` +
        `of ${MiB(GRPC_DEFAULT_MAX_MESSAGE_BYTES)} MiB: read it with OperateStream, or on a Connect stream, ` +
        "which answer in pieces under the limit",
      Code.ResourceExhausted,
    );
  }
  const answer = create(OperateResponseSchema, json ? { response } : {});
  if (!json) answer.$unknown = [embedded(OperateResponseSchema.field.response.number, pieces[0] as Uint8Array)];
  return answer;
}

/** The answer in pieces for OperateStream: every message has `piece`, the last one `last`. */
export function operateStreamAnswers(response: Response, json: boolean): OperateStreamResponse[] {
  const pieces = responsePieces(response);
  const no = OperateStreamResponseSchema.field.response.number;
  const decoded = json ? decodePieces(ResponseSchema, pieces) : undefined;
  return pieces.map((bytes, index) => {
    const piece = { index, last: index === pieces.length - 1 };
    const answer = create(OperateStreamResponseSchema, { response: decoded?.[index], piece });
    if (decoded === undefined) answer.$unknown = [embedded(no, bytes)];
    return answer;
  });
}

/**
 * An event for a Connect stream as the messages to send: itself, or its
 * pieces when it is a large operator answer or a SUBSCRIBED event (each
 * with `piece`; the call id on every one).
 */
export function connectPieces(event: ConnectResponse, json: boolean): ConnectResponse[] {
  const { value, case: kind } = event.event;
  let pieces: Uint8Array[];
  let no: number;
  if (kind === "operatorResponse" && LARGE_ANSWERS.has(value.type)) {
    pieces = responsePieces(value);
    no = ConnectResponseSchema.field.operatorResponse.number;
  } else if (kind === "operatorEvent" && value.type === Event_Type.SUBSCRIBED) {
    try {
      pieces = encodePieces(EventSchema, value, MAX_PIECE_BYTES, encodeItem);
    } catch (err) {
      throw tooLarge(err);
    }
    no = ConnectResponseSchema.field.operatorEvent.number;
  } else {
    return [event];
  }
  if (pieces.length === 1 && json) return [event];
  const many = pieces.length > 1;
  return pieces.map((bytes, index) => {
    const piece = many ? { index, last: index === pieces.length - 1 } : undefined;
    if (json) {
      const decoded =
        kind === "operatorResponse"
          ? { case: kind, value: decodePieces(ResponseSchema, [bytes])[0] as Response }
          : { case: "operatorEvent" as const, value: decodePieces(EventSchema, [bytes])[0] as typeof value };
      return create(ConnectResponseSchema, { callId: event.callId, piece, event: decoded });
    }
    const answer = create(ConnectResponseSchema, { callId: event.callId, piece });
    answer.$unknown = [embedded(no, bytes)];
    return answer;
  });
}
