/**
 * The registry's named operations: each says what it changes and whether it
 * changed anything, so a backend can skip a write that would change nothing
 * and apply the rest with compare-and-set. Pure: registries are values.
 */
import { clone, create, equals } from "@bufbuild/protobuf";
import { type Schedule, ScheduleSchema } from "../../../gen/mesos/v1/maintenance/maintenance_pb.js";
import {
  type AgentInfo,
  AgentInfoSchema,
  type FrameworkInfo,
  FrameworkInfoSchema,
  type WeightInfo,
  WeightInfoSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { type QuotaConfig, QuotaConfigSchema } from "../../../gen/mesos/v1/quota/quota_pb.js";
import {
  type AgentMark,
  AgentMarkSchema,
  FrameworkSchema,
  type Registry,
  RegistrySchema,
} from "../../../gen/plateau/registry/v1/registry_pb.js";
import { type Millis, toTimeInfo } from "../clock.js";

export type { Registry };

export type RegistryOperation =
  /** UPDATE_WEIGHTS: sets each named role's weight. */
  | { kind: "update-weights"; weights: WeightInfo[] }
  /** UPDATE_QUOTA: replaces each named role's quota; a config with no guarantees and no limits removes it. */
  | { kind: "update-quota"; configs: QuotaConfig[] }
  /** An agent registered, re-registered with new info, or came back from unreachable. */
  | { kind: "admit-agent"; info: AgentInfo }
  /** An agent stayed away past its timeout (it may come back: admit-agent). */
  | { kind: "mark-agent-unreachable"; agentId: string; time: Millis }
  /** The operator said the agent is gone for good. */
  | { kind: "mark-agent-gone"; agentId: string; time: Millis }
  /** A new agent took the old one's address: the old one is forgotten. */
  | { kind: "remove-agent"; agentId: string }
  /** Forgets unreachable and gone agents past the registry's bounds (registry-gc in the master core). */
  | { kind: "prune-agents"; unreachable: string[]; gone: string[] }
  /** A framework subscribed for the first time, or its info changed. */
  | { kind: "add-framework"; info: FrameworkInfo }
  /** The framework's scheduler left (`time`) or came back (undefined). */
  | { kind: "framework-disconnected"; frameworkId: string; time: Millis | undefined }
  /** Torn down, or its failover timeout passed. */
  | { kind: "remove-framework"; frameworkId: string }
  /** A master takes the lead with this registry (counts `terms`). */
  | { kind: "start-term" }
  /** UPDATE_MAINTENANCE_SCHEDULE: the whole schedule, replaced. */
  | { kind: "update-maintenance-schedule"; schedule: Schedule };

/** An empty registry: what a master starts from the first time. */
export function emptyRegistry(): Registry {
  return create(RegistrySchema);
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byRole = <T extends { role: string }>(a: T, b: T): number => order(a.role, b.role);
const agentIdOf = (info: AgentInfo | undefined): string => info?.id?.value ?? "";
const byAgent = (a: AgentInfo, b: AgentInfo): number => order(agentIdOf(a), agentIdOf(b));
const byMarkedAgent = (a: AgentMark, b: AgentMark): number => order(agentIdOf(a.info), agentIdOf(b.info));

/** Moves the agent (from wherever it is listed) to the `unreachable` or `gone` list. */
function markAgent(next: Registry, list: "unreachable" | "gone", agentId: string, time: Millis): void {
  const info =
    next.agents.find((a) => agentIdOf(a) === agentId) ??
    next.unreachable.find((m) => agentIdOf(m.info) === agentId)?.info;
  if (info === undefined || next.gone.some((m) => agentIdOf(m.info) === agentId)) return;
  next.agents = next.agents.filter((a) => agentIdOf(a) !== agentId);
  next.unreachable = next.unreachable.filter((m) => agentIdOf(m.info) !== agentId);
  const mark = create(AgentMarkSchema, { info, time: toTimeInfo(time) });
  next[list] = [...next[list], mark].sort(byMarkedAgent);
}

function isEmptyQuota(config: QuotaConfig): boolean {
  return Object.keys(config.guarantees).length === 0 && Object.keys(config.limits).length === 0;
}

/**
 * The common no-ops, found without copying the registry: every agent that
 * re-registers and every scheduler that resubscribes asks to store what is
 * already there, a whole fleet of them after a failover.
 */
function isNoOp(registry: Registry, operation: RegistryOperation): boolean {
  if (operation.kind === "admit-agent") {
    const id = agentIdOf(operation.info);
    const listed = registry.agents.find((a) => agentIdOf(a) === id);
    return (
      listed !== undefined &&
      equals(AgentInfoSchema, listed, operation.info) &&
      !registry.unreachable.some((m) => agentIdOf(m.info) === id)
    );
  }
  if (operation.kind === "add-framework") {
    const listed = registry.frameworks.find((f) => f.info?.id?.value === operation.info.id?.value);
    return listed?.info !== undefined && equals(FrameworkInfoSchema, listed.info, operation.info);
  }
  return false;
}

/** The registry after `operation`, and whether that differs from `registry` (which is left as it was). */
export function applyRegistryOperation(
  registry: Registry,
  operation: RegistryOperation,
): { registry: Registry; changed: boolean } {
  if (isNoOp(registry, operation)) return { registry, changed: false };
  const next = clone(RegistrySchema, registry);
  switch (operation.kind) {
    case "update-weights": {
      const weights = new Map(next.weights.map((w) => [w.role, w]));
      for (const w of operation.weights)
        weights.set(w.role, create(WeightInfoSchema, { role: w.role, weight: w.weight }));
      next.weights = [...weights.values()].sort(byRole);
      break;
    }
    case "update-quota": {
      const quotas = new Map(next.quotas.map((q) => [q.role, q]));
      for (const config of operation.configs) {
        if (isEmptyQuota(config)) quotas.delete(config.role);
        else quotas.set(config.role, clone(QuotaConfigSchema, config));
      }
      next.quotas = [...quotas.values()].sort(byRole);
      break;
    }
    case "admit-agent": {
      const id = agentIdOf(operation.info);
      if (id === "" || next.gone.some((m) => agentIdOf(m.info) === id)) break;
      next.unreachable = next.unreachable.filter((m) => agentIdOf(m.info) !== id);
      next.agents = [...next.agents.filter((a) => agentIdOf(a) !== id), clone(AgentInfoSchema, operation.info)].sort(
        byAgent,
      );
      break;
    }
    case "mark-agent-unreachable":
      markAgent(next, "unreachable", operation.agentId, operation.time);
      break;
    case "mark-agent-gone":
      markAgent(next, "gone", operation.agentId, operation.time);
      break;
    case "remove-agent":
      next.agents = next.agents.filter((a) => agentIdOf(a) !== operation.agentId);
      next.unreachable = next.unreachable.filter((m) => agentIdOf(m.info) !== operation.agentId);
      break;
    case "prune-agents": {
      const unreachable = new Set(operation.unreachable);
      const gone = new Set(operation.gone);
      next.unreachable = next.unreachable.filter((m) => !unreachable.has(agentIdOf(m.info)));
      next.gone = next.gone.filter((m) => !gone.has(agentIdOf(m.info)));
      break;
    }
    case "add-framework": {
      const id = operation.info.id?.value ?? "";
      if (id === "") break;
      const existing = next.frameworks.find((f) => f.info?.id?.value === id);
      const framework = create(FrameworkSchema, {
        info: clone(FrameworkInfoSchema, operation.info),
        disconnectedTime: existing?.disconnectedTime,
      });
      next.frameworks = [...next.frameworks.filter((f) => f.info?.id?.value !== id), framework].sort((a, b) =>
        order(a.info?.id?.value ?? "", b.info?.id?.value ?? ""),
      );
      break;
    }
    case "framework-disconnected": {
      const framework = next.frameworks.find((f) => f.info?.id?.value === operation.frameworkId);
      if (framework !== undefined)
        framework.disconnectedTime = operation.time === undefined ? undefined : toTimeInfo(operation.time);
      break;
    }
    case "remove-framework":
      next.frameworks = next.frameworks.filter((f) => f.info?.id?.value !== operation.frameworkId);
      break;
    case "start-term":
      next.terms += 1n;
      break;
    case "update-maintenance-schedule":
      next.maintenanceSchedule = clone(ScheduleSchema, operation.schedule);
      break;
  }
  return { registry: next, changed: !equals(RegistrySchema, registry, next) };
}
