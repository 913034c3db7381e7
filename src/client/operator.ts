/**
 * The operator client: one-shot master calls over the unary `Operate` RPC,
 * and the operator event feed (SUBSCRIBE) over a unified stream.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  type Call,
  Call_Type,
  CallSchema,
  type Event,
  Event_Type,
  type Response,
  type Response_GetAgents,
  type Response_GetFrameworks,
  type Response_GetState,
  type Response_GetTasks,
} from "../../gen/mesos/v1/master/master_pb.js";
import {
  ConnectRequestSchema,
  type ConnectResponse,
  MesosService,
  type OperateStreamResponse,
  OperateStreamResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { Logger } from "../log.js";
import { createPieceAssembler } from "../wire/pieces.js";
import { createMasterLocator, isMasterList, leaderMovedFrom } from "./masters.js";
import { newCallId, normalizeBaseUrl, openStream, type ReconnectPolicy } from "./stream.js";

/** Options of `createOperator`. */
export interface OperatorOptions {
  /** The master's "host:port" or URL, several masters comma-separated, or etcd://host:port/prefix. */
  master: string;
  /** Deadline of each unary call; default 10 s. */
  timeoutMs?: number;
  logger?: Logger;
}

/** A running operator SUBSCRIBE feed. */
export interface OperatorSubscription {
  readonly connected: boolean;
  close(): Promise<void>;
}

/** Options of `OperatorClient.subscribe`. */
export interface OperatorSubscribeOptions {
  onDisconnected?: (error: Error | undefined) => void;
  reconnect?: ReconnectPolicy | false;
}

/** Operator calls against one master. */
export interface OperatorClient {
  /** Any master call; rejects with a ConnectError (e.g. Unavailable when unreachable). */
  call(call: Call | MessageInitShape<typeof CallSchema>): Promise<Response>;
  getState(): Promise<Response_GetState>;
  getAgents(): Promise<Response_GetAgents>;
  getFrameworks(): Promise<Response_GetFrameworks>;
  getTasks(): Promise<Response_GetTasks>;
  /**
   * Streams master events (SUBSCRIBED with the full state first, then
   * TASK_ADDED, AGENT_ADDED, ...), resubscribing after drops; on every
   * resubscribe SUBSCRIBED carries a fresh snapshot.
   */
  subscribe(onEvent: (event: Event) => void, options?: OperatorSubscribeOptions): OperatorSubscription;
  /** Closes the unary connection (subscriptions are closed on their own). */
  close(): Promise<void>;
}

type CallOptions = { timeoutMs: number; signal: AbortSignal };

/**
 * One call's answer: unary when it fits in a gRPC message, else (the
 * master says RESOURCE_EXHAUSTED: a large cluster's state) read again in
 * pieces through OperateStream and merged.
 */
async function operateWhole(
  client: Client<typeof MesosService>,
  request: { call: Call },
  options: CallOptions,
): Promise<Response | undefined> {
  try {
    return (await client.operate(request, options)).response;
  } catch (err) {
    if (!(err instanceof ConnectError) || err.code !== Code.ResourceExhausted) throw err;
  }
  const pieces = createPieceAssembler(OperateStreamResponseSchema);
  let whole: OperateStreamResponse | undefined;
  // Read to the stream's end (the server ends it after the last piece):
  // leaving the loop early keeps the call's deadline timer alive.
  for await (const answer of client.operateStream(request, options)) whole = pieces.add("", answer) ?? whole;
  if (whole === undefined) throw new ConnectError("OperateStream ended before the answer's last piece", Code.DataLoss);
  return whole.response;
}

/** Creates an operator client; nothing connects until the first call. */
export function createOperator(options: OperatorOptions): OperatorClient {
  const several = isMasterList(options.master);
  const baseUrl = several ? options.master.trim() : normalizeBaseUrl(options.master);
  // One master is a list of one: a standby named directly still names the
  // leader in its refusal, and the call follows it there.
  const locator = createMasterLocator(options.master, options.logger);
  const peers = new Map<string, { client: Client<typeof MesosService>; sessions: Http2SessionManager }>();
  const peer = (url: string) => {
    let p = peers.get(url);
    if (p === undefined) {
      const sessions = new Http2SessionManager(url);
      p = {
        sessions,
        client: createClient(MesosService, createGrpcTransport({ baseUrl: url, sessionManager: sessions })),
      };
      peers.set(url, p);
    }
    return p;
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  /** With several masters: the one that answered last (the leader, as far as we know). */
  let current: string | undefined = several ? undefined : baseUrl;

  const call = async (init: Call | MessageInitShape<typeof CallSchema>): Promise<Response> => {
    const request = { call: create(CallSchema, init) };
    // Try until a master leads: a standby's refusal names the leader.
    const attempts = 4;
    let lastError: unknown;
    let hinted = false;
    for (let i = 0; i < attempts; i++) {
      // etcd's announcement, when there is one, beats the last master that
      // answered: that one may be frozen and no longer lead. A standby's
      // hint beats both: it has just said who leads.
      const target = hinted ? await locator.next() : (locator.announced?.() ?? current ?? (await locator.next()));
      // A leader that froze holds the call; once etcd announces another,
      // give up on it as on a timeout.
      const moved = new AbortController();
      void leaderMovedFrom(locator, target, moved.signal).then((leader) =>
        moved.abort(
          new ConnectError(
            `${target} no longer leads (the leader is ${leader}); the call may or may not have taken effect`,
            Code.DeadlineExceeded,
          ),
        ),
      );
      try {
        const response = await operateWhole(peer(target).client, request, { timeoutMs, signal: moved.signal });
        if (response === undefined) throw new Error(`master ${target} sent an empty response`);
        current = target;
        return response;
      } catch (err) {
        lastError = err;
        if (moved.signal.aborted) {
          current = undefined;
          throw moved.signal.reason;
        }
        if (!(err instanceof ConnectError)) throw err;
        // A master that does not answer in time may be paused or partitioned:
        // the next call looks for the leader again (this one is not retried,
        // since it may have taken effect).
        if (err.code === Code.DeadlineExceeded) current = undefined;
        if (err.code !== Code.Unavailable) throw err;
        current = undefined;
        hinted = locator.learn(err);
        // One master named and no leader hint (it is down, or no leader is
        // elected yet): there is nowhere else to try.
        if (!several && !hinted) throw err;
      } finally {
        moved.abort();
      }
    }
    throw lastError;
  };

  /** Runs a GET_* call and picks its payload, which must be present. */
  const get = async <T>(type: Call_Type, pick: (r: Response) => T | undefined): Promise<T> => {
    const response = await call({ type });
    const payload = pick(response);
    if (payload === undefined) throw new Error(`master ${baseUrl} answered ${Call_Type[type]} without its payload`);
    return payload;
  };

  return {
    call,
    getState: () => get(Call_Type.GET_STATE, (r) => r.getState),
    getAgents: () => get(Call_Type.GET_AGENTS, (r) => r.getAgents),
    getFrameworks: () => get(Call_Type.GET_FRAMEWORKS, (r) => r.getFrameworks),
    getTasks: () => get(Call_Type.GET_TASKS, (r) => r.getTasks),
    subscribe: (onEvent, subscribeOptions = {}) =>
      subscribeOperator(baseUrl, onEvent, subscribeOptions, options.logger),
    close: async () => {
      for (const p of peers.values()) p.sessions.abort();
      await locator?.close();
    },
  };
}

function subscribeOperator(
  baseUrl: string,
  onEvent: (event: Event) => void,
  options: OperatorSubscribeOptions,
  logger: Logger | undefined,
): OperatorSubscription {
  let heartbeatSeconds: number | undefined;
  const stream = openStream({
    baseUrl,
    hello: () =>
      create(ConnectRequestSchema, {
        id: newCallId(),
        call: { case: "operator", value: create(CallSchema, { type: Call_Type.SUBSCRIBE }) },
      }),
    onEvent: (response: ConnectResponse) => {
      if (response.event.case !== "operatorEvent") return;
      const event = response.event.value;
      if (event.type === Event_Type.SUBSCRIBED) {
        heartbeatSeconds = event.subscribed?.heartbeatIntervalSeconds || undefined;
      }
      onEvent(event);
    },
    onDisconnected: options.onDisconnected,
    // Three missed heartbeats plus slack: the master is gone or partitioned.
    heartbeatTimeoutMs: () => (heartbeatSeconds === undefined ? undefined : heartbeatSeconds * 3000 + 2000),
    reconnect: options.reconnect,
    logger,
  });
  return {
    get connected() {
      return stream.connected;
    },
    close: () => stream.close(),
  };
}
