/**
 * Operations that reshape an agent's resources: RESERVE, UNRESERVE, CREATE
 * and DESTROY, from a framework's ACCEPT (on offered resources) or from the
 * operator (on free ones).
 *
 * The master applies an operation to its own view at once (the allocator and
 * the agent's total), so the next offer already shows it, then sends it to
 * the agent, which checkpoints it and answers with the outcome:
 *
 *   validated ──applied to the master's view──► pending on the agent
 *       │                                            │ OperationStatus
 *       ▼                                            ▼
 *   OPERATION_ERROR                    OPERATION_FINISHED, or OPERATION_FAILED
 *   (nothing changed)                  (the master's view is rolled back)
 *
 * Frameworks that set Offer.Operation.id hear the outcome as
 * UPDATE_OPERATION_STATUS.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  type Offer_Operation,
  Offer_OperationSchema,
  OperationState,
  type OperationStatus,
  OperationStatusSchema,
  Offer_Operation_Type as OperationType,
  type Resource,
  Resource_AllocationInfoSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { AgentCall_OperationStatus } from "../../../gen/mesos/v2/mesos_pb.js";
import {
  allocateTo,
  applyConversion,
  type Conversion,
  conversionOf,
  formatResources,
  persistentVolumes,
  reservationRole,
  reservationStack,
  unallocated,
} from "../resources/index.js";
import { disconnectAgent } from "./agents.js";
import { type Ctx, requestAllocation, send } from "./context.js";
import {
  agentEvent,
  agentIdOf,
  type CallError,
  ErrorCode,
  errorEvent,
  SchedulerEventType,
  schedulerEvent,
} from "./events.js";
import { rescindOffers } from "./offers.js";
import type { AgentRecord, FrameworkRecord } from "./state.js";

/** The operation types this module handles. */
export const RESOURCE_OPERATIONS: ReadonlySet<OperationType> = new Set([
  OperationType.RESERVE,
  OperationType.UNRESERVE,
  OperationType.CREATE,
  OperationType.DESTROY,
]);

/** An operation sent to an agent and not yet answered. */
export interface PendingOperation {
  agentId: string;
  frameworkId: string | undefined;
  /** The framework's Offer.Operation.id: set when it wants feedback. */
  operationId: string | undefined;
  /** Bare (no allocation_info), as applied to the agent's total. */
  conversion: Conversion;
  /** The role the framework held the converted resources in. */
  role: string | undefined;
}

const name = (operation: Offer_Operation): string => OperationType[operation.type] ?? String(operation.type);

function textBytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The operation's resources, tagged with `role` where they carry no allocation_info. */
function operationForRole(operation: Offer_Operation, role: string | undefined): Offer_Operation {
  const copy = clone(Offer_OperationSchema, operation);
  if (role === undefined) return copy;
  const tag = (resources: Resource[]) => {
    for (const r of resources)
      if (r.allocationInfo === undefined) r.allocationInfo = create(Resource_AllocationInfoSchema, { role });
  };
  tag(copy.reserve?.resources ?? []);
  tag(copy.unreserve?.resources ?? []);
  tag(copy.create?.volumes ?? []);
  tag(copy.destroy?.volumes ?? []);
  return copy;
}

/** Checks that depend on who asks and on the agent, beyond the operation's own shape. */
function checkAgainstAgent(
  ctx: Ctx,
  agent: AgentRecord,
  operation: Offer_Operation,
  conversion: Conversion,
  framework: FrameworkRecord | undefined,
  allocationRole: string | undefined,
): string | undefined {
  const principal = framework?.info.principal ?? "";
  if (operation.type === OperationType.RESERVE) {
    for (const r of conversion.converted) {
      const top = reservationStack(r).at(-1);
      if (allocationRole !== undefined && top?.role !== allocationRole) {
        return `RESERVE of ${formatResources([r])}: a framework can only reserve for the role it was offered the resources in ('${allocationRole}')`;
      }
      if (framework !== undefined && top?.principal && principal !== "" && top.principal !== principal) {
        return `RESERVE: the reservation's principal '${top.principal}' is not the framework's principal '${principal}'`;
      }
    }
  }
  if (operation.type === OperationType.UNRESERVE && allocationRole !== undefined) {
    for (const r of conversion.consumed) {
      const role = reservationRole(r);
      if (role !== allocationRole && !allocationRole.startsWith(`${role}/`)) {
        return `UNRESERVE of ${formatResources([r])}: it is not reserved for the role '${allocationRole}'`;
      }
    }
  }
  if (operation.type === OperationType.CREATE) {
    const existing = persistentVolumes(agent.total);
    for (const id of persistentVolumes(conversion.converted).keys()) {
      if (existing.has(id)) return `CREATE: a persistent volume with id '${id}' already exists on agent ${agent.id}`;
    }
  }
  if (operation.type === OperationType.DESTROY) {
    const ids = new Set(persistentVolumes(conversion.consumed).keys());
    for (const framework of ctx.state.frameworks.values()) {
      for (const task of framework.tasks.values()) {
        if (task.agentId?.value !== agent.id) continue;
        const inUse = [...persistentVolumes(task.resources).keys()].find((id) => ids.has(id));
        if (inUse !== undefined) return `DESTROY: volume '${inUse}' is in use by task ${task.taskId?.value ?? ""}`;
      }
    }
    for (const executor of agent.executors.values()) {
      const inUse = [...persistentVolumes(executor.info.resources).keys()].find((id) => ids.has(id));
      if (inUse !== undefined)
        return `DESTROY: volume '${inUse}' is in use by executor ${executor.info.executorId?.value ?? ""}`;
    }
  }
  return undefined;
}

function bare(conversion: Conversion): Conversion {
  return { consumed: unallocated(conversion.consumed), converted: unallocated(conversion.converted) };
}

/** Records the operation, updates the agent's total and sends it to the agent. */
function dispatchToAgent(ctx: Ctx, agent: AgentRecord, operation: Offer_Operation, pending: PendingOperation): void {
  const total = applyConversion(agent.total, pending.conversion);
  if (total !== undefined) agent.total = total;
  const uuid = ctx.ids.next("operation");
  ctx.state.operations.set(uuid, pending);
  send(
    ctx,
    agent.session,
    agentEvent({
      case: "applyOperation",
      value: {
        frameworkId: pending.frameworkId === undefined ? undefined : { value: pending.frameworkId },
        operation: unallocatedOperation(operation),
        operationUuid: textBytes(uuid),
      },
    }),
  );
}

function unallocatedOperation(operation: Offer_Operation): Offer_Operation {
  const copy = clone(Offer_OperationSchema, operation);
  if (copy.reserve !== undefined) copy.reserve.resources = unallocated(copy.reserve.resources);
  if (copy.unreserve !== undefined) copy.unreserve.resources = unallocated(copy.unreserve.resources);
  if (copy.create !== undefined) copy.create.volumes = unallocated(copy.create.volumes);
  if (copy.destroy !== undefined) copy.destroy.volumes = unallocated(copy.destroy.volumes);
  return copy;
}

function operationStatus(
  operationId: string,
  state: OperationState,
  message: string,
  agentId: string,
  converted: Resource[] = [],
): OperationStatus {
  return create(OperationStatusSchema, {
    operationId: { value: operationId },
    state,
    message,
    agentId: agentIdOf(agentId),
    convertedResources: converted,
  });
}

function sendOperationStatus(ctx: Ctx, framework: FrameworkRecord | undefined, status: OperationStatus): void {
  send(
    ctx,
    framework?.session,
    schedulerEvent({ type: SchedulerEventType.UPDATE_OPERATION_STATUS, updateOperationStatus: { status } }),
  );
}

/**
 * A RESERVE, UNRESERVE, CREATE or DESTROY inside an ACCEPT, applied to what
 * is left of the offers. Returns what is left afterwards (unchanged when the
 * operation is refused, which the framework hears as an ERROR naming the
 * problem, and as OPERATION_ERROR when it asked for feedback).
 */
export function acceptResourceOperation(
  ctx: Ctx,
  framework: FrameworkRecord,
  agentId: string,
  operation: Offer_Operation,
  offered: Resource[],
  callId: string,
): Resource[] {
  const operationId = operation.id?.value || undefined;
  const role = offered[0]?.allocationInfo?.role;
  const refuse = (message: string): Resource[] => {
    send(ctx, framework.session, errorEvent({ code: ErrorCode.INVALID_ARGUMENT, message }, callId));
    if (operationId !== undefined)
      sendOperationStatus(
        ctx,
        framework,
        operationStatus(operationId, OperationState.OPERATION_ERROR, message, agentId),
      );
    return offered;
  };
  const agent = ctx.state.agents.get(agentId);
  if (agent === undefined) return refuse(`${name(operation)}: agent ${agentId} is not registered`);
  const conversion = conversionOf(operationForRole(operation, role));
  if (typeof conversion === "string") return refuse(conversion);
  const problem = checkAgainstAgent(ctx, agent, operation, conversion, framework, role);
  if (problem !== undefined) return refuse(problem);
  const remaining = applyConversion(offered, conversion);
  if (remaining === undefined) {
    return refuse(
      `${name(operation)} needs ${formatResources(conversion.consumed)}, which the offers (${formatResources(offered)}) do not have`,
    );
  }
  if (!ctx.allocator.convertResources(agentId, conversion, framework.id)) {
    return refuse(
      `${name(operation)}: the allocator does not hold ${formatResources(conversion.consumed)} for framework ${framework.id}`,
    );
  }
  dispatchToAgent(ctx, agent, operation, {
    agentId,
    frameworkId: framework.id,
    operationId,
    conversion: bare(conversion),
    role,
  });
  return remaining;
}

/**
 * The operator's RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and
 * DESTROY_VOLUMES: applied to the agent's free resources, rescinding its
 * outstanding offers first when they hold what is needed, as Mesos does.
 */
export function operatorResourceOperation(
  ctx: Ctx,
  agentId: string,
  operation: Offer_Operation,
): CallError | undefined {
  const agent = ctx.state.agents.get(agentId);
  if (agentId === "") return { code: ErrorCode.INVALID_ARGUMENT, message: `${name(operation)} needs agent_id` };
  if (agent === undefined) return { code: ErrorCode.NOT_FOUND, message: `No agent ${agentId}` };
  const conversion = conversionOf(unallocatedOperation(operation));
  if (typeof conversion === "string") return { code: ErrorCode.INVALID_ARGUMENT, message: conversion };
  const problem = checkAgainstAgent(ctx, agent, operation, conversion, undefined, undefined);
  if (problem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: problem };
  const lacking: CallError = {
    code: ErrorCode.FAILED_PRECONDITION,
    message: `${name(operation)} needs ${formatResources(conversion.consumed)} free on agent ${agentId}, which it does not have`,
  };
  if (!ctx.allocator.convertResources(agentId, conversion)) {
    // Rescinding offers only helps when the agent has the resources at all.
    if (applyConversion(agent.total, conversion) === undefined) return lacking;
    rescindOffers(ctx, [...agent.offers]);
    if (!ctx.allocator.convertResources(agentId, conversion)) return lacking;
  }
  dispatchToAgent(ctx, agent, operation, {
    agentId,
    frameworkId: undefined,
    operationId: undefined,
    conversion,
    role: undefined,
  });
  requestAllocation(ctx);
  return undefined;
}

/**
 * The agent's answer to an ApplyOperation. After a failure the master's view
 * of the agent may be wrong in ways a rollback cannot undo (offers made from
 * it, later operations stacked on it), so, as in Mesos, the agent's own
 * checkpoint decides: its offers are rescinded and its stream ended, and it
 * re-registers with what it actually has.
 */
export function agentOperationStatus(ctx: Ctx, agentId: string, call: AgentCall_OperationStatus): void {
  const uuid = textOf(call.operationUuid);
  const pending = ctx.state.operations.get(uuid);
  if (pending === undefined || pending.agentId !== agentId) return;
  ctx.state.operations.delete(uuid);
  const state = call.status?.state ?? OperationState.OPERATION_FAILED;
  const finished = state === OperationState.OPERATION_FINISHED;
  const framework = pending.frameworkId === undefined ? undefined : ctx.state.frameworks.get(pending.frameworkId);
  if (!finished) resync(ctx, agentId);
  if (pending.operationId === undefined) return;
  const converted =
    finished && pending.role !== undefined ? allocateTo(pending.conversion.converted, pending.role) : [];
  const status = operationStatus(
    pending.operationId,
    finished ? OperationState.OPERATION_FINISHED : OperationState.OPERATION_FAILED,
    call.status?.message ?? "",
    agentId,
    converted,
  );
  sendOperationStatus(ctx, framework, status);
}

function resync(ctx: Ctx, agentId: string): void {
  const agent = ctx.state.agents.get(agentId);
  if (agent?.session === undefined) return;
  rescindOffers(ctx, [...agent.offers]);
  ctx.out.push({
    kind: "end",
    session: agent.session,
    error: {
      code: ErrorCode.UNAVAILABLE,
      message: "An operation failed on this agent: register again with what you have checkpointed",
    },
  });
  ctx.state.sessions.delete(agent.session);
  disconnectAgent(ctx, agent);
  requestAllocation(ctx);
}
