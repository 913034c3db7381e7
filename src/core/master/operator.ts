import { create } from "@bufbuild/protobuf";
import {
  type Call as OperatorCall,
  Call_Type as OperatorCallType,
  type Response,
  Response_GetHealthSchema,
  Response_GetMasterSchema,
  Response_Type,
  ResponseSchema,
} from "../../../gen/mesos/v1/master/master_pb.js";
import {
  type Offer_Operation,
  Offer_OperationSchema,
  Offer_Operation_Type as OperationType,
  type Resource,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { validateWeight } from "../allocator/index.js";
import { addResources, reservationRole, unallocated } from "../resources/index.js";
import { markAgentGone } from "./agents.js";
import { type Ctx, requestAllocation } from "./context.js";
import { type CallError, ErrorCode } from "./events.js";
import { removeFramework } from "./frameworks.js";
import { maintenanceStatus, updateSchedule } from "./maintenance.js";
import { masterMetrics, metricsInput } from "./metrics.js";
import { rescindOffers } from "./offers.js";
import { operatorResourceOperation } from "./operations.js";
import { quotaConfigs, updateQuota } from "./quota.js";
import { agentsView, countersView, getState } from "./views.js";

/**
 * GET_ROLES: every role with a framework, an allocation, a weight, a quota or
 * a reservation, with what it holds.
 */
function roles(ctx: Ctx) {
  const summaries = new Map(ctx.allocator.roles().map((r) => [r.role, r]));
  const offered = new Map<string, Resource[]>();
  for (const record of ctx.state.offers.values())
    offered.set(record.role, addResources(offered.get(record.role) ?? [], unallocated(record.resources)));
  const reserved = new Map<string, Resource[]>();
  for (const agent of ctx.state.agents.values()) {
    for (const r of agent.total) {
      const role = reservationRole(r);
      if (role !== "*") reserved.set(role, addResources(reserved.get(role) ?? [], [r]));
    }
  }
  const names = [...new Set([...summaries.keys(), ...ctx.state.quotas.keys(), ...reserved.keys()])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return names.map((name) => {
    const summary = summaries.get(name);
    const quota = ctx.state.quotas.get(name);
    return {
      name,
      weight: summary?.weight ?? 1,
      frameworks: (summary?.frameworks ?? []).map((value) => ({ value })),
      resources: summary?.allocated ?? [],
      allocated: summary?.allocated ?? [],
      offered: offered.get(name) ?? [],
      reserved: reserved.get(name) ?? [],
      quotaGuarantees: quota?.guarantees ?? {},
      quotaLimits: quota?.limits ?? {},
    };
  });
}

function masterView(ctx: Ctx) {
  return create(Response_GetMasterSchema, {
    masterInfo: ctx.options.info,
    startTime: ctx.state.startedAt / 1000,
    electedTime: ctx.state.startedAt / 1000,
  });
}

/** The operator's resource calls as the Offer.Operation they amount to. */
function resourceOperation(call: OperatorCall): { agentId: string; operation: Offer_Operation } | string {
  const op = (init: Parameters<typeof create<typeof Offer_OperationSchema>>[1]) => create(Offer_OperationSchema, init);
  switch (call.type) {
    case OperatorCallType.RESERVE_RESOURCES:
      if (call.reserveResources === undefined) return "Expecting 'reserve_resources' to be present";
      if (call.reserveResources.source.length > 0)
        return "RESERVE_RESOURCES with 'source' (re-reservation) is not supported yet";
      return {
        agentId: call.reserveResources.agentId?.value ?? "",
        operation: op({ type: OperationType.RESERVE, reserve: { resources: call.reserveResources.resources } }),
      };
    case OperatorCallType.UNRESERVE_RESOURCES:
      if (call.unreserveResources === undefined) return "Expecting 'unreserve_resources' to be present";
      return {
        agentId: call.unreserveResources.agentId?.value ?? "",
        operation: op({ type: OperationType.UNRESERVE, unreserve: { resources: call.unreserveResources.resources } }),
      };
    case OperatorCallType.CREATE_VOLUMES:
      if (call.createVolumes === undefined) return "Expecting 'create_volumes' to be present";
      return {
        agentId: call.createVolumes.agentId?.value ?? "",
        operation: op({ type: OperationType.CREATE, create: { volumes: call.createVolumes.volumes } }),
      };
    default:
      if (call.destroyVolumes === undefined) return "Expecting 'destroy_volumes' to be present";
      return {
        agentId: call.destroyVolumes.agentId?.value ?? "",
        operation: op({ type: OperationType.DESTROY, destroy: { volumes: call.destroyVolumes.volumes } }),
      };
  }
}

/**
 * The answer to a call that acts: its own Response type (Plateau's additions
 * to Response.Type, named after the call), so a v2 client sees what was done
 * instead of UNKNOWN. The v1 gateway answers these with an empty body, as Mesos.
 */
function acted(type: OperatorCallType): Response {
  const name = OperatorCallType[type] as keyof typeof Response_Type;
  return create(ResponseSchema, { type: Response_Type[name] ?? Response_Type.UNKNOWN });
}

/**
 * GET_HEALTH's answer never changes, and it is the call a load balancer or a
 * stream's keep-alive polls: built once, since creating a Response walks all
 * of its fields (creating the answer's messages was about a third of what the
 * master spent per call beyond a bare echo, in the stream benchmark's
 * profile). Frozen, as every caller shares it.
 */
const HEALTHY: Response = Object.freeze(
  create(ResponseSchema, {
    type: Response_Type.GET_HEALTH,
    getHealth: Object.freeze(create(Response_GetHealthSchema, { healthy: true })),
  }),
);

/**
 * Answers one operator call. Read calls only look; TEARDOWN acts, and its
 * effects land in `ctx.out` like any other handler's.
 */
export function operatorCall(ctx: Ctx, call: OperatorCall): Response | CallError {
  const r = (init: Parameters<typeof create<typeof ResponseSchema>>[1]) => create(ResponseSchema, init);
  const state = () => getState(ctx);
  switch (call.type) {
    case OperatorCallType.GET_HEALTH:
      return HEALTHY;
    case OperatorCallType.GET_VERSION:
      return r({
        type: Response_Type.GET_VERSION,
        getVersion: {
          versionInfo: {
            version: ctx.options.version,
            buildTime: ctx.options.build?.time,
            buildDate: ctx.options.build?.date,
          },
        },
      });
    case OperatorCallType.GET_FLAGS:
      return r({
        type: Response_Type.GET_FLAGS,
        getFlags: { flags: Object.entries(ctx.options.flags).map(([name, value]) => ({ name, value })) },
      });
    case OperatorCallType.GET_STATE:
      return r({ type: Response_Type.GET_STATE, getState: state() });
    case OperatorCallType.GET_AGENTS:
      return r({ type: Response_Type.GET_AGENTS, getAgents: agentsView(ctx) });
    case OperatorCallType.GET_FRAMEWORKS:
      return r({ type: Response_Type.GET_FRAMEWORKS, getFrameworks: state().getFrameworks });
    case OperatorCallType.GET_EXECUTORS:
      return r({ type: Response_Type.GET_EXECUTORS, getExecutors: state().getExecutors });
    case OperatorCallType.GET_TASKS:
      return r({ type: Response_Type.GET_TASKS, getTasks: state().getTasks });
    case OperatorCallType.GET_ROLES:
      return r({ type: Response_Type.GET_ROLES, getRoles: { roles: roles(ctx) } });
    case OperatorCallType.GET_WEIGHTS:
      return r({
        type: Response_Type.GET_WEIGHTS,
        getWeights: { weightInfos: roles(ctx).map((role) => ({ role: role.name, weight: role.weight })) },
      });
    case OperatorCallType.UPDATE_WEIGHTS: {
      // All or nothing: a bad entry leaves every weight as it was.
      const infos = call.updateWeights?.weightInfos ?? [];
      if (infos.length === 0)
        return { code: ErrorCode.INVALID_ARGUMENT, message: "UPDATE_WEIGHTS needs update_weights.weight_infos" };
      for (const info of infos) {
        const problem = validateWeight(info.role, info.weight);
        if (problem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: problem };
      }
      for (const info of infos) ctx.allocator.setWeight(info.role, info.weight);
      ctx.out.push({ kind: "persist", operation: { kind: "update-weights", weights: infos } });
      requestAllocation(ctx);
      return acted(call.type);
    }
    case OperatorCallType.UPDATE_QUOTA: {
      const error = updateQuota(ctx, call.updateQuota);
      if (error !== undefined) return error;
      ctx.out.push({
        kind: "persist",
        operation: { kind: "update-quota", configs: call.updateQuota?.quotaConfigs ?? [] },
      });
      // Outstanding offers were made under the old quota: take them back so the
      // next pass can meet new guarantees and respect new limits (Mesos, too,
      // rescinds whole agents' offers rather than work out the least).
      rescindOffers(ctx, [...ctx.state.offers.keys()]);
      requestAllocation(ctx);
      return acted(call.type);
    }
    case OperatorCallType.GET_QUOTA:
      return r({ type: Response_Type.GET_QUOTA, getQuota: { status: { configs: quotaConfigs(ctx) } } });
    case OperatorCallType.RESERVE_RESOURCES:
    case OperatorCallType.UNRESERVE_RESOURCES:
    case OperatorCallType.CREATE_VOLUMES:
    case OperatorCallType.DESTROY_VOLUMES: {
      const request = resourceOperation(call);
      if (typeof request === "string") return { code: ErrorCode.INVALID_ARGUMENT, message: request };
      return operatorResourceOperation(ctx, request.agentId, request.operation) ?? acted(call.type);
    }
    case OperatorCallType.UPDATE_MAINTENANCE_SCHEDULE:
      return updateSchedule(ctx, call.updateMaintenanceSchedule?.schedule) ?? acted(call.type);
    case OperatorCallType.GET_MAINTENANCE_SCHEDULE:
      return r({
        type: Response_Type.GET_MAINTENANCE_SCHEDULE,
        getMaintenanceSchedule: { schedule: ctx.state.maintenanceSchedule },
      });
    case OperatorCallType.GET_MAINTENANCE_STATUS:
      return r({
        type: Response_Type.GET_MAINTENANCE_STATUS,
        getMaintenanceStatus: { status: maintenanceStatus(ctx) },
      });
    case OperatorCallType.MARK_AGENT_GONE: {
      const error = markAgentGone(ctx, call.markAgentGone?.agentId?.value ?? "");
      return error ?? acted(call.type);
    }
    case OperatorCallType.GET_MASTER:
      return r({ type: Response_Type.GET_MASTER, getMaster: masterView(ctx) });
    case OperatorCallType.GET_METRICS: {
      // Every metric is computed here and now, from memory, so none is ever
      // late: any `timeout` is met and nothing is left out for it.
      if (call.getMetrics === undefined)
        return { code: ErrorCode.INVALID_ARGUMENT, message: "Expecting 'get_metrics' to be present" };
      const metrics = masterMetrics(
        metricsInput(ctx.state),
        ctx.now,
        countersView(ctx.state),
        ctx.options.systemMetrics?.(),
      );
      return r({
        type: Response_Type.GET_METRICS,
        getMetrics: { metrics: Object.entries(metrics).map(([name, value]) => ({ name, value })) },
      });
    }
    case OperatorCallType.TEARDOWN: {
      const id = call.teardown?.frameworkId?.value ?? "";
      const framework = ctx.state.frameworks.get(id);
      if (framework === undefined) return { code: ErrorCode.NOT_FOUND, message: `No framework ${id} to tear down` };
      removeFramework(ctx, framework);
      return acted(call.type);
    }
    case OperatorCallType.SUBSCRIBE:
      return { code: ErrorCode.FAILED_PRECONDITION, message: "SUBSCRIBE needs a stream: use the Connect RPC" };
    case OperatorCallType.UNKNOWN:
      return { code: ErrorCode.INVALID_ARGUMENT, message: "Expecting 'type' to be present" };
    default:
      return {
        code: ErrorCode.UNIMPLEMENTED,
        message: `Operator call ${OperatorCallType[call.type] ?? call.type} is not supported yet`,
      };
  }
}
