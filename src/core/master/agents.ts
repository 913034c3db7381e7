import { clone } from "@bufbuild/protobuf";
import {
  type AgentInfo,
  AgentInfoSchema,
  FrameworkInfo_Capability_Type as Capability,
  TaskState,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type {
  AgentCall_ExecutorExited,
  AgentCall_FrameworkMessage,
  AgentCall_Register,
} from "../../../gen/mesos/v2/mesos_pb.js";
import { applyCheckpointed, validateResources } from "../resources/index.js";
import { reconfigurationRefusal, sameAgentInfo } from "./agent-compatibility.js";
import { adoptTasks, endUnreported, reconcileUnreported } from "./agent-tasks.js";
import { broadcastOperators, type Ctx, persist, requestAllocation, send } from "./context.js";
import {
  agentEvent,
  agentIdOf,
  type CallError,
  ErrorCode,
  errorEvent,
  OperatorEventType,
  operatorEvent,
  Reason,
  SchedulerEventType,
  schedulerEvent,
} from "./events.js";
import { hasCapability } from "./frameworks.js";
import { rescindOffers } from "./offers.js";
import { type AgentRecord, type SessionId, splitTaskKey } from "./state.js";
import { masterMove, unreachableOn } from "./task-bookkeeping.js";
import { agentView } from "./views.js";

/**
 * An agent registers, or re-registers with the id it was given. Its task list
 * is set against the master's (agent-tasks.ts): a master that restarted
 * learns the tasks again, unreachable ones come back, missing ones end.
 */
export function registerAgent(
  ctx: Ctx,
  session: SessionId,
  callId: string,
  call: AgentCall_Register,
): CallError | undefined {
  // The core keeps the agent's info, never edits it, and needs its own copy
  // only to set the id of an agent registering for the first time.
  const requested = call.agentInfo;
  const info = requested === undefined || requested.id?.value ? requested : clone(AgentInfoSchema, requested);
  if (info === undefined || info.hostname === "") {
    return { code: ErrorCode.INVALID_ARGUMENT, message: "Register needs agent_info with a hostname" };
  }
  const invalid = validateResources([...info.resources, ...call.checkpointedResources]);
  if (invalid !== undefined)
    return { code: ErrorCode.INVALID_ARGUMENT, message: `Invalid agent resources: ${invalid}` };
  const total = applyCheckpointed(info.resources, call.checkpointedResources);
  if (typeof total === "string")
    return { code: ErrorCode.INVALID_ARGUMENT, message: `Invalid agent resources: ${total}` };
  const requestedId = info.id?.value ?? "";
  if (ctx.state.goneAgents.has(requestedId)) return goneError(requestedId);
  // Refused before anything is touched: the known record stays as it was.
  const known = ctx.state.agents.get(requestedId)?.info ?? ctx.state.unreachableAgentInfos.get(requestedId);
  const changed = known && reconfigurationRefusal(requestedId, call.reconfigurationPolicy, known, info);
  if (changed) return { code: ErrorCode.FAILED_PRECONDITION, message: changed, fatal: true };
  const wasUnreachable = ctx.state.unreachableAgents.delete(requestedId);
  ctx.state.unreachableAgentInfos.delete(requestedId);
  if (requestedId === "") for (const old of replacedAgents(ctx, info, call.ip)) removeReplacedAgent(ctx, old);
  let agent = ctx.state.agents.get(requestedId);
  if (agent?.session !== undefined && agent.session !== session) {
    // A second stream for the same agent: the newer one is the live agent.
    ctx.out.push({ kind: "end", session: agent.session });
    ctx.state.sessions.delete(agent.session);
  }
  const isNew = agent === undefined;
  let wasRestored = false;
  if (agent === undefined) {
    const id = requestedId !== "" ? requestedId : ctx.ids.next("agent");
    if (requestedId === "") info.id = agentIdOf(id);
    agent = {
      id,
      info,
      version: call.version,
      ip: call.ip,
      session,
      registeredAt: ctx.now,
      reregisteredAt: undefined,
      disconnectedAt: undefined,
      lastSeenAt: ctx.now,
      total,
      tasks: new Set(),
      offers: new Set(),
      executors: new Map(),
    };
    ctx.state.agents.set(id, agent);
    indexAddress(ctx, agent);
  } else {
    // Found by the id it asked for: `info` already carries it.
    unindexAddress(ctx, agent);
    agent.info = info;
    agent.total = total;
    agent.session = session;
    // The agent's checkpoint is the truth now: operations it never answered
    // either happened (and show in its total) or did not.
    for (const [uuid, pending] of ctx.state.operations)
      if (pending.agentId === agent.id) ctx.state.operations.delete(uuid);
    agent.version = call.version;
    agent.ip = call.ip;
    indexAddress(ctx, agent);
    agent.reregisteredAt = ctx.now;
    agent.disconnectedAt = undefined;
    agent.lastSeenAt = ctx.now;
    wasRestored = agent.restored === true;
    agent.restored = false;
    // Offers made on its earlier stream (still open when it came back on a
    // new one) would outlive the allocator's forgetting them below, and their
    // resources would be offered twice.
    rescindOffers(ctx, [...agent.offers]);
    ctx.allocator.removeAgent(agent.id);
  }
  ctx.state.sessions.set(session, { kind: "agent", agentId: agent.id });
  // Registered waits until the registry admits the agent. An admitted agent
  // that comes back as it was (a fleet taking a new leader) changes nothing
  // there, and its Registered need not queue behind other agents' writes.
  const unchanged = !isNew && !wasUnreachable && known !== undefined && sameAgentInfo(known, agent.info);
  if (!unchanged) persist(ctx, { kind: "admit-agent", info: agent.info });
  const unreported = endUnreported(ctx, agent, call, wasUnreachable);
  ctx.allocator.addAgent(agent.id, agent.total, {
    hostname: info.hostname,
    attributes: info.attributes,
    region: info.domain?.faultDomain?.region?.name,
    zone: info.domain?.faultDomain?.zone?.name,
  });
  adoptTasks(ctx, agent, call, unreported, !wasRestored);
  requestAllocation(ctx);
  send(
    ctx,
    session,
    agentEvent(
      {
        case: "registered",
        value: {
          agentId: { value: agent.id },
          masterInfo: ctx.options.info,
          heartbeatIntervalSeconds: ctx.options.agentPingTimeoutSeconds ?? DEFAULT_AGENT_PING_TIMEOUT_SECONDS,
        },
      },
      callId,
    ),
  );
  reconcileUnreported(ctx, agent, unreported);
  if (isNew)
    broadcastOperators(ctx, () =>
      operatorEvent({ type: OperatorEventType.AGENT_ADDED, agentAdded: { agent: agentView(ctx, agent) } }),
    );
  return undefined;
}

/**
 * An agent read from the registry at start: known, not connected, waiting
 * for it to re-register within the re-register timeout (its tasks are
 * learned again then).
 */
export function restoreAgent(ctx: Ctx, info: AgentInfo): void {
  const id = info.id?.value ?? "";
  if (id === "" || ctx.state.agents.has(id)) return;
  const agent: AgentRecord = {
    id,
    // Shared, not copied (a new leader restores every agent before it
    // serves): stores replace a registry entry rather than change it, and the
    // core replaces an agent's info on re-registration, never edits it.
    info,
    version: "",
    ip: "",
    session: undefined,
    registeredAt: ctx.now,
    reregisteredAt: undefined,
    disconnectedAt: ctx.now,
    lastSeenAt: ctx.now,
    total: info.resources,
    tasks: new Set(),
    offers: new Set(),
    restored: true,
    executors: new Map(),
  };
  ctx.state.agents.set(id, agent);
  indexAddress(ctx, agent);
}

/**
 * A disconnected agent at the address a new agent registers from: the old
 * one restarted without its work dir (or failed its recovery), and will
 * never come back under its id, as Mesos' master concludes too.
 */
function replacedAgents(ctx: Ctx, info: AgentInfo, ip: string): AgentRecord[] {
  if (ip === "" || info.port === 0) return [];
  // An agent restored from the registry has no ip yet: its hostname stands in.
  const ids = [
    ...(ctx.state.agentsByAddress.get(`${ip}:${info.port}`) ?? []),
    ...(ctx.state.agentsByAddress.get(`host ${info.hostname}:${info.port}`) ?? []),
  ];
  return ids.flatMap((id) => {
    const agent = ctx.state.agents.get(id);
    return agent !== undefined && agent.session === undefined ? [agent] : [];
  });
}

function addressKey(agent: AgentRecord): string {
  return agent.ip === "" ? `host ${agent.info.hostname}:${agent.info.port}` : `${agent.ip}:${agent.info.port}`;
}

function indexAddress(ctx: Ctx, agent: AgentRecord): void {
  const key = addressKey(agent);
  const ids = ctx.state.agentsByAddress.get(key);
  if (ids === undefined) ctx.state.agentsByAddress.set(key, new Set([agent.id]));
  else ids.add(agent.id);
}

function unindexAddress(ctx: Ctx, agent: AgentRecord): void {
  const key = addressKey(agent);
  const ids = ctx.state.agentsByAddress.get(key);
  ids?.delete(agent.id);
  if (ids?.size === 0) ctx.state.agentsByAddress.delete(key);
}

/**
 * Forgets a replaced agent (Mesos' removeSlave): its tasks are over, as
 * Mesos ends them (TASK_GONE_BY_OPERATOR for partition-aware frameworks,
 * TASK_LOST otherwise), and the registry drops it.
 */
function removeReplacedAgent(ctx: Ctx, agent: AgentRecord): void {
  persist(ctx, { kind: "remove-agent", agentId: agent.id });
  dropAgent(
    ctx,
    agent,
    TaskState.TASK_GONE_BY_OPERATOR,
    Reason.AGENT_REMOVED_BY_OPERATOR,
    `Agent ${agent.id} was removed: a new agent registered at its address`,
    Reason.AGENT_REMOVED,
  );
}

/** The agent's stream ended: its offers are rescinded; its tasks wait for it. */
export function disconnectAgent(ctx: Ctx, agent: AgentRecord): void {
  agent.session = undefined;
  agent.disconnectedAt = ctx.now;
  rescindOffers(ctx, [...agent.offers]);
  ctx.allocator.removeAgent(agent.id);
}

/** Mesos' defaults for --agent_ping_timeout and --max_agent_ping_timeouts. */
export const DEFAULT_AGENT_PING_TIMEOUT_SECONDS = 15;
export const DEFAULT_MAX_AGENT_PING_TIMEOUTS = 5;

/**
 * Marks unreachable the agents that went silent (connected or not) for
 * max_agent_ping_timeouts pings, and those named by the registry at start
 * that did not re-register within the re-register timeout.
 */
export function expireAgents(ctx: Ctx): void {
  const silenceMs =
    (ctx.options.agentPingTimeoutSeconds ?? DEFAULT_AGENT_PING_TIMEOUT_SECONDS) *
    (ctx.options.maxAgentPingTimeouts ?? DEFAULT_MAX_AGENT_PING_TIMEOUTS) *
    1000;
  const reregisterMs = ctx.options.agentReregisterTimeoutSeconds * 1000;
  for (const agent of [...ctx.state.agents.values()]) {
    const since = agent.disconnectedAt ?? agent.lastSeenAt;
    const allowed = agent.restored === true ? reregisterMs : silenceMs;
    if (since + allowed <= ctx.now) removeAgent(ctx, agent);
  }
}

/**
 * Marks an agent unreachable (in the registry first): its tasks become
 * TASK_UNREACHABLE (frameworks that are not partition-aware are told
 * TASK_LOST). It may still come back, with its tasks.
 */
export function removeAgent(ctx: Ctx, agent: AgentRecord): void {
  persist(ctx, { kind: "mark-agent-unreachable", agentId: agent.id, time: ctx.now });
  ctx.state.unreachableAgents.set(agent.id, ctx.now);
  ctx.state.unreachableAgentInfos.set(agent.id, agent.info);
  dropAgent(ctx, agent, TaskState.TASK_UNREACHABLE, Reason.AGENT_REMOVED, `Agent ${agent.id} is unreachable`);
}

/**
 * MARK_AGENT_GONE: the operator says the agent will never come back (the
 * machine is gone). Its tasks are gone (TASK_GONE_BY_OPERATOR for
 * partition-aware frameworks, TASK_LOST otherwise), and the registry keeps
 * it out for good.
 */
export function markAgentGone(ctx: Ctx, agentId: string): CallError | undefined {
  if (agentId === "")
    return { code: ErrorCode.INVALID_ARGUMENT, message: "MARK_AGENT_GONE needs mark_agent_gone.agent_id" };
  if (ctx.state.goneAgents.has(agentId)) return undefined;
  const agent = ctx.state.agents.get(agentId);
  if (agent === undefined && !ctx.state.unreachableAgents.has(agentId))
    return { code: ErrorCode.NOT_FOUND, message: `No agent ${agentId}` };
  persist(ctx, { kind: "mark-agent-gone", agentId, time: ctx.now });
  ctx.state.unreachableAgents.delete(agentId);
  ctx.state.unreachableAgentInfos.delete(agentId);
  ctx.state.goneAgents.set(agentId, ctx.now);
  if (agent !== undefined) {
    // The agent stops every task of every framework before it is cut off, as
    // Mesos' shutdown of a gone agent does: frameworks may relaunch them elsewhere.
    const frameworkIds = new Set([...agent.tasks].map((key) => splitTaskKey(key)[0]));
    for (const executor of agent.executors.values()) frameworkIds.add(executor.frameworkId);
    for (const id of frameworkIds)
      send(ctx, agent.session, agentEvent({ case: "shutdownFramework", value: { frameworkId: { value: id } } }));
    if (agent.session !== undefined) send(ctx, agent.session, errorEvent(goneError(agentId)));
    dropAgent(
      ctx,
      agent,
      TaskState.TASK_GONE_BY_OPERATOR,
      Reason.AGENT_REMOVED_BY_OPERATOR,
      `Agent ${agentId} was marked gone by the operator`,
      Reason.AGENT_REMOVED,
    );
  }
  // Tasks it had when it became unreachable will not come back either.
  for (const framework of ctx.state.frameworks.values()) {
    for (const task of unreachableOn(framework, agentId)) {
      const status = masterMove(
        ctx,
        framework,
        task,
        TaskState.TASK_GONE_BY_OPERATOR,
        // As Mesos: TASK_LOST comes with the older, plainer reason.
        hasCapability(framework.info, Capability.PARTITION_AWARE)
          ? Reason.AGENT_REMOVED_BY_OPERATOR
          : Reason.AGENT_REMOVED,
        `Agent ${agentId} was marked gone by the operator`,
      );
      if (status !== undefined)
        send(ctx, framework.session, schedulerEvent({ type: SchedulerEventType.UPDATE, update: { status } }));
    }
  }
  return undefined;
}

function goneError(agentId: string): CallError {
  return {
    code: ErrorCode.FAILED_PRECONDITION,
    message: `Agent ${agentId} has been marked gone by the operator; start it with an empty work dir to join as a new agent`,
    fatal: true,
  };
}

/**
 * Forgets an agent, moving its tasks to `partitionAwareState`
 * (TASK_UNREACHABLE: they may come back; or a terminal state, which is
 * TASK_LOST for frameworks that are not partition-aware).
 */
function dropAgent(
  ctx: Ctx,
  agent: AgentRecord,
  partitionAwareState: TaskState,
  reason: Reason,
  message: string,
  lostReason: Reason = reason,
): void {
  rescindOffers(ctx, [...agent.offers]);
  for (const key of [...agent.tasks]) {
    const [frameworkId, taskId] = splitTaskKey(key);
    const framework = ctx.state.frameworks.get(frameworkId);
    const task = framework?.tasks.get(taskId);
    if (framework === undefined || task === undefined) continue;
    const partitionAware = hasCapability(framework.info, Capability.PARTITION_AWARE);
    const status = masterMove(ctx, framework, task, partitionAwareState, partitionAware ? reason : lostReason, message);
    if (status !== undefined)
      send(ctx, framework.session, schedulerEvent({ type: SchedulerEventType.UPDATE, update: { status } }));
  }
  if (agent.session !== undefined) {
    ctx.state.sessions.delete(agent.session);
    ctx.out.push({ kind: "end", session: agent.session });
  }
  ctx.allocator.removeAgent(agent.id);
  unindexAddress(ctx, agent);
  ctx.state.agents.delete(agent.id);
  // Every connected framework hears the agent is lost (Mesos' sendSlaveLost),
  // also one with nothing there: it may hold the agent in its own books.
  for (const framework of ctx.state.frameworks.values())
    send(
      ctx,
      framework.session,
      schedulerEvent({ type: SchedulerEventType.FAILURE, failure: { agentId: { value: agent.id } } }),
    );
  broadcastOperators(ctx, () =>
    operatorEvent({ type: OperatorEventType.AGENT_REMOVED, agentRemoved: { agentId: { value: agent.id } } }),
  );
}

/** An executor's message for its scheduler. */
export function frameworkMessageFromAgent(ctx: Ctx, agent: AgentRecord, call: AgentCall_FrameworkMessage): void {
  const framework = ctx.state.frameworks.get(call.frameworkId?.value ?? "");
  send(
    ctx,
    framework?.session,
    schedulerEvent({
      type: SchedulerEventType.MESSAGE,
      message: { agentId: { value: agent.id }, executorId: call.executorId, data: call.data },
    }),
  );
}

/** An executor ended: the scheduler hears of it as a FAILURE event. */
export function executorExited(ctx: Ctx, agent: AgentRecord, call: AgentCall_ExecutorExited): void {
  const frameworkId = call.frameworkId?.value ?? "";
  const key = `${frameworkId}/${call.executorId?.value ?? ""}`;
  const known = agent.executors.delete(key);
  const framework = ctx.state.frameworks.get(frameworkId);
  if (!known) return;
  send(
    ctx,
    framework?.session,
    schedulerEvent({
      type: SchedulerEventType.FAILURE,
      failure: { agentId: { value: agent.id }, executorId: call.executorId, status: call.status },
    }),
  );
}
