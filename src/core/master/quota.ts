import { clone } from "@bufbuild/protobuf";
import { QuotaConfigSchema, type QuotaConfig } from "../../../gen/mesos/v1/quota/quota_pb.js";
import type { Call_UpdateQuota } from "../../../gen/mesos/v1/master/master_pb.js";
import { validateRole } from "../resources/index.js";
import { requestAllocation, type Ctx } from "./context.js";
import { ErrorCode, type CallError } from "./events.js";

function amounts(map: { [name: string]: { value: number } }): Map<string, number> {
  return new Map(Object.entries(map).map(([name, scalar]) => [name, scalar.value]));
}

function validateConfig(config: QuotaConfig): string | undefined {
  if (config.role === "*") return "quota cannot be set for the role '*'";
  const roleProblem = validateRole(config.role);
  if (roleProblem !== undefined) return `invalid role '${config.role}': ${roleProblem}`;
  for (const [kind, map] of [["guarantee", config.guarantees], ["limit", config.limits]] as const) {
    for (const [name, scalar] of Object.entries(map)) {
      if (name === "") return `a quota ${kind} of role '${config.role}' has no resource name`;
      if (!Number.isFinite(scalar.value) || scalar.value < 0) return `quota ${kind} of '${name}' for role '${config.role}' must be a finite, non-negative number`;
    }
  }
  const limits = amounts(config.limits);
  for (const [name, guarantee] of amounts(config.guarantees)) {
    const limit = limits.get(name);
    if (limit !== undefined && guarantee > limit) return `role '${config.role}': guarantee of '${name}' (${guarantee}) exceeds its limit (${limit})`;
  }
  return undefined;
}

/** A child's limit may not exceed its parent's, as in Mesos' role tree. */
function checkTree(configs: Map<string, QuotaConfig>): string | undefined {
  for (const [role, config] of configs) {
    const parent = role.includes("/") ? role.slice(0, role.lastIndexOf("/")) : undefined;
    const parentLimits = parent === undefined ? undefined : configs.get(parent)?.limits;
    if (parentLimits === undefined) continue;
    for (const [name, scalar] of Object.entries(config.limits)) {
      const cap = parentLimits[name]?.value;
      if (cap !== undefined && scalar.value > cap) return `role '${role}': limit of '${name}' (${scalar.value}) exceeds its parent '${parent}''s limit (${cap})`;
    }
  }
  return undefined;
}

/**
 * UPDATE_QUOTA (Mesos 1.9+): all configs apply, or none. A config with
 * neither guarantees nor limits removes the role's quota. Limits are
 * enforced by the allocator; guarantees (which need headroom held back
 * across the cluster) are refused until they are enforced too.
 */
export function updateQuota(ctx: Ctx, call: Call_UpdateQuota | undefined): CallError | undefined {
  const configs = call?.quotaConfigs ?? [];
  if (configs.length === 0) return { code: ErrorCode.INVALID_ARGUMENT, message: "UPDATE_QUOTA needs update_quota.quota_configs" };
  const seen = new Set<string>();
  for (const config of configs) {
    const problem = validateConfig(config);
    if (problem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: problem };
    if (seen.has(config.role)) return { code: ErrorCode.INVALID_ARGUMENT, message: `role '${config.role}' appears twice` };
    seen.add(config.role);
    if ([...amounts(config.guarantees).values()].some((v) => v > 0)) {
      return { code: ErrorCode.UNIMPLEMENTED, message: `quota guarantees are not enforced yet (role '${config.role}'); set limits only` };
    }
  }
  const next = new Map(ctx.state.quotas);
  for (const config of configs) {
    if (Object.keys(config.limits).length === 0 && Object.keys(config.guarantees).length === 0) next.delete(config.role);
    else next.set(config.role, clone(QuotaConfigSchema, config));
  }
  const treeProblem = checkTree(next);
  if (treeProblem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: treeProblem };
  for (const config of configs) ctx.allocator.setLimits(config.role, next.has(config.role) ? amounts(config.limits) : new Map());
  ctx.state.quotas = next;
  requestAllocation(ctx);
  return undefined;
}

/** GET_QUOTA's configs, by role. */
export function quotaConfigs(ctx: Ctx): QuotaConfig[] {
  return [...ctx.state.quotas.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
