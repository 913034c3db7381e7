import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Event as OperatorEvent,
  EventSchema as OperatorEventSchema,
  Event_Type as OperatorEventType,
  type Response as OperatorResponse,
  Response_Type as OperatorResponseType,
} from "../../../gen/mesos/v1/master/master_pb.js";
import {
  type AgentID,
  AgentIDSchema,
  type FrameworkID,
  FrameworkIDSchema,
  type TaskID,
  TaskIDSchema,
  type TaskState,
  type TaskStatus,
  TaskStatus_Reason,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import {
  type Event as SchedulerEvent,
  EventSchema as SchedulerEventSchema,
  Event_Type as SchedulerEventType,
} from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  AgentEventSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  Error_Code,
} from "../../../gen/mesos/v2/mesos_pb.js";
import { type Millis, toSeconds } from "../clock.js";

export { Error_Code as ErrorCode };

/** An expected rejection of a call, reported to the client as an ERROR event. */
export interface CallError {
  code: Error_Code;
  message: string;
  /** The stream ends after the error. */
  fatal?: boolean;
}

export function schedulerEvent(
  init: Parameters<typeof create<typeof SchedulerEventSchema>>[1],
  callId = "",
): ConnectResponse {
  const event: SchedulerEvent = create(SchedulerEventSchema, init);
  return create(ConnectResponseSchema, { callId, event: { case: "scheduler", value: event } });
}

export function schedulerError(message: string, callId = ""): ConnectResponse {
  return schedulerEvent({ type: SchedulerEventType.ERROR, error: { message } }, callId);
}

export function operatorEvent(init: Parameters<typeof create<typeof OperatorEventSchema>>[1]): ConnectResponse {
  const event: OperatorEvent = create(OperatorEventSchema, init);
  return create(ConnectResponseSchema, { event: { case: "operatorEvent", value: event } });
}

export function operatorResponse(response: OperatorResponse, callId: string): ConnectResponse {
  return create(ConnectResponseSchema, {
    callId,
    event: { case: "operatorResponse", value: response },
  });
}

export function agentEvent(event: MessageInitShape<typeof AgentEventSchema>["event"], callId = ""): ConnectResponse {
  return create(ConnectResponseSchema, {
    callId,
    event: { case: "agent", value: create(AgentEventSchema, { event }) },
  });
}

export function errorEvent(error: CallError, callId = ""): ConnectResponse {
  return create(ConnectResponseSchema, {
    callId,
    event: {
      case: "error",
      value: { code: error.code, message: error.message, fatal: error.fatal ?? false },
    },
  });
}

/**
 * A status update the master makes itself (launch rejected, reconciliation,
 * agent lost). It carries no uuid, so schedulers do not acknowledge it.
 */
export function masterStatus(
  taskId: string,
  state: TaskState,
  reason: TaskStatus_Reason,
  message: string,
  now: Millis,
  agentId?: string,
): TaskStatus {
  return create(TaskStatusSchema, {
    taskId: { value: taskId },
    state,
    reason,
    message,
    source: TaskStatus_Source.MASTER,
    timestamp: toSeconds(now),
    ...(agentId !== undefined ? { agentId: { value: agentId } } : {}),
  });
}

export { OperatorEventType, SchedulerEventType, TaskStatus_Reason as Reason };

export const agentIdOf = (value: string): AgentID => create(AgentIDSchema, { value });
export const frameworkIdOf = (value: string): FrameworkID => create(FrameworkIDSchema, { value });
export const taskIdOf = (value: string): TaskID => create(TaskIDSchema, { value });

/** Operator answers that grow with the cluster: both APIs write them in pieces or as they are made. */
export const LARGE_ANSWERS: ReadonlySet<OperatorResponseType> = new Set([
  OperatorResponseType.GET_STATE,
  OperatorResponseType.GET_AGENTS,
  OperatorResponseType.GET_FRAMEWORKS,
  OperatorResponseType.GET_EXECUTORS,
  OperatorResponseType.GET_TASKS,
]);
