/**
 * An executor client over any carrier of its calls and events: the v1
 * executor calls with Mesos' reliable status update delivery, apart from
 * how they travel (a unified stream of its own, see executor.ts, or a
 * session on its executor host's one connection to the agent, see
 * src/executor/agent-socket.ts). Imports nothing of Connect, so an executor
 * host that needs no stream does not load it (it was about half of the
 * host's start-up under load).
 *
 *   update(status) ──► kept until ACKNOWLEDGED(uuid) ──► forgotten
 *        │ carrier drops
 *        ▼
 *   reconnect: SUBSCRIBE carries every kept update and every launched task
 *   with no acknowledged update, so the agent (perhaps restarted) recovers
 *   exactly what it has not yet seen acknowledged.
 */
import { randomUUID } from "node:crypto";
import { create, isFieldSet, type MessageInitShape } from "@bufbuild/protobuf";
import { Call_Type, CallSchema, type Event, Event_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  ExecutorIDSchema,
  FrameworkIDSchema,
  type TaskInfo,
  type TaskStatus,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  type Error as StreamError,
} from "../../gen/mesos/v2/mesos_pb.js";
import { randomUuidBytes } from "../util/uuid.js";
import type { StreamOptions, UnifiedStream } from "./stream.js";

/** What an executor's carrier needs from its client. */
export type ExecutorStreamOptions = Pick<StreamOptions, "hello" | "onEvent" | "onConnected" | "onDisconnected">;
/** What an executor client needs of its carrier: a unified stream, or a session on a shared connection. */
export type ExecutorStream = Pick<UnifiedStream, "send" | "connected" | "close">;
/** Opens the carrier; it (re)connects by its own policy and calls `hello` for each new connection. */
export type ExecutorTransport = (options: ExecutorStreamOptions) => ExecutorStream;

/** Who the executor is and what it hears. */
export interface ExecutorIdentity {
  frameworkId: string;
  executorId: string;
  /** Every v1 executor event (ACKNOWLEDGED included, after bookkeeping). */
  onEvent: (event: Event) => void;
  onError?: (error: StreamError, callId: string) => void;
  onConnected?: () => void;
  onDisconnected?: (error: Error | undefined) => void;
}

/** A connected (or reconnecting) executor. */
export interface ExecutorClient {
  /**
   * Sends a status update, filling uuid, timestamp, executor_id and source
   * (SOURCE_EXECUTOR) when absent. The update is kept until acknowledged and
   * resent on resubscribe, so false (not connected now) loses nothing.
   */
  update(status: TaskStatus | MessageInitShape<typeof TaskStatusSchema>): boolean;
  /** A framework message to the scheduler; false when not connected. */
  message(data: Uint8Array): boolean;
  /** Updates sent but not yet acknowledged, oldest first. */
  readonly unacknowledged: readonly TaskStatus[];
  readonly connected: boolean;
  close(): Promise<void>;
}

function uuidKey(uuid: Uint8Array): string {
  return Buffer.from(uuid).toString("hex");
}

/** Creates an executor client on `transport`; it connects and subscribes in the background. */
export function createExecutorOver(transport: ExecutorTransport, options: ExecutorIdentity): ExecutorClient {
  // Insertion-ordered, so resends keep the original order per task.
  const pending = new Map<string, TaskStatus>();
  const launched = new Map<string, TaskInfo>();

  const request = (init: MessageInitShape<typeof CallSchema>): ConnectRequest => {
    const call = create(CallSchema, init);
    call.frameworkId = create(FrameworkIDSchema, { value: options.frameworkId });
    call.executorId = create(ExecutorIDSchema, { value: options.executorId });
    return create(ConnectRequestSchema, { id: randomUUID(), call: { case: "executor", value: call } });
  };

  const hello = (): ConnectRequest =>
    request({
      type: Call_Type.SUBSCRIBE,
      subscribe: {
        unacknowledgedTasks: [...launched.values()],
        unacknowledgedUpdates: [...pending.values()].map((status) => ({ status })),
      },
    });

  const onEvent = (response: ConnectResponse): void => {
    const { event } = response;
    if (event.case === "error") {
      options.onError?.(event.value, response.callId);
      return;
    }
    if (event.case !== "executor") return;
    track(event.value, pending, launched);
    options.onEvent(event.value);
  };

  const stream = transport({
    hello,
    onEvent,
    onConnected: options.onConnected,
    onDisconnected: options.onDisconnected,
  });

  return {
    update(init) {
      const status = completeStatus(init, options.executorId);
      pending.set(uuidKey(status.uuid), status);
      return stream.send(request({ type: Call_Type.UPDATE, update: { status } }));
    },
    message: (data) => stream.send(request({ type: Call_Type.MESSAGE, message: { data } })),
    get unacknowledged() {
      return [...pending.values()];
    },
    get connected() {
      return stream.connected;
    },
    close: () => stream.close(),
  };
}

/** Keeps the launched-task and pending-update books in step with events. */
function track(event: Event, pending: Map<string, TaskStatus>, launched: Map<string, TaskInfo>): void {
  if (event.type === Event_Type.LAUNCH && event.launch?.task !== undefined) {
    const task = event.launch.task;
    launched.set(task.taskId?.value ?? "", task);
  } else if (event.type === Event_Type.LAUNCH_GROUP) {
    for (const task of event.launchGroup?.taskGroup?.tasks ?? []) launched.set(task.taskId?.value ?? "", task);
  } else if (event.type === Event_Type.ACKNOWLEDGED && event.acknowledged !== undefined) {
    pending.delete(uuidKey(event.acknowledged.uuid));
    // Once any update of a task is acknowledged the agent knows the task.
    launched.delete(event.acknowledged.taskId?.value ?? "");
  }
}

/** Fills what an executor leaves to the library: uuid, timestamp, source. */
function completeStatus(init: TaskStatus | MessageInitShape<typeof TaskStatusSchema>, executorId: string): TaskStatus {
  const status = create(TaskStatusSchema, init);
  if (status.uuid.length === 0) status.uuid = randomUuidBytes();
  if (status.timestamp === 0) status.timestamp = Date.now() / 1000;
  if (!isFieldSet(status, TaskStatusSchema.field.source)) status.source = TaskStatus_Source.EXECUTOR;
  status.executorId ??= create(ExecutorIDSchema, { value: executorId });
  return status;
}
