import { clone } from "@bufbuild/protobuf";
import {
  FrameworkInfo_Capability_Type as Capability,
  type FrameworkInfo,
  FrameworkInfoSchema,
  TaskState,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { Call_Subscribe } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { compileOfferConstraints } from "../allocator/index.js";
import { validateRole } from "../resources/index.js";
import { broadcastOperators, type Ctx, persist, requestAllocation, send } from "./context.js";
import {
  agentEvent,
  type CallError,
  ErrorCode,
  frameworkIdOf,
  OperatorEventType,
  operatorEvent,
  Reason,
  SchedulerEventType,
  schedulerEvent,
} from "./events.js";
import { rescindOffers } from "./offers.js";
import type { FrameworkRecord, SessionId } from "./state.js";
import { fileCompletedFramework, masterMove } from "./task-bookkeeping.js";
import { frameworkView } from "./views.js";

/** The roles a framework subscribes with: `roles` for MULTI_ROLE, else `role`. */
export function frameworkRoles(info: FrameworkInfo): string[] {
  if (hasCapability(info, Capability.MULTI_ROLE)) return [...info.roles];
  return [info.role === "" ? "*" : info.role];
}

export function hasCapability(info: FrameworkInfo, type: Capability): boolean {
  return info.capabilities.some((c) => c.type === type);
}

export function validateFrameworkInfo(info: FrameworkInfo | undefined): string | undefined {
  if (info === undefined) return "Expecting 'subscribe.framework_info' to be present";
  if (info.name === "") return "FrameworkInfo.name must be set";
  const multiRole = hasCapability(info, Capability.MULTI_ROLE);
  if (!multiRole && info.roles.length > 0) {
    return "FrameworkInfo.roles requires the MULTI_ROLE capability (or use FrameworkInfo.role)";
  }
  if (multiRole && info.role !== "*" && info.role !== "" && info.roles.length > 0) {
    return "FrameworkInfo.role and FrameworkInfo.roles cannot both be set";
  }
  const roles = frameworkRoles(info);
  if (new Set(roles).size !== roles.length) return "FrameworkInfo.roles contains duplicates";
  for (const role of roles) {
    const problem = validateRole(role);
    if (problem !== undefined) return `Invalid role '${role}': ${problem}`;
  }
  if (!Number.isFinite(info.failoverTimeout) || info.failoverTimeout < 0) {
    return "FrameworkInfo.failover_timeout must be a finite, non-negative number of seconds";
  }
  return undefined;
}

/**
 * SUBSCRIBE: registers a new framework, or fails an existing one over to this
 * stream when it names its framework id. Returns an error for the caller to
 * report when the subscription is refused.
 */
export function subscribe(
  ctx: Ctx,
  session: SessionId,
  callId: string,
  call: Call_Subscribe | undefined,
): CallError | undefined {
  const problem = validateFrameworkInfo(call?.frameworkInfo);
  if (problem !== undefined || call?.frameworkInfo === undefined) {
    return { code: ErrorCode.INVALID_ARGUMENT, message: problem ?? "" };
  }
  const info = clone(FrameworkInfoSchema, call.frameworkInfo);
  const offerFilters = compileOfferConstraints(call.offerConstraints, frameworkRoles(info));
  if (typeof offerFilters === "string") return { code: ErrorCode.INVALID_ARGUMENT, message: offerFilters };
  const requestedId = info.id?.value ?? "";
  if (requestedId !== "" && ctx.state.completedFrameworks.some((f) => f.id === requestedId)) {
    return {
      code: ErrorCode.FAILED_PRECONDITION,
      message: `Framework ${requestedId} has been removed; subscribe without an id`,
      fatal: true,
    };
  }
  const existing = ctx.state.frameworks.get(requestedId);
  if (existing !== undefined && existing.info.principal !== info.principal) {
    // Mesos does not say which principal the framework had: the caller may
    // be someone else trying the id.
    return {
      code: ErrorCode.FAILED_PRECONDITION,
      message: "Changing framework's principal is not allowed.",
      fatal: true,
    };
  }
  const wasAway = existing !== undefined && (existing.disconnectedAt !== undefined || existing.recovered);
  const framework = existing ?? addFramework(ctx, info, requestedId);
  if (existing !== undefined) failover(ctx, existing, info, session);
  // SUBSCRIBED waits until the registry holds the framework (the shell keeps effects in order).
  persist(ctx, { kind: "add-framework", info: framework.info });
  if (wasAway) persist(ctx, { kind: "framework-disconnected", frameworkId: framework.id, time: undefined });
  framework.suppressedRoles = new Set(call.suppressedRoles);
  framework.offerConstraints = call.offerConstraints;
  framework.offerFilters = offerFilters;
  framework.session = session;
  ctx.state.sessions.set(session, { kind: "scheduler", frameworkId: framework.id });
  ctx.allocator.updateFramework(framework.id, {
    roles: framework.roles,
    suppressedRoles: [...framework.suppressedRoles],
    offerFilters,
  });
  ctx.allocator.activateFramework(framework.id);
  send(
    ctx,
    session,
    schedulerEvent(
      {
        type: SchedulerEventType.SUBSCRIBED,
        subscribed: {
          frameworkId: { value: framework.id },
          heartbeatIntervalSeconds: ctx.options.heartbeatIntervalSeconds,
          masterInfo: ctx.options.info,
        },
      },
      callId,
    ),
  );
  requestAllocation(ctx);
  const view = frameworkView(ctx, framework);
  broadcastOperators(ctx, () =>
    existing === undefined
      ? operatorEvent({ type: OperatorEventType.FRAMEWORK_ADDED, frameworkAdded: { framework: view } })
      : operatorEvent({ type: OperatorEventType.FRAMEWORK_UPDATED, frameworkUpdated: { framework: view } }),
  );
  return undefined;
}

function addFramework(ctx: Ctx, info: FrameworkInfo, requestedId: string): FrameworkRecord {
  // A framework id the master does not know is accepted as is: after a master
  // restart, frameworks come back with the ids the old master gave them.
  const id = requestedId !== "" ? requestedId : ctx.ids.next("framework");
  info.id = frameworkIdOf(id);
  const framework: FrameworkRecord = {
    id,
    info,
    roles: frameworkRoles(info),
    suppressedRoles: new Set(),
    offerConstraints: undefined,
    offerFilters: new Map(),
    session: undefined,
    registeredAt: ctx.now,
    reregisteredAt: undefined,
    disconnectedAt: undefined,
    failoverDeadline: undefined,
    recovered: false,
    offers: new Set(),
    tasks: new Map(),
    unreachable: { byId: new Map(), byAgent: new Map() },
    completed: [],
    removedAt: undefined,
  };
  ctx.state.frameworks.set(id, framework);
  ctx.allocator.addFramework(id, { roles: framework.roles });
  return framework;
}

function failover(ctx: Ctx, framework: FrameworkRecord, info: FrameworkInfo, session: SessionId): void {
  if (framework.session !== undefined && framework.session !== session) {
    // Only one scheduler drives a framework: the newer stream wins, as in Mesos.
    const old = framework.session;
    send(ctx, old, schedulerEvent({ type: SchedulerEventType.ERROR, error: { message: "Framework failed over" } }));
    ctx.out.push({ kind: "end", session: old });
    ctx.state.sessions.delete(old);
  }
  info.id = frameworkIdOf(framework.id);
  // As Mesos (MESOS-703): the user tasks run as and whether agents
  // checkpoint them stay what they were; running tasks were started so.
  info.user = framework.info.user;
  info.checkpoint = framework.info.checkpoint;
  framework.info = info;
  framework.recovered = false;
  framework.roles = frameworkRoles(info);
  framework.reregisteredAt = ctx.now;
  framework.disconnectedAt = undefined;
  framework.failoverDeadline = undefined;
  // What the previous connection never acknowledged should not wait for the
  // agents' backoff (up to minutes) to reach the new one.
  // Finished tasks count too: their terminal update may be the one pending.
  const agentIds = new Set([...framework.tasks.values(), ...framework.completed].map((t) => t.agentId?.value ?? ""));
  for (const agentId of agentIds) {
    const agent = ctx.state.agents.get(agentId);
    send(ctx, agent?.session, agentEvent({ case: "resendUpdates", value: { frameworkId: { value: framework.id } } }));
  }
  // Offers made to the previous connection may never have been seen.
  rescindOffers(ctx, [...framework.offers]);
}

/**
 * Least time a restarted master waits for the scheduler of a framework it
 * learned from an agent, even with a failover_timeout of 0: that scheduler
 * has to find the new master first.
 */
const RECOVERED_FRAMEWORK_GRACE_SECONDS = 60;

/**
 * A framework the master learns from an agent's re-registration (the master
 * restarted and lost its memory): kept, inactive, so its running tasks are
 * not forgotten, until its scheduler subscribes again or the timeout passes.
 */
export function recoverFramework(ctx: Ctx, reported: FrameworkInfo): FrameworkRecord | undefined {
  const id = reported.id?.value ?? "";
  if (id === "" || ctx.state.completedFrameworks.some((f) => f.id === id)) return undefined;
  const framework = addFramework(ctx, clone(FrameworkInfoSchema, reported), id);
  framework.recovered = true;
  framework.disconnectedAt = ctx.now;
  framework.failoverDeadline = ctx.now + Math.max(reported.failoverTimeout, RECOVERED_FRAMEWORK_GRACE_SECONDS) * 1000;
  ctx.allocator.deactivateFramework(id);
  persist(ctx, { kind: "add-framework", info: framework.info });
  persist(ctx, { kind: "framework-disconnected", frameworkId: id, time: ctx.now });
  return framework;
}

/**
 * A framework read from the registry at start: inactive until its scheduler
 * subscribes. Its failover timeout keeps running from when its scheduler
 * left; one that was connected when the old master stopped gets at least
 * the recovery grace to find this master.
 */
export function restoreFramework(ctx: Ctx, info: FrameworkInfo, disconnectedAt: number | undefined): void {
  const id = info.id?.value ?? "";
  if (id === "" || ctx.state.frameworks.has(id)) return;
  const framework = addFramework(ctx, clone(FrameworkInfoSchema, info), id);
  framework.recovered = true;
  framework.disconnectedAt = disconnectedAt ?? ctx.now;
  framework.failoverDeadline =
    disconnectedAt !== undefined
      ? disconnectedAt + info.failoverTimeout * 1000
      : ctx.now + Math.max(info.failoverTimeout, RECOVERED_FRAMEWORK_GRACE_SECONDS) * 1000;
  ctx.allocator.deactivateFramework(id);
}

/** The framework's stream ended: deactivate it and start its failover timeout. */
export function disconnectFramework(ctx: Ctx, framework: FrameworkRecord): void {
  framework.session = undefined;
  framework.disconnectedAt = ctx.now;
  ctx.allocator.deactivateFramework(framework.id);
  rescindOffers(ctx, [...framework.offers]);
  const timeoutMs = framework.info.failoverTimeout * 1000;
  framework.failoverDeadline = ctx.now + timeoutMs;
  if (timeoutMs === 0) return removeFramework(ctx, framework);
  persist(ctx, { kind: "framework-disconnected", frameworkId: framework.id, time: ctx.now });
  broadcastOperators(ctx, () =>
    operatorEvent({
      type: OperatorEventType.FRAMEWORK_UPDATED,
      frameworkUpdated: { framework: frameworkView(ctx, framework) },
    }),
  );
}

/** Removes frameworks whose failover timeout has passed. */
export function expireFrameworks(ctx: Ctx): void {
  for (const framework of [...ctx.state.frameworks.values()]) {
    if (framework.failoverDeadline !== undefined && framework.failoverDeadline <= ctx.now) {
      removeFramework(ctx, framework);
    }
  }
}

/**
 * Removes a framework (TEARDOWN, or failover timeout): its offers are
 * rescinded, its tasks killed on their agents, its resources recovered.
 */
export function removeFramework(ctx: Ctx, framework: FrameworkRecord): void {
  rescindOffers(ctx, [...framework.offers], false);
  const agentIds = new Set<string>();
  // Unreachable tasks too, as Mesos does: the framework is gone, whatever comes back.
  for (const task of [...framework.tasks.values(), ...framework.unreachable.byId.values()]) {
    const agentId = task.agentId?.value ?? "";
    agentIds.add(agentId);
    masterMove(ctx, framework, task, TaskState.TASK_KILLED, Reason.FRAMEWORK_REMOVED, "Framework removed");
  }
  for (const agent of ctx.state.agents.values()) {
    for (const [key, executor] of agent.executors) {
      if (executor.frameworkId === framework.id) agent.executors.delete(key);
    }
  }
  for (const agentId of agentIds) {
    const agent = ctx.state.agents.get(agentId);
    send(ctx, agent?.session, agentShutdownFramework(framework.id));
  }
  if (framework.session !== undefined) {
    ctx.state.sessions.delete(framework.session);
    ctx.out.push({ kind: "end", session: framework.session });
    framework.session = undefined;
  }
  ctx.allocator.removeFramework(framework.id);
  ctx.state.frameworks.delete(framework.id);
  persist(ctx, { kind: "remove-framework", frameworkId: framework.id });
  requestAllocation(ctx);
  fileCompletedFramework(ctx, framework);
  broadcastOperators(ctx, () =>
    operatorEvent({
      type: OperatorEventType.FRAMEWORK_REMOVED,
      frameworkRemoved: { frameworkInfo: framework.info },
    }),
  );
}

function agentShutdownFramework(frameworkId: string) {
  return agentEvent({ case: "shutdownFramework", value: { frameworkId: { value: frameworkId } } });
}
