/**
 * An executor's client on the unified stream to its agent: the v1 executor
 * calls with Mesos' reliable status update delivery.
 *
 *   update(status) ──► kept until ACKNOWLEDGED(uuid) ──► forgotten
 *        │ stream drops
 *        ▼
 *   reconnect: SUBSCRIBE carries every kept update and every launched task
 *   with no acknowledged update, so the agent (perhaps restarted) recovers
 *   exactly what it has not yet seen acknowledged.
 */
import { create, isFieldSet, type MessageInitShape } from "@bufbuild/protobuf";
import type { Http2SessionManager } from "@connectrpc/connect-node";
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
import type { Logger } from "../log.js";
import { randomUuidBytes } from "../util/uuid.js";
import { newCallId, openStream, type ReconnectPolicy, type StreamOptions, type UnifiedStream } from "./stream.js";

/** What an executor's stream needs from its client, whatever carries it. */
export type ExecutorStreamOptions = Pick<StreamOptions, "hello" | "onEvent" | "onConnected" | "onDisconnected">;
/** What an executor client needs of its stream: a unified stream, or a session on a shared connection. */
export type ExecutorStream = Pick<UnifiedStream, "send" | "connected" | "close">;

/** Options of `createExecutor`. */
export interface ExecutorOptions {
  /** The agent's "host:port" or URL (MESOS_AGENT_ENDPOINT). */
  agent: string;
  frameworkId: string;
  executorId: string;
  /** Every v1 executor event (ACKNOWLEDGED included, after bookkeeping). */
  onEvent: (event: Event) => void;
  onError?: (error: StreamError, callId: string) => void;
  onConnected?: () => void;
  onDisconnected?: (error: Error | undefined) => void;
  /** Drop the stream when the agent is silent this long (it sends HEARTBEATs). */
  heartbeatTimeoutMs?: number;
  reconnect?: ReconnectPolicy | false;
  /** An HTTP/2 connection to the agent shared with other executors (see StreamOptions). */
  sessionManager?: Http2SessionManager;
  /**
   * Carries the executor's calls and events instead of a stream of its own
   * to `agent` (an executor host's one connection to its agent, see
   * src/executor/agent-socket.ts); it reconnects by its own policy.
   */
  transport?: (options: ExecutorStreamOptions) => ExecutorStream;
  logger?: Logger;
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

/** Reads the Mesos executor environment the agent sets for its executors. */
export function executorEnvironment(env: NodeJS.ProcessEnv = process.env): {
  agent: string;
  frameworkId: string;
  executorId: string;
} {
  const get = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  return {
    agent: get("MESOS_AGENT_ENDPOINT"),
    frameworkId: get("MESOS_FRAMEWORK_ID"),
    executorId: get("MESOS_EXECUTOR_ID"),
  };
}

function uuidKey(uuid: Uint8Array): string {
  return Buffer.from(uuid).toString("hex");
}

/** Creates an executor client; it connects and subscribes in the background. */
export function createExecutor(options: ExecutorOptions): ExecutorClient {
  // Insertion-ordered, so resends keep the original order per task.
  const pending = new Map<string, TaskStatus>();
  const launched = new Map<string, TaskInfo>();

  const request = (init: MessageInitShape<typeof CallSchema>): ConnectRequest => {
    const call = create(CallSchema, init);
    call.frameworkId = create(FrameworkIDSchema, { value: options.frameworkId });
    call.executorId = create(ExecutorIDSchema, { value: options.executorId });
    return create(ConnectRequestSchema, { id: newCallId(), call: { case: "executor", value: call } });
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

  const callbacks = { hello, onEvent, onConnected: options.onConnected, onDisconnected: options.onDisconnected };
  const stream: ExecutorStream =
    options.transport?.(callbacks) ??
    openStream({
      ...callbacks,
      baseUrl: options.agent,
      heartbeatTimeoutMs: () => options.heartbeatTimeoutMs,
      reconnect: options.reconnect,
      sessionManager: options.sessionManager,
      logger: options.logger,
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
