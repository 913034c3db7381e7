/**
 * The agent's side of executor streams: binds each stream to the executor
 * that subscribed on it and relays its calls into the core.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Call_Type, type Event, EventSchema } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  Error_Code,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { AgentCore, AgentEffect } from "../core/agent/agent-core.js";
import { executorKey } from "../core/agent/state.js";
import type { ExecutorSession, ExecutorSessions, ExecutorSink } from "../gateway/executor-sessions.js";
import type { Logger } from "../log.js";
import { type AsyncQueue, createAsyncQueue } from "../util/async-queue.js";
import { readUntilAborted } from "../util/read-until.js";
import type { Timers } from "../util/timers.js";

/** The executor-role streams of one agent, keyed by the executor bound to each; `open` serves the v1 executor endpoint. */
export interface ExecutorStreams extends ExecutorSessions {
  serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse>;
  /** Delivers an event to a subscribed executor; false when it has no stream. */
  deliver(frameworkId: string, executorId: string, event: Event): boolean;
  /** Ends every executor's stream; resolves once their request readers have stopped. */
  endAll(): Promise<void>;
}

/** What a bound executor's events go into: a stream's queue or a sink. */
type Outbox = Pick<AsyncQueue<ConnectResponse>, "push" | "end">;

function error(code: Error_Code, message: string, callId: string, fatal = false): ConnectResponse {
  return create(ConnectResponseSchema, { callId, event: { case: "error", value: { code, message, fatal } } });
}

/**
 * Serves executor streams: the first call must be a SUBSCRIBE of an executor
 * the core knows; later calls must name the same executor. A newer stream of
 * the same executor replaces the older one.
 */
export function createExecutorStreams(
  core: AgentCore,
  apply: (effects: AgentEffect[]) => void,
  logger: Logger,
  clock: Pick<Timers, "now">,
): ExecutorStreams {
  const outboxes = new Map<string, Outbox>();

  const handle = (request: ConnectRequest, outbox: Outbox, bound: string | undefined): string | undefined => {
    if (request.call.case !== "executor") {
      outbox.push(
        error(
          Error_Code.FAILED_PRECONDITION,
          "An agent serves executors only; schedulers, agents and operators talk to the master",
          request.id,
        ),
      );
      return bound;
    }
    const call = request.call.value;
    const frameworkId = call.frameworkId?.value ?? "";
    const executorId = call.executorId?.value ?? "";
    const key = executorKey(frameworkId, executorId);
    if (call.type === Call_Type.SUBSCRIBE) {
      const previous = outboxes.get(key);
      // Bind first: the core's SUBSCRIBED and LAUNCH effects go to this stream.
      outboxes.set(key, outbox);
      const result = core.executorSubscribed(frameworkId, executorId, call.subscribe, clock.now());
      if (result.refusal !== undefined) {
        if (previous !== undefined) outboxes.set(key, previous);
        else outboxes.delete(key);
        const code = result.refusal.code === "not-found" ? Error_Code.NOT_FOUND : Error_Code.FAILED_PRECONDITION;
        outbox.push(error(code, result.refusal.message, request.id, true));
        outbox.end();
        return bound;
      }
      // A re-subscription replaces the executor's older stream.
      if (previous !== undefined && previous !== outbox) previous.end();
      apply(result.effects);
      return key;
    }
    if (bound === undefined) {
      outbox.push(
        error(
          Error_Code.FAILED_PRECONDITION,
          "Expecting SUBSCRIBE as the first call on an executor stream",
          request.id,
        ),
      );
      return bound;
    }
    if (key !== bound) {
      outbox.push(error(Error_Code.INVALID_ARGUMENT, `This stream is subscribed as executor ${bound}`, request.id));
      return bound;
    }
    switch (call.type) {
      case Call_Type.UPDATE: {
        if (call.update?.status === undefined) {
          outbox.push(error(Error_Code.INVALID_ARGUMENT, "Expecting 'update.status' to be present", request.id));
          break;
        }
        const result = core.executorUpdate(frameworkId, executorId, call.update.status, clock.now());
        if (result.error !== undefined) outbox.push(error(Error_Code.INVALID_ARGUMENT, result.error, request.id));
        apply(result.effects);
        break;
      }
      case Call_Type.MESSAGE:
        apply(core.executorMessage(frameworkId, executorId, call.message?.data ?? new Uint8Array()));
        break;
      case Call_Type.HEARTBEAT:
        break;
      default:
        outbox.push(
          error(
            Error_Code.INVALID_ARGUMENT,
            "Expecting 'type' to be one of SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT",
            request.id,
          ),
        );
    }
    return bound;
  };

  /** The request readers of live streams, by what stops each: a stream that ends stops its reader. */
  const readers = new Map<AbortController, Promise<void>>();

  const read = async (
    requests: AsyncIterable<ConnectRequest>,
    stop: AbortSignal,
    outbox: AsyncQueue<ConnectResponse>,
  ): Promise<void> => {
    let bound: string | undefined;
    try {
      await readUntilAborted(requests, stop, (request) => {
        bound = handle(request, outbox, bound);
      });
    } catch (err) {
      if (!stop.aborted) logger.warn({ err: String(err) }, "executor stream failed");
    } finally {
      if (bound !== undefined && outboxes.get(bound) === outbox) outboxes.delete(bound);
      outbox.end();
    }
  };

  async function* serve(
    requests: AsyncIterable<ConnectRequest>,
    context: HandlerContext,
  ): AsyncGenerator<ConnectResponse> {
    const outbox = createAsyncQueue<ConnectResponse>();
    // Whatever ends the stream (its executor, the agent, Connect once this
    // handler returns) stops its reader too.
    const stop = new AbortController();
    const onHandlerDone = (): void => stop.abort();
    context.signal.addEventListener("abort", onHandlerDone, { once: true });
    const reader = read(requests, stop.signal, outbox);
    readers.set(stop, reader);
    try {
      yield* outbox;
    } finally {
      outbox.end();
      stop.abort();
      context.signal.removeEventListener("abort", onHandlerDone);
      await reader;
      readers.delete(stop);
    }
  }

  const open = (sink: ExecutorSink): ExecutorSession => {
    let closed = false;
    let bound: string | undefined;
    const outbox: Outbox = {
      push: (response) => {
        if (closed) return false;
        sink.send(response);
        return true;
      },
      end: () => {
        if (closed) return;
        closed = true;
        sink.end();
      },
    };
    return {
      request: (request) => {
        if (!closed) bound = handle(request, outbox, bound);
      },
      close: () => {
        if (bound !== undefined && outboxes.get(bound) === outbox) outboxes.delete(bound);
        outbox.end();
      },
      get bound() {
        return closed ? undefined : bound;
      },
    };
  };

  return {
    serve,
    open,
    deliver(frameworkId, executorId, event) {
      const outbox = outboxes.get(executorKey(frameworkId, executorId));
      if (outbox === undefined) return false;
      return outbox.push(
        create(ConnectResponseSchema, { event: { case: "executor", value: create(EventSchema, event) } }),
      );
    },
    async endAll() {
      for (const outbox of outboxes.values()) outbox.end();
      outboxes.clear();
      // A stream whose executor stopped reading never resumes its handler: stop its reader here.
      for (const stop of readers.keys()) stop.abort();
      await Promise.all(readers.values());
    },
  };
}
