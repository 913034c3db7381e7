import { create } from "@bufbuild/protobuf";
import { ScheduleSchema } from "../../../gen/mesos/v1/maintenance/maintenance_pb.js";
import {
  Call_UpdateQuotaSchema,
  type Call as OperatorCall,
  Call_Type as OperatorCallType,
  type Response,
} from "../../../gen/mesos/v1/master/master_pb.js";
import {
  type Call as SchedulerCall,
  Call_Type as SchedulerCallType,
} from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import type { AgentCall, ConnectRequest } from "../../../gen/mesos/v2/mesos_pb.js";
import type { Allocator } from "../allocator/index.js";
import type { IdSource, Millis } from "../clock.js";
import type { Registry } from "../registry/registry.js";
import {
  disconnectAgent,
  executorExited,
  expireAgents,
  frameworkMessageFromAgent,
  registerAgent,
  restoreAgent,
} from "./agents.js";
import { type Ctx, type Effect, type MasterCoreOptions, type MasterState, requestAllocation, send } from "./context.js";
import {
  agentEvent,
  type CallError,
  ErrorCode,
  errorEvent,
  OperatorEventType,
  operatorEvent,
  operatorResponse,
  SchedulerEventType,
  schedulerEvent,
} from "./events.js";
import { updateFramework } from "./framework-update.js";
import { disconnectFramework, expireFrameworks, removeFramework, restoreFramework, subscribe } from "./frameworks.js";
import { accept, allocate, decline, expireOffers } from "./offers.js";
import { agentOperationStatus } from "./operations.js";
import { operatorCall } from "./operator.js";
import { updateQuota } from "./quota.js";
import { pruneRegistry } from "./registry-gc.js";
import { validateSchedulerCall } from "./scheduler-validation.js";
import type { FrameworkRecord, SessionId } from "./state.js";
import { acknowledge, kill, reconcile, statusUpdate } from "./tasks.js";
import { getState } from "./views.js";

export type { Effect, MasterCoreOptions };

/**
 * The master's decisions, free of I/O. The shell feeds it stream requests,
 * stream ends and clock ticks; it returns the effects (events to send,
 * streams to end) for the shell to carry out, in order.
 */
export interface MasterCore {
  request(session: SessionId, request: ConnectRequest, now: Millis): Effect[];
  sessionClosed(session: SessionId, now: Millis): Effect[];
  /** One allocation pass over every agent (every allocation interval). */
  allocate(now: Millis): Effect[];
  /** A pass over the agents whose resources changed; clears `allocationRequested`. */
  allocateChanged(now: Millis): Effect[];
  /**
   * Whether a handler asked for a pass over changed agents since the last
   * one. The shell reads it after carrying out each batch of effects.
   */
  readonly allocationRequested: boolean;
  /** HEARTBEAT to every scheduler, operator subscriber and agent. */
  heartbeat(now: Millis): Effect[];
  /** A HEARTBEAT to every connected agent, which answers it (every agent ping timeout). */
  pingAgents(now: Millis): Effect[];
  /** Failover, re-registration and offer timeouts. */
  expire(now: Millis): Effect[];
  /** Forgets unreachable and gone agents past the registry's bounds (every --registry-gc-interval). */
  pruneRegistry(now: Millis): Effect[];
  /** A one-shot operator call (the unary Operate RPC). */
  operate(call: OperatorCall, now: Millis): { result: Response | CallError; effects: Effect[] };
  readonly state: MasterState;
}

/**
 * A master core. With `registry` (what an earlier run stored), its weights
 * and quota are in force from the start; a registry this master cannot
 * accept throws, since starting without it would silently drop them.
 */
export function createMasterCore(deps: {
  allocator: Allocator;
  ids: IdSource;
  options: MasterCoreOptions;
  now: Millis;
  registry?: Registry;
}): MasterCore {
  const state: MasterState = {
    frameworks: new Map(),
    agents: new Map(),
    agentsByAddress: new Map(),
    offers: new Map(),
    sessions: new Map(),
    operatorSubscribers: new Set(),
    completedFrameworks: [],
    quotas: new Map(),
    operations: new Map(),
    maintenanceSchedule: create(ScheduleSchema),
    unreachableAgents: new Map(),
    unreachableAgentInfos: new Map(),
    goneAgents: new Map(),
    endedTasks: new Map(),
    startedAt: deps.now,
    allocationRequested: false,
  };
  const run = (now: Millis, body: (ctx: Ctx) => void): Effect[] => {
    const ctx: Ctx = { state, allocator: deps.allocator, ids: deps.ids, options: deps.options, now, out: [] };
    body(ctx);
    return ctx.out;
  };
  if (deps.registry !== undefined) recoverRegistry(run, deps.registry, deps.now);
  return {
    state,
    request: (session, request, now) => run(now, (ctx) => dispatch(ctx, session, request)),
    sessionClosed: (session, now) => run(now, (ctx) => closed(ctx, session)),
    allocate: (now) =>
      run(now, (ctx) => {
        ctx.state.allocationRequested = false;
        allocate(ctx);
      }),
    allocateChanged: (now) =>
      run(now, (ctx) => {
        ctx.state.allocationRequested = false;
        allocate(ctx, true);
      }),
    get allocationRequested() {
      return state.allocationRequested;
    },
    heartbeat: (now) => run(now, heartbeat),
    pingAgents: (now) =>
      run(now, (ctx) => {
        for (const agent of ctx.state.agents.values())
          send(ctx, agent.session, agentEvent({ case: "heartbeat", value: {} }));
      }),
    expire: (now) =>
      run(now, (ctx) => {
        expireFrameworks(ctx);
        expireAgents(ctx);
        expireOffers(ctx);
      }),
    pruneRegistry: (now) => run(now, pruneRegistry),
    operate: (call, now) => {
      let result: Response | CallError = { code: ErrorCode.INTERNAL, message: "no result" };
      const effects = run(now, (ctx) => {
        result = operatorCall(ctx, call);
      });
      return { result, effects };
    },
  };
}

function recoverRegistry(
  run: (now: Millis, body: (ctx: Ctx) => void) => Effect[],
  registry: Registry,
  now: Millis,
): void {
  run(now, (ctx) => {
    for (const info of registry.agents) restoreAgent(ctx, info);
    const millis = (t: { nanoseconds: bigint } | undefined) =>
      t === undefined ? ctx.now : Number(t.nanoseconds / 1_000_000n);
    for (const m of registry.unreachable)
      if (m.info?.id?.value) {
        ctx.state.unreachableAgents.set(m.info.id.value, millis(m.time));
        ctx.state.unreachableAgentInfos.set(m.info.id.value, m.info);
      }
    for (const m of registry.gone) if (m.info?.id?.value) ctx.state.goneAgents.set(m.info.id.value, millis(m.time));
    for (const f of registry.frameworks) {
      if (f.info !== undefined)
        restoreFramework(
          ctx,
          f.info,
          f.disconnectedTime === undefined ? undefined : Number(f.disconnectedTime.nanoseconds / 1_000_000n),
        );
    }
    for (const w of registry.weights) ctx.allocator.setWeight(w.role, w.weight);
    if (registry.maintenanceSchedule !== undefined) ctx.state.maintenanceSchedule = registry.maintenanceSchedule;
    if (registry.quotas.length === 0) return;
    const error = updateQuota(ctx, create(Call_UpdateQuotaSchema, { quotaConfigs: registry.quotas }));
    if (error !== undefined) throw new Error(`the registry holds quota this master refuses: ${error.message}`);
  });
}

function isCallError(value: Response | CallError): value is CallError {
  return "code" in value;
}

function reject(ctx: Ctx, session: SessionId, callId: string, error: CallError): void {
  send(ctx, session, errorEvent(error, callId));
  if (error.fatal === true) ctx.out.push({ kind: "end", session, error });
}

function dispatch(ctx: Ctx, session: SessionId, request: ConnectRequest): void {
  const role = ctx.state.sessions.get(session);
  const call = request.call;
  const mismatch = (want: string): CallError => ({
    code: ErrorCode.FAILED_PRECONDITION,
    message: `This stream belongs to ${role?.kind ?? "nobody"}; a ${want} call needs its own stream`,
  });
  switch (call.case) {
    case "scheduler":
      if (role !== undefined && role.kind !== "scheduler")
        return reject(ctx, session, request.id, mismatch("scheduler"));
      return schedulerCall(ctx, session, request.id, call.value, role?.frameworkId);
    case "agent":
      if (role !== undefined && role.kind !== "agent") return reject(ctx, session, request.id, mismatch("agent"));
      return agentCall(ctx, session, request.id, call.value, role?.agentId);
    case "operator":
      if (role !== undefined && role.kind !== "operator") return reject(ctx, session, request.id, mismatch("operator"));
      return operatorStreamCall(ctx, session, request.id, call.value);
    case "executor":
      return reject(ctx, session, request.id, {
        code: ErrorCode.FAILED_PRECONDITION,
        message: "Executors connect to their agent (MESOS_AGENT_ENDPOINT), not to the master",
      });
    default:
      return reject(ctx, session, request.id, {
        code: ErrorCode.INVALID_ARGUMENT,
        message: "The request carries no call (set one of scheduler, executor, agent, operator)",
      });
  }
}

function schedulerCall(
  ctx: Ctx,
  session: SessionId,
  callId: string,
  call: SchedulerCall,
  boundId: string | undefined,
): void {
  // First, as Mesos validates before it looks at the framework: a call that
  // fails here is refused the same way whatever API carried it.
  const invalid = validateSchedulerCall(call);
  if (invalid !== undefined)
    return reject(ctx, session, callId, { code: ErrorCode.INVALID_ARGUMENT, message: invalid });
  if (call.type === SchedulerCallType.SUBSCRIBE) {
    const error = subscribe(ctx, session, callId, call.subscribe);
    if (error !== undefined) reject(ctx, session, callId, error);
    return;
  }
  if (boundId === undefined) {
    return reject(ctx, session, callId, {
      code: ErrorCode.FAILED_PRECONDITION,
      message: "Expecting SUBSCRIBE as the first call on a scheduler stream",
    });
  }
  const framework = ctx.state.frameworks.get(boundId);
  if (framework === undefined)
    return reject(ctx, session, callId, {
      code: ErrorCode.NOT_FOUND,
      message: `Framework ${boundId} is not registered`,
      fatal: true,
    });
  const named = call.frameworkId?.value ?? "";
  if (named !== framework.id) {
    return reject(ctx, session, callId, {
      code: ErrorCode.INVALID_ARGUMENT,
      message: `Call names framework ${named} but this stream is subscribed as ${framework.id}`,
    });
  }
  const problem = subscribedCall(ctx, framework, callId, call);
  if (problem) reject(ctx, session, callId, problem);
}

const missing = (field: string): CallError => ({
  code: ErrorCode.INVALID_ARGUMENT,
  message: `Expecting '${field}' to be present`,
});

function subscribedCall(ctx: Ctx, framework: FrameworkRecord, callId: string, call: SchedulerCall): CallError | void {
  switch (call.type) {
    case SchedulerCallType.ACCEPT:
      if (call.accept === undefined) return missing("accept");
      return accept(ctx, framework, call.accept, callId);
    case SchedulerCallType.DECLINE:
      if (call.decline === undefined) return missing("decline");
      return decline(ctx, framework, call.decline, callId);
    case SchedulerCallType.REVIVE:
      ctx.allocator.revive(framework.id, call.revive?.roles.length ? call.revive.roles : undefined);
      call.revive?.roles.forEach((r) => framework.suppressedRoles.delete(r));
      if (!call.revive?.roles.length) framework.suppressedRoles.clear();
      return requestAllocation(ctx);
    case SchedulerCallType.SUPPRESS: {
      const roles = call.suppress?.roles.length ? call.suppress.roles : framework.roles;
      roles.forEach((r) => framework.suppressedRoles.add(r));
      return ctx.allocator.suppress(framework.id, call.suppress?.roles.length ? call.suppress.roles : undefined);
    }
    case SchedulerCallType.KILL:
      if (call.kill?.taskId === undefined) return missing("kill.task_id");
      return kill(ctx, framework, call.kill);
    case SchedulerCallType.ACKNOWLEDGE:
      if (call.acknowledge === undefined) return missing("acknowledge");
      return acknowledge(ctx, framework, call.acknowledge, callId);
    case SchedulerCallType.RECONCILE:
      return reconcile(ctx, framework, call.reconcile ?? { $typeName: "mesos.v1.scheduler.Call.Reconcile", tasks: [] });
    case SchedulerCallType.MESSAGE:
      return frameworkMessage(ctx, framework, call);
    case SchedulerCallType.SHUTDOWN:
      return shutdownExecutor(ctx, framework, call);
    case SchedulerCallType.TEARDOWN:
      return removeFramework(ctx, framework);
    case SchedulerCallType.UPDATE_FRAMEWORK:
      if (call.updateFramework === undefined) return missing("update_framework");
      return updateFramework(ctx, framework, call.updateFramework);
    // Mesos accepts these and does nothing with them: resource requests were
    // never acted on, and this master makes no inverse offers to answer.
    case SchedulerCallType.REQUEST:
    case SchedulerCallType.ACCEPT_INVERSE_OFFERS:
    case SchedulerCallType.DECLINE_INVERSE_OFFERS:
      return;
    case SchedulerCallType.UNKNOWN:
      return missing("type");
    default:
      return {
        code: ErrorCode.UNIMPLEMENTED,
        message: `Scheduler call ${SchedulerCallType[call.type] ?? call.type} is not supported yet`,
      };
  }
}

function frameworkMessage(ctx: Ctx, framework: FrameworkRecord, call: SchedulerCall): CallError | void {
  const agent = ctx.state.agents.get(call.message?.agentId?.value ?? "");
  if (call.message === undefined) return missing("message");
  if (agent === undefined)
    return { code: ErrorCode.NOT_FOUND, message: `Agent ${call.message.agentId?.value ?? ""} is not registered` };
  send(
    ctx,
    agent.session,
    agentEvent({
      case: "frameworkMessage",
      value: { frameworkId: { value: framework.id }, executorId: call.message.executorId, data: call.message.data },
    }),
  );
  return undefined;
}

function shutdownExecutor(ctx: Ctx, framework: FrameworkRecord, call: SchedulerCall): CallError | void {
  const agent = ctx.state.agents.get(call.shutdown?.agentId?.value ?? "");
  if (call.shutdown === undefined) return missing("shutdown");
  if (agent === undefined)
    return { code: ErrorCode.NOT_FOUND, message: `Agent ${call.shutdown.agentId?.value ?? ""} is not registered` };
  send(
    ctx,
    agent.session,
    agentEvent({
      case: "shutdownExecutor",
      value: { frameworkId: { value: framework.id }, executorId: call.shutdown.executorId },
    }),
  );
  return undefined;
}

function agentCall(ctx: Ctx, session: SessionId, callId: string, call: AgentCall, boundId: string | undefined): void {
  if (call.call.case === "register") {
    const error = registerAgent(ctx, session, callId, call.call.value);
    if (error !== undefined) reject(ctx, session, callId, error);
    return;
  }
  const agent = ctx.state.agents.get(boundId ?? "");
  if (agent === undefined) {
    return reject(ctx, session, callId, {
      code: ErrorCode.FAILED_PRECONDITION,
      message: "Expecting Register as the first call on an agent stream",
    });
  }
  agent.lastSeenAt = ctx.now;
  switch (call.call.case) {
    case "heartbeat":
      return;
    case "statusUpdate": {
      const { frameworkId, status } = call.call.value;
      if (status?.taskId === undefined) return reject(ctx, session, callId, missing("status_update.status.task_id"));
      return statusUpdate(ctx, agent.id, frameworkId?.value ?? "", status);
    }
    case "frameworkMessage":
      return frameworkMessageFromAgent(ctx, agent, call.call.value);
    case "executorExited":
      return executorExited(ctx, agent, call.call.value);
    case "operationStatus":
      return agentOperationStatus(ctx, agent.id, call.call.value);
    default:
      return reject(ctx, session, callId, missing("call"));
  }
}

function operatorStreamCall(ctx: Ctx, session: SessionId, callId: string, call: OperatorCall): void {
  if (call.type === OperatorCallType.SUBSCRIBE) {
    ctx.state.sessions.set(session, { kind: "operator", subscribed: true });
    ctx.state.operatorSubscribers.add(session);
    send(ctx, session, operatorEventWithId(ctx, callId));
    return;
  }
  if (!ctx.state.sessions.has(session)) ctx.state.sessions.set(session, { kind: "operator", subscribed: false });
  const result = operatorCall(ctx, call);
  if (isCallError(result)) return reject(ctx, session, callId, result);
  send(ctx, session, operatorResponse(result, callId));
}

function operatorEventWithId(ctx: Ctx, callId: string) {
  const event = operatorEvent({
    type: OperatorEventType.SUBSCRIBED,
    subscribed: { getState: getState(ctx), heartbeatIntervalSeconds: ctx.options.heartbeatIntervalSeconds },
  });
  event.callId = callId;
  return event;
}

function closed(ctx: Ctx, session: SessionId): void {
  const role = ctx.state.sessions.get(session);
  ctx.state.sessions.delete(session);
  if (role?.kind === "scheduler") {
    const framework = ctx.state.frameworks.get(role.frameworkId);
    if (framework?.session === session) disconnectFramework(ctx, framework);
  } else if (role?.kind === "agent") {
    const agent = ctx.state.agents.get(role.agentId);
    if (agent?.session === session) disconnectAgent(ctx, agent);
  }
}

function heartbeat(ctx: Ctx): void {
  for (const [session, role] of ctx.state.sessions) {
    if (role.kind === "scheduler") send(ctx, session, schedulerEvent({ type: SchedulerEventType.HEARTBEAT }));
    else if (role.kind === "operator" && role.subscribed)
      send(ctx, session, operatorEvent({ type: OperatorEventType.HEARTBEAT }));
  }
}
