/**
 * A framework's scheduler client on the unified stream: the v1 scheduler
 * calls, typed, with Mesos' subscribe and failover behaviour.
 *
 *   connect ──► SUBSCRIBE(framework_info[, id]) ──► SUBSCRIBED ──► calls...
 *      ▲                                                  │ drop
 *      └──────────── backoff, resubscribe with the id ◄───┘
 *
 * The framework id learned from the first SUBSCRIBED is put into every later
 * SUBSCRIBE, so a reconnect is a Mesos framework failover, not a new
 * framework. Calls without an answer (ACCEPT, DECLINE, ...) are sent with a
 * fresh id; a rejection comes back as a v2 Error with that id (`onError`).
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  FrameworkIDSchema,
  FrameworkInfoSchema,
  type Offer,
  type Offer_Operation,
  Offer_Operation_Type,
  type TaskInfo,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type Call, Call_Type, CallSchema, type Event, Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  type Error as StreamError,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { Logger } from "../log.js";
import { newCallId, openStream, type ReconnectPolicy, type UnifiedStream } from "./stream.js";

/** An id message or its bare value. */
export type IdLike = string | { value: string };

/** Options of `createScheduler`. */
export interface SchedulerOptions {
  /** The master's "host:port" or URL. */
  master: string;
  /** The framework to subscribe; `id` set means failing over to it. */
  framework: MessageInitShape<typeof FrameworkInfoSchema>;
  /** Every v1 scheduler event, SUBSCRIBED and HEARTBEAT included. */
  onEvent: (event: Event) => void;
  /** Rejections of calls (and fatal stream errors) from the master. */
  onError?: (error: StreamError, callId: string) => void;
  /** The stream dropped; it will resubscribe unless closed. */
  onDisconnected?: (error: Error | undefined) => void;
  /** Roles to subscribe suppressed (SUBSCRIBE.suppressed_roles). */
  suppressedRoles?: string[];
  reconnect?: ReconnectPolicy | false;
  logger?: Logger;
}

/** A subscribed (or subscribing) framework. Call methods return false when not connected. */
export interface SchedulerClient {
  /** Known after the first SUBSCRIBED. */
  readonly frameworkId: string | undefined;
  /** True between SUBSCRIBED and the next drop. */
  readonly subscribed: boolean;
  accept(offerIds: IdLike[], operations: Offer_Operation[], filters?: { refuseSeconds?: number }): boolean;
  /** ACCEPT one offer with one LAUNCH; fills each task's agent_id from the offer. */
  launch(offer: Offer, tasks: TaskInfo[], filters?: { refuseSeconds?: number }): boolean;
  decline(offerIds: IdLike[], refuseSeconds?: number): boolean;
  revive(roles?: string[]): boolean;
  suppress(roles?: string[]): boolean;
  kill(taskId: IdLike, agentId?: IdLike): boolean;
  /** No-op (true) for updates without a uuid, which need no acknowledgement. */
  acknowledge(status: TaskStatus): boolean;
  /** Explicit reconciliation for `tasks`, implicit (all tasks) when absent. */
  reconcile(tasks?: { taskId: IdLike; agentId?: IdLike }[]): boolean;
  message(agentId: IdLike, executorId: IdLike, data: Uint8Array): boolean;
  /** TEARDOWN, then close: the framework and its tasks are gone. */
  teardown(): Promise<void>;
  /** Disconnects without tearing down (the master keeps the framework for its failover_timeout). */
  close(): Promise<void>;
}

/** Slack added to 3 heartbeat intervals before the master is presumed dead. */
const heartbeatSlackMs = 2_000;

function id(value: IdLike): { value: string } {
  return typeof value === "string" ? { value } : { value: value.value };
}

/** Builds a v1 scheduler call inside a v2 envelope with a fresh id. */
export function schedulerRequest(
  frameworkId: string | undefined,
  type: Call_Type,
  init: MessageInitShape<typeof CallSchema> = {},
): ConnectRequest {
  const call: Call = create(CallSchema, init);
  call.type = type;
  if (frameworkId !== undefined) call.frameworkId = create(FrameworkIDSchema, { value: frameworkId });
  return create(ConnectRequestSchema, { id: newCallId(), call: { case: "scheduler", value: call } });
}

/** Creates a scheduler client; it connects and subscribes in the background. */
export function createScheduler(options: SchedulerOptions): SchedulerClient {
  let frameworkId: string | undefined = options.framework.id?.value || undefined;
  let heartbeatSeconds: number | undefined;
  let subscribed = false;

  const hello = (): ConnectRequest => {
    const info = create(FrameworkInfoSchema, options.framework);
    if (frameworkId !== undefined) info.id = create(FrameworkIDSchema, { value: frameworkId });
    return schedulerRequest(frameworkId, Call_Type.SUBSCRIBE, {
      subscribe: { frameworkInfo: info, suppressedRoles: options.suppressedRoles ?? [] },
    });
  };

  const onEvent = (response: ConnectResponse): void => {
    const { event } = response;
    if (event.case === "error") {
      options.onError?.(event.value, response.callId);
      return;
    }
    if (event.case !== "scheduler") return;
    if (event.value.type === Event_Type.SUBSCRIBED && event.value.subscribed !== undefined) {
      frameworkId = event.value.subscribed.frameworkId?.value ?? frameworkId;
      heartbeatSeconds = event.value.subscribed.heartbeatIntervalSeconds || undefined;
      subscribed = true;
    }
    options.onEvent(event.value);
  };

  const stream: UnifiedStream = openStream({
    baseUrl: options.master,
    hello,
    onEvent,
    onDisconnected: (error) => {
      subscribed = false;
      options.onDisconnected?.(error);
    },
    heartbeatTimeoutMs: () =>
      heartbeatSeconds === undefined ? undefined : 3 * heartbeatSeconds * 1000 + heartbeatSlackMs,
    reconnect: options.reconnect,
    logger: options.logger,
  });

  const send = (type: Call_Type, init?: Parameters<typeof schedulerRequest>[2]): boolean => {
    const request = schedulerRequest(frameworkId, type, init);
    try {
      // A message that cannot be encoded would otherwise fail inside the
      // stream and drop it, taking the framework's subscription along.
      toBinary(ConnectRequestSchema, request);
    } catch (err) {
      throw new TypeError(
        `${Call_Type[type] ?? type} cannot be encoded: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return subscribed && stream.send(request);
  };

  return {
    get frameworkId() {
      return frameworkId;
    },
    get subscribed() {
      return subscribed && stream.connected;
    },
    accept: (offerIds, operations, filters) =>
      send(Call_Type.ACCEPT, { accept: { offerIds: offerIds.map(id), operations, filters } }),
    launch: (offer, tasks, filters) => {
      for (const task of tasks) if (task.agentId === undefined) task.agentId = offer.agentId;
      const operation = { type: Offer_Operation_Type.LAUNCH, launch: { taskInfos: tasks } };
      return send(Call_Type.ACCEPT, {
        accept: { offerIds: offer.id ? [offer.id] : [], operations: [operation], filters },
      });
    },
    decline: (offerIds, refuseSeconds) =>
      send(Call_Type.DECLINE, {
        decline: { offerIds: offerIds.map(id), filters: refuseSeconds === undefined ? undefined : { refuseSeconds } },
      }),
    revive: (roles = []) => send(Call_Type.REVIVE, { revive: { roles } }),
    suppress: (roles = []) => send(Call_Type.SUPPRESS, { suppress: { roles } }),
    kill: (taskId, agentId) =>
      send(Call_Type.KILL, { kill: { taskId: id(taskId), agentId: agentId === undefined ? undefined : id(agentId) } }),
    acknowledge: (status) => {
      if (status.uuid.length === 0) return true;
      return send(Call_Type.ACKNOWLEDGE, {
        acknowledge: { agentId: status.agentId, taskId: status.taskId, uuid: status.uuid },
      });
    },
    reconcile: (tasks = []) =>
      send(Call_Type.RECONCILE, {
        reconcile: {
          tasks: tasks.map((t) => ({
            taskId: id(t.taskId),
            agentId: t.agentId === undefined ? undefined : id(t.agentId),
          })),
        },
      }),
    message: (agentId, executorId, data) =>
      send(Call_Type.MESSAGE, { message: { agentId: id(agentId), executorId: id(executorId), data } }),
    teardown: async () => {
      send(Call_Type.TEARDOWN);
      await stream.close();
    },
    close: () => stream.close(),
  };
}
