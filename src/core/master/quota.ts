import { clone } from "@bufbuild/protobuf";
import type { Call_UpdateQuota } from "../../../gen/mesos/v1/master/master_pb.js";
import { Value_Type } from "../../../gen/mesos/v1/mesos_pb.js";
import { type QuotaConfig, QuotaConfigSchema } from "../../../gen/mesos/v1/quota/quota_pb.js";
import { roundScalar, validateRole } from "../resources/index.js";
import { type Ctx, requestAllocation } from "./context.js";
import { type CallError, ErrorCode } from "./events.js";

function amounts(map: { [name: string]: { value: number } }): Map<string, number> {
  return new Map(Object.entries(map).map(([name, scalar]) => [name, scalar.value]));
}

/** Mesos' caps, below which its fixed-point scalars cannot overflow: 1 exabyte (in MB) for mem and disk, 10^12 otherwise. */
const EXABYTE_IN_MB = 1024 ** 4;
const OTHER_CAP = 1e12;

function validateConfig(config: QuotaConfig): string | undefined {
  if (config.role === "*") return "quota cannot be set for the role '*'";
  const roleProblem = validateRole(config.role);
  if (roleProblem !== undefined) return `invalid role '${config.role}': ${roleProblem}`;
  for (const [kind, map] of [
    ["guarantee", config.guarantees],
    ["limit", config.limits],
  ] as const) {
    for (const [name, scalar] of Object.entries(map)) {
      if (name === "") return `a quota ${kind} of role '${config.role}' has no resource name`;
      if (!Number.isFinite(scalar.value) || scalar.value < 0)
        return `quota ${kind} of '${name}' for role '${config.role}' must be a finite, non-negative number`;
      const cap = name === "mem" || name === "disk" ? EXABYTE_IN_MB : OTHER_CAP;
      if (scalar.value > cap)
        return `quota ${kind} of '${name}' for role '${config.role}' is ${scalar.value}: values greater than ${cap} are not supported`;
    }
  }
  const limits = amounts(config.limits);
  for (const [name, guarantee] of amounts(config.guarantees)) {
    const limit = limits.get(name);
    if (limit !== undefined && guarantee > limit)
      return `role '${config.role}': guarantee of '${name}' (${guarantee}) exceeds its limit (${limit})`;
  }
  return undefined;
}

const ancestorsOf = (role: string): string[] =>
  role
    .split("/")
    .slice(0, -1)
    .map((_, i, parts) => parts.slice(0, i + 1).join("/"));

/**
 * A parent's guarantees must cover the sum of its children's (Mesos'
 * QuotaTree): a role in between with no quota guarantees nothing, so it
 * cannot have guaranteed sub-roles.
 */
function checkGuaranteeTree(configs: Map<string, QuotaConfig>): string | undefined {
  const childSums = new Map<string, Map<string, number>>();
  for (const [role, config] of configs) {
    // Every node on the path sums its direct children's guarantees.
    const path = [...ancestorsOf(role), role];
    for (let i = 1; i < path.length; i++) {
      const parent = path[i - 1] as string;
      const child = path[i] as string;
      const sum = childSums.get(parent) ?? new Map<string, number>();
      if (child === role)
        for (const [name, n] of amounts(config.guarantees)) sum.set(name, roundScalar((sum.get(name) ?? 0) + n));
      childSums.set(parent, sum);
    }
  }
  for (const [parent, sum] of childSums) {
    const own = amounts(configs.get(parent)?.guarantees ?? {});
    for (const [name, n] of sum) {
      if (n > 0 && (own.get(name) ?? 0) < n)
        return `role '${parent}': its guarantees do not contain the sum of its children's guarantees (${n} ${name})`;
    }
  }
  return undefined;
}

/**
 * The guarantees of all roles (top-level ones hold their sub-roles') must
 * fit in the scalars of the registered agents, unless forced.
 */
function checkCapacity(ctx: Ctx, configs: Map<string, QuotaConfig>): string | undefined {
  const guaranteed = new Map<string, number>();
  for (const [role, config] of configs) {
    if (role.includes("/")) continue;
    for (const [name, n] of amounts(config.guarantees)) guaranteed.set(name, (guaranteed.get(name) ?? 0) + n);
  }
  if (guaranteed.size === 0) return undefined;
  const capacity = new Map<string, number>();
  for (const agent of ctx.state.agents.values()) {
    for (const r of agent.total) {
      if (r.type === Value_Type.SCALAR && r.revocable === undefined)
        capacity.set(r.name, (capacity.get(r.name) ?? 0) + (r.scalar?.value ?? 0));
    }
  }
  for (const [name, n] of guaranteed) {
    const has = roundScalar(capacity.get(name) ?? 0);
    if (roundScalar(n) > has)
      return `total quota guarantees of '${name}' (${roundScalar(n)}) exceed the cluster's capacity (${has}); use 'force' to set them anyway`;
  }
  return undefined;
}

/**
 * Quota counts scalars only (Mesos quantities come from scalar resources):
 * a name the agents advertise as ranges or a set (`ports`, say) could never
 * be consumed, so a guarantee on it would hold headroom back forever.
 */
function checkScalarNames(ctx: Ctx, configs: QuotaConfig[]): string | undefined {
  const nonScalar = new Map<string, string>([["ports", "RANGES"]]);
  for (const agent of ctx.state.agents.values()) {
    for (const r of agent.total)
      if (r.type !== Value_Type.SCALAR) nonScalar.set(r.name, Value_Type[r.type] ?? String(r.type));
  }
  for (const config of configs) {
    for (const name of [...Object.keys(config.guarantees), ...Object.keys(config.limits)]) {
      const type = nonScalar.get(name);
      if (type !== undefined)
        return `role '${config.role}': quota applies to scalar resources only, and '${name}' is ${type}`;
    }
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
      if (cap !== undefined && scalar.value > cap)
        return `role '${role}': limit of '${name}' (${scalar.value}) exceeds its parent '${parent}''s limit (${cap})`;
    }
  }
  return undefined;
}

/**
 * UPDATE_QUOTA (Mesos 1.9+): all configs apply, or none. A config with
 * neither guarantees nor limits removes the role's quota. Validation as
 * Mesos': each config on its own (role, amounts, guarantees within limits,
 * scalar resource names only),
 * then the tree (children's limits within the parent's, the parent's
 * guarantees covering its children's), then, unless `force`, the total
 * guarantees within the registered agents' capacity. The allocator enforces
 * both guarantees (with headroom) and limits.
 */
export function updateQuota(ctx: Ctx, call: Call_UpdateQuota | undefined): CallError | undefined {
  const configs = call?.quotaConfigs ?? [];
  if (configs.length === 0)
    return { code: ErrorCode.INVALID_ARGUMENT, message: "UPDATE_QUOTA needs update_quota.quota_configs" };
  const seen = new Set<string>();
  for (const config of configs) {
    const problem = validateConfig(config);
    if (problem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: problem };
    if (seen.has(config.role))
      return { code: ErrorCode.INVALID_ARGUMENT, message: `role '${config.role}' appears twice` };
    seen.add(config.role);
  }
  const scalarProblem = checkScalarNames(ctx, configs);
  if (scalarProblem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: scalarProblem };
  const next = new Map(ctx.state.quotas);
  for (const config of configs) {
    if (Object.keys(config.limits).length === 0 && Object.keys(config.guarantees).length === 0)
      next.delete(config.role);
    else next.set(config.role, clone(QuotaConfigSchema, config));
  }
  const treeProblem =
    checkTree(next) ?? checkGuaranteeTree(next) ?? (call?.force === true ? undefined : checkCapacity(ctx, next));
  if (treeProblem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: treeProblem };
  for (const config of configs) {
    const kept = next.get(config.role);
    ctx.allocator.setQuota(config.role, {
      guarantees: amounts(kept?.guarantees ?? {}),
      limits: amounts(kept?.limits ?? {}),
    });
  }
  ctx.state.quotas = next;
  requestAllocation(ctx);
  return undefined;
}

/** GET_QUOTA's configs, by role. */
export function quotaConfigs(ctx: Ctx): QuotaConfig[] {
  return [...ctx.state.quotas.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
