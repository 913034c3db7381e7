/**
 * The agent's link to the master: what it registers with, which master's
 * orders it takes (leader epochs), and how each event reaches the core. It
 * rides on a channel it does not own the making of: the reconnecting
 * unified stream in `plateau agent`, an in-memory pipe in an in-process
 * cluster.
 *
 *   (channel opens) ──hello: Register (with the id, if any)──► registering
 *   registering ──Registered──► registered: id saved, pending updates resent
 *   registered ──events of the newest epoch──► core; older epochs ignored
 *   (channel drops) ──► core.disconnected(), updates wait ──► (channel reopens)
 *   fatal ERROR (marked gone, reconfigured against its policy) ──► refused:
 *     channel closed for good; the owner stops the agent (onRefused)
 */
import { create } from "@bufbuild/protobuf";
import {
  type AgentCall,
  AgentCall_ReconfigurationPolicy,
  AgentCallSchema,
  type AgentEvent,
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { ReconnectPolicy } from "../client/backoff.js";
import { newCallId } from "../client/stream.js";
import type { AgentCore, AgentEffect } from "../core/agent/agent-core.js";
import type { Logger } from "../log.js";
import type { Timers } from "../util/timers.js";
import type { AgentWorkDir } from "./work-dir.js";

/** How the agent redials a master it lost: fast at first, a fleet spreads out after. */
export const AGENT_RECONNECT: ReconnectPolicy = { initialMs: 200, maxMs: 10_000 };

/** What carries the link: a stream to the master (UnifiedStream fits). */
export interface MasterChannel {
  /** False when not connected: the call is dropped. */
  send(request: ConnectRequest): boolean;
  close(): Promise<void>;
}

export interface MasterLinkDeps {
  core: AgentCore;
  apply(effects: AgentEffect[]): void;
  workDir: Pick<AgentWorkDir, "saveAgentId">;
  /** The agent's address, sent with Register. */
  ip: string;
  /** Sent with Register: which changes of what it offers the master may accept. */
  reconfigurationPolicy?: AgentCall_ReconfigurationPolicy;
  /** How the master was named (for messages). */
  master: string;
  /** The master refused this agent for good, saying why. */
  onRefused(message: string): void;
  timers: Pick<Timers, "now">;
  logger: Logger;
}

/** The channel's callbacks and the agent's way to the master. */
export interface MasterLink {
  /** The first request of every connection. */
  hello(): ConnectRequest;
  onEvent(response: ConnectResponse): void;
  onDisconnected(error: Error | undefined): void;
  /** Three missed heartbeats and 5 s: the master is presumed gone. Undefined before the first Registered. */
  heartbeatTimeoutMs(): number | undefined;
  attach(channel: MasterChannel): void;
  send(call: AgentCall): void;
  readonly refused: boolean;
  /** The agent is stopping: a drop from now on is no news (no warning, no disconnect). */
  stop(): void;
  /** Stops, then closes the channel; the same promise every time. */
  close(): Promise<void>;
}

export function createMasterLink(deps: MasterLinkDeps): MasterLink {
  const { core, apply, logger } = deps;
  let channel: MasterChannel | undefined;
  let closing: Promise<void> | undefined;
  let stopped = false;
  let refused = false;
  let heartbeatSeconds: number | undefined;
  /** The newest leader epoch seen on the master stream. */
  let leaderEpoch = 0n;
  /** Said once per outage, not at every retry. */
  let warnedUnreachable = false;

  const send = (call: AgentCall): void => {
    channel?.send(create(ConnectRequestSchema, { call: { case: "agent", value: call } }));
  };
  const close = (): Promise<void> => {
    stopped = true;
    closing ??= channel?.close() ?? Promise.resolve();
    return closing;
  };

  const onEvent = (response: ConnectResponse): void => {
    if (response.event.case === "error") {
      if (response.event.value.fatal) {
        // Refused for good (marked gone by the operator, or reconfigured
        // against its policy): trying again cannot help.
        const { message } = response.event.value;
        logger.fatal(`the master refuses this agent for good: ${message}`);
        refused = true;
        deps.onRefused(message);
        // Not awaited here (we are inside the channel's event callback);
        // whoever closes the agent awaits this same promise via close().
        void close();
        return;
      }
      logger.warn({ error: response.event.value.message }, "master refused a call");
      return;
    }
    if (response.event.case !== "agent") return;
    const event = response.event.value;
    // A deposed master (an older epoch than one already seen) gives no
    // orders. Registered comes from the master this agent just registered
    // with: its epoch is the baseline (epochs restart with a new registry).
    if (event.event.case === "registered") leaderEpoch = event.leaderEpoch;
    if (event.leaderEpoch < leaderEpoch) {
      logger.warn(
        { epoch: String(event.leaderEpoch), current: String(leaderEpoch) },
        "ignoring an event from a master that no longer leads",
      );
      return;
    }
    leaderEpoch = event.leaderEpoch;
    dispatch(event);
  };

  const dispatch = (agentEvent: AgentEvent): void => {
    const now = deps.timers.now();
    const event = agentEvent.event;
    switch (event.case) {
      case "registered": {
        const id = event.value.agentId?.value ?? "";
        heartbeatSeconds = event.value.heartbeatIntervalSeconds || undefined;
        if (id !== core.state.agentId) deps.workDir.saveAgentId(id);
        warnedUnreachable = false;
        logger.info({ agentId: id }, "registered with the master");
        return apply(core.registered(id, now));
      }
      case "runTask":
        if (event.value.frameworkInfo !== undefined && event.value.task !== undefined)
          apply(core.runTask(event.value.frameworkInfo, event.value.task, now));
        return;
      case "killTask":
        return apply(
          core.killTask(
            event.value.frameworkId?.value ?? "",
            event.value.taskId?.value ?? "",
            event.value.killPolicy,
            now,
          ),
        );
      case "acknowledge":
        return apply(
          core.acknowledge(
            event.value.frameworkId?.value ?? "",
            event.value.taskId?.value ?? "",
            event.value.uuid,
            now,
          ),
        );
      case "reconcileTasks":
        if (event.value.frameworkInfo === undefined) return;
        return apply(
          core.reconcileTasks(
            event.value.frameworkInfo,
            event.value.taskIds.map((id) => id.value),
            now,
          ),
        );
      case "resendUpdates":
        return apply(core.resendUpdates(event.value.frameworkId?.value ?? "", now));
      case "frameworkMessage":
        return apply(
          core.frameworkMessage(
            event.value.frameworkId?.value ?? "",
            event.value.executorId?.value ?? "",
            event.value.data,
          ),
        );
      case "shutdownFramework":
        return apply(core.shutdownFramework(event.value.frameworkId?.value ?? "", now));
      case "shutdownExecutor":
        return apply(
          core.shutdownExecutor(event.value.frameworkId?.value ?? "", event.value.executorId?.value ?? "", now),
        );
      case "heartbeat":
        // The master marks an agent that stops answering unreachable.
        return send(create(AgentCallSchema, { call: { case: "heartbeat", value: {} } }));
      case "applyOperation":
        if (event.value.operation === undefined) return;
        return apply(
          core.applyOperation(
            event.value.frameworkId?.value || undefined,
            event.value.operation,
            event.value.operationUuid,
          ),
        );
      default:
        return;
    }
  };

  return {
    hello: () => {
      const register = {
        ...core.registration(),
        ip: deps.ip,
        reconfigurationPolicy: deps.reconfigurationPolicy ?? AgentCall_ReconfigurationPolicy.EQUAL,
      };
      return create(ConnectRequestSchema, {
        id: newCallId(),
        call: { case: "agent", value: { call: { case: "register", value: register } } },
      });
    },
    onEvent,
    onDisconnected(error) {
      if (stopped) return;
      if (core.state.connected) logger.warn({ error: error?.message }, "lost the master; reconnecting");
      else if (!warnedUnreachable)
        logger.warn({ master: deps.master, error: error?.message }, "cannot reach the master; retrying with backoff");
      warnedUnreachable = true;
      core.disconnected();
    },
    heartbeatTimeoutMs: () => (heartbeatSeconds === undefined ? undefined : (heartbeatSeconds * 3 + 5) * 1000),
    attach(c) {
      channel = c;
    },
    send,
    get refused() {
      return refused;
    },
    stop() {
      stopped = true;
    },
    close,
  };
}
