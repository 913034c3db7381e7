import { create } from "@bufbuild/protobuf";
import {
  type Offer_Operation,
  OfferSchema,
  Offer_Operation_Type as OperationType,
  type Resource,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { Call_Accept, Call_Decline } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { addResources } from "../resources/index.js";
import { type Ctx, requestAllocation, send } from "./context.js";
import { ErrorCode, errorEvent, SchedulerEventType, schedulerEvent } from "./events.js";
import { acceptResourceOperation } from "./operations.js";
import type { FrameworkRecord, OfferRecord } from "./state.js";
import { dropLaunches, launchTasks } from "./tasks.js";

/** Mesos' default for Filters.refuse_seconds. */
export const DEFAULT_REFUSE_SECONDS = 5;

/**
 * Runs one allocation pass (over every agent, or with `changedOnly` over the
 * agents whose resources changed since the last pass) and sends the
 * resulting offers, one OFFERS event per framework.
 */
export function allocate(ctx: Ctx, changedOnly = false): void {
  const byFramework = new Map<string, OfferRecord[]>();
  const allocations = changedOnly ? ctx.allocator.allocateChanged(ctx.now) : ctx.allocator.allocate(ctx.now);
  for (const allocation of allocations) {
    const framework = ctx.state.frameworks.get(allocation.frameworkId);
    const agent = ctx.state.agents.get(allocation.agentId);
    if (framework?.session === undefined || agent?.session === undefined) {
      // The allocator proposes; the master re-checks before committing.
      ctx.allocator.recoverResources(allocation.frameworkId, allocation.agentId, allocation.resources);
      continue;
    }
    const id = ctx.ids.next("offer");
    const offer = create(OfferSchema, {
      id: { value: id },
      frameworkId: { value: framework.id },
      agentId: { value: agent.id },
      hostname: agent.info.hostname,
      resources: allocation.resources,
      attributes: agent.info.attributes,
      allocationInfo: { role: allocation.role },
      // Where the agent serves (v1 client libraries read it to reach tasks).
      url: {
        scheme: "http",
        address: { hostname: agent.info.hostname, ip: agent.ip || undefined, port: agent.info.port },
        path: "/slave(1)",
      },
      executorIds: [...agent.executors.values()]
        .filter((e) => e.frameworkId === framework.id)
        .map((e) => e.info.executorId ?? { value: "" }),
    });
    const record: OfferRecord = {
      offer,
      createdAt: ctx.now,
      frameworkId: framework.id,
      agentId: agent.id,
      role: allocation.role,
      resources: allocation.resources,
    };
    ctx.state.offers.set(id, record);
    framework.offers.add(id);
    agent.offers.add(id);
    byFramework.set(framework.id, [...(byFramework.get(framework.id) ?? []), record]);
  }
  for (const [frameworkId, records] of byFramework) {
    const framework = ctx.state.frameworks.get(frameworkId);
    send(
      ctx,
      framework?.session,
      schedulerEvent({ type: SchedulerEventType.OFFERS, offers: { offers: records.map((r) => r.offer) } }),
    );
  }
}

function forgetOffer(ctx: Ctx, record: OfferRecord): void {
  ctx.state.offers.delete(record.offer.id?.value ?? "");
  ctx.state.frameworks.get(record.frameworkId)?.offers.delete(record.offer.id?.value ?? "");
  ctx.state.agents.get(record.agentId)?.offers.delete(record.offer.id?.value ?? "");
}

/**
 * Withdraws offers (agent gone, framework failed over or removed), returning
 * their resources to the allocator; `notify` sends RESCIND to the framework.
 */
export function rescindOffers(ctx: Ctx, offerIds: string[], notify = true): void {
  for (const offerId of offerIds) {
    const record = ctx.state.offers.get(offerId);
    if (record === undefined) continue;
    forgetOffer(ctx, record);
    ctx.allocator.recoverResources(record.frameworkId, record.agentId, record.resources);
    if (notify) {
      const session = ctx.state.frameworks.get(record.frameworkId)?.session;
      send(
        ctx,
        session,
        schedulerEvent({ type: SchedulerEventType.RESCIND, rescind: { offerId: { value: offerId } } }),
      );
    }
  }
}

/**
 * Rescinds offers held longer than --offer-timeout, so a framework that sits
 * on offers cannot starve the others. Their resources go back unfiltered.
 */
export function expireOffers(ctx: Ctx): void {
  const timeoutSeconds = ctx.options.offerTimeoutSeconds;
  if (timeoutSeconds === undefined) return;
  const deadline = ctx.now - timeoutSeconds * 1000;
  const stale = [...ctx.state.offers].filter(([, r]) => r.createdAt <= deadline).map(([id]) => id);
  if (stale.length > 0) {
    rescindOffers(ctx, stale);
    requestAllocation(ctx);
  }
}

function refuseSeconds(filters: { refuseSeconds: number } | undefined): number {
  const seconds = filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

/** DECLINE: the offers' resources go back, filtered for refuse_seconds. */
export function decline(ctx: Ctx, framework: FrameworkRecord, call: Call_Decline, callId: string): void {
  const unknown: string[] = [];
  for (const offerId of call.offerIds) {
    const record = ctx.state.offers.get(offerId.value);
    if (record === undefined || record.frameworkId !== framework.id) {
      unknown.push(offerId.value);
      continue;
    }
    forgetOffer(ctx, record);
    ctx.allocator.recoverResources(framework.id, record.agentId, record.resources, {
      refuseSeconds: refuseSeconds(call.filters),
      now: ctx.now,
    });
  }
  if (unknown.length > 0) {
    send(
      ctx,
      framework.session,
      errorEvent(
        { code: ErrorCode.NOT_FOUND, message: `Unknown or already used offers: ${unknown.join(", ")}` },
        callId,
      ),
    );
  }
}

/**
 * Checks, in Mesos' order, that the offers exist, belong to the framework,
 * were made to one role (the launched tasks and reserved resources are
 * allocated to a single role) and share one agent.
 */
function validateOffers(ctx: Ctx, framework: FrameworkRecord, call: Call_Accept): string | undefined {
  if (call.offerIds.length === 0) return "ACCEPT names no offers";
  const seen = new Set<string>();
  const records: OfferRecord[] = [];
  for (const offerId of call.offerIds) {
    if (seen.has(offerId.value)) return `Offer ${offerId.value} appears more than once`;
    seen.add(offerId.value);
    const record = ctx.state.offers.get(offerId.value);
    if (record === undefined)
      return `Offer ${offerId.value} is no longer valid (unknown, declined, rescinded or already used)`;
    if (record.frameworkId !== framework.id) return `Offer ${offerId.value} was not made to framework ${framework.id}`;
    records.push(record);
  }
  const [first] = records;
  for (const record of records) {
    if (first !== undefined && record.role !== first.role)
      return `Aggregated offers must be allocated to the same role. Offer ${record.offer.id?.value ?? ""} uses role '${record.role}' but another is using role '${first.role}'`;
  }
  for (const record of records) {
    if (first !== undefined && record.agentId !== first.agentId)
      return "Offers in one ACCEPT must all be from the same agent";
  }
  return undefined;
}

/**
 * ACCEPT: validates the offers, then applies the operations in order against
 * the offered resources; what is left over returns to the allocator with the
 * call's filter. A bad launch becomes TASK_ERROR/TASK_DROPPED updates and
 * disturbs nothing else.
 */
export function accept(ctx: Ctx, framework: FrameworkRecord, call: Call_Accept, callId: string): void {
  const problem = validateOffers(ctx, framework, call);
  if (problem !== undefined) {
    // Mesos answers invalid offers by dropping the launches they carried.
    for (const offerId of call.offerIds) {
      const record = ctx.state.offers.get(offerId.value);
      if (record?.frameworkId === framework.id) {
        forgetOffer(ctx, record);
        ctx.allocator.recoverResources(framework.id, record.agentId, record.resources);
      }
    }
    dropLaunches(ctx, framework, call.operations, problem);
    send(ctx, framework.session, errorEvent({ code: ErrorCode.INVALID_ARGUMENT, message: problem }, callId));
    // Unfiltered and at once: the framework may want them again, correctly this time.
    requestAllocation(ctx);
    return;
  }
  const records = call.offerIds
    .map((id) => ctx.state.offers.get(id.value))
    .filter((r): r is OfferRecord => r !== undefined);
  records.forEach((r) => forgetOffer(ctx, r));
  const agentId = records[0]?.agentId ?? "";
  let remaining: Resource[] = records.reduce<Resource[]>((acc, r) => addResources(acc, r.resources), []);
  for (const operation of call.operations) {
    remaining = applyOperation(ctx, framework, agentId, operation, remaining, callId);
  }
  if (remaining.length > 0) {
    ctx.allocator.recoverResources(framework.id, agentId, remaining, {
      refuseSeconds: refuseSeconds(call.filters),
      now: ctx.now,
    });
  }
}

function applyOperation(
  ctx: Ctx,
  framework: FrameworkRecord,
  agentId: string,
  operation: Offer_Operation,
  offered: Resource[],
  callId: string,
): Resource[] {
  switch (operation.type) {
    case OperationType.LAUNCH:
      return launchTasks(ctx, framework, agentId, operation.launch?.taskInfos ?? [], offered);
    case OperationType.RESERVE:
    case OperationType.UNRESERVE:
    case OperationType.CREATE:
    case OperationType.DESTROY:
      return acceptResourceOperation(ctx, framework, agentId, operation, offered, callId);
    case OperationType.LAUNCH_GROUP:
      dropLaunches(ctx, framework, [operation], "LAUNCH_GROUP is not supported yet");
      return offered;
    default: {
      const name = OperationType[operation.type] ?? String(operation.type);
      send(
        ctx,
        framework.session,
        errorEvent({ code: ErrorCode.UNIMPLEMENTED, message: `Offer operation ${name} is not supported yet` }, callId),
      );
      return offered;
    }
  }
}
