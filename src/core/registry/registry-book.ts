/**
 * The registry as a backend holds it between writes: indexed by id and
 * changed in place, so an operation costs what it changes (one agent, one
 * framework), not what the registry holds. `applyRegistryOperation`
 * (registry.ts) is the reference for what each operation means; the book
 * gives the same registries and the same "changed" answers (a property test
 * holds it to that), without copying or comparing the whole registry.
 *
 * Messages kept here are never mutated, only replaced, so a snapshot can
 * share them.
 */
import { clone, create, equals } from "@bufbuild/protobuf";
import { type Schedule, ScheduleSchema } from "../../../gen/mesos/v1/maintenance/maintenance_pb.js";
import {
  type AgentInfo,
  AgentInfoSchema,
  FrameworkInfoSchema,
  type WeightInfo,
  WeightInfoSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { type QuotaConfig, QuotaConfigSchema } from "../../../gen/mesos/v1/quota/quota_pb.js";
import {
  type AgentMark,
  AgentMarkSchema,
  type Framework,
  FrameworkSchema,
  type Registry,
  RegistrySchema,
} from "../../../gen/plateau/registry/v1/registry_pb.js";
import { type Millis, toTimeInfo } from "../clock.js";
import type { RegistryOperation } from "./registry.js";
import { parseEntryPath } from "./registry-entries.js";

export interface RegistryBook {
  /** Applies `operation` in place; true if the registry changed. */
  apply(operation: RegistryOperation): boolean;
  /** The registry as a message (sorted as registry.ts sorts it); the same object until the next change. Do not mutate. */
  snapshot(): Registry;
  /** How many agents are admitted (for sizing decisions such as compaction). */
  readonly agentCount: number;
  /** The entry at `path` (registry-entries.ts) as a fragment, or undefined when it holds nothing. Do not mutate. */
  entry(path: string): Registry | undefined;
  /**
   * Sets the entry at `path` to what `fragment` holds (undefined: nothing),
   * as read from a store or to undo operations not stored. The fragment must
   * fit the path (`fragmentFits`); its messages are kept, not copied.
   */
  setEntry(path: string, fragment: Registry | undefined): void;
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sortedValues = <T>(map: ReadonlyMap<string, T>): T[] =>
  [...map.entries()].sort(([a], [b]) => order(a, b)).map(([, value]) => value);
const idOf = (info: AgentInfo | undefined): string => info?.id?.value ?? "";

function isEmptyQuota(config: QuotaConfig): boolean {
  return Object.keys(config.guarantees).length === 0 && Object.keys(config.limits).length === 0;
}

/** A book holding `registry` (which is not changed). */
export function createRegistryBook(registry: Registry): RegistryBook {
  const weights = new Map<string, WeightInfo>(registry.weights.map((w) => [w.role, w]));
  const quotas = new Map<string, QuotaConfig>(registry.quotas.map((q) => [q.role, q]));
  const agents = new Map<string, AgentInfo>(registry.agents.map((a) => [idOf(a), a]));
  const unreachable = new Map<string, AgentMark>(registry.unreachable.map((m) => [idOf(m.info), m]));
  const gone = new Map<string, AgentMark>(registry.gone.map((m) => [idOf(m.info), m]));
  const frameworks = new Map<string, Framework>(registry.frameworks.map((f) => [f.info?.id?.value ?? "", f]));
  let terms = registry.terms;
  let maintenance: Schedule | undefined = registry.maintenanceSchedule;
  let snapshot: Registry | undefined = registry;

  /** Moves the agent (from wherever it is listed) to the `unreachable` or `gone` marks. */
  const markAgent = (list: Map<string, AgentMark>, agentId: string, time: Millis): boolean => {
    const info = agents.get(agentId) ?? unreachable.get(agentId)?.info;
    if (info === undefined || gone.has(agentId)) return false;
    const mark = create(AgentMarkSchema, { info, time: toTimeInfo(time) });
    const before = list.get(agentId);
    const changed = agents.delete(agentId) || before === undefined || !equals(AgentMarkSchema, before, mark);
    unreachable.delete(agentId);
    list.set(agentId, mark);
    return changed;
  };

  /** Sets `map[key] = value` unless an equal value is there; true if it changed. */
  const put = <T extends AgentInfo | Framework>(
    map: Map<string, T>,
    key: string,
    value: T,
    same: (a: T, b: T) => boolean,
  ): boolean => {
    const before = map.get(key);
    if (before !== undefined && same(before, value)) return false;
    map.set(key, value);
    return true;
  };

  /**
   * Runs `change` on `map` and says whether any of `roles` ended up
   * different: one call may set a role and then clear it again.
   */
  const changesRoles = <T extends WeightInfo | QuotaConfig>(
    map: Map<string, T>,
    roles: string[],
    same: (a: T, b: T) => boolean,
    change: () => void,
  ): boolean => {
    const before = new Map(roles.map((role) => [role, map.get(role)]));
    change();
    return [...before].some(([role, was]) => {
      const now = map.get(role);
      return was === undefined || now === undefined ? was !== now : !same(was, now);
    });
  };

  const applyOne = (operation: RegistryOperation): boolean => {
    switch (operation.kind) {
      case "update-weights":
        return changesRoles(
          weights,
          operation.weights.map((w) => w.role),
          (a, b) => equals(WeightInfoSchema, a, b),
          () => {
            for (const w of operation.weights)
              weights.set(w.role, create(WeightInfoSchema, { role: w.role, weight: w.weight }));
          },
        );
      case "update-quota":
        return changesRoles(
          quotas,
          operation.configs.map((c) => c.role),
          (a, b) => equals(QuotaConfigSchema, a, b),
          () => {
            for (const config of operation.configs) {
              if (isEmptyQuota(config)) quotas.delete(config.role);
              else quotas.set(config.role, clone(QuotaConfigSchema, config));
            }
          },
        );
      case "admit-agent": {
        const id = idOf(operation.info);
        if (id === "" || gone.has(id)) return false;
        // An unreachable agent is not in `agents`: coming back always changes something.
        unreachable.delete(id);
        return put(agents, id, clone(AgentInfoSchema, operation.info), (a, b) => equals(AgentInfoSchema, a, b));
      }
      case "mark-agent-unreachable":
        return markAgent(unreachable, operation.agentId, operation.time);
      case "mark-agent-gone":
        return markAgent(gone, operation.agentId, operation.time);
      case "remove-agent": {
        const listed = agents.delete(operation.agentId);
        return unreachable.delete(operation.agentId) || listed;
      }
      case "prune-agents": {
        let changed = false;
        for (const id of operation.unreachable) changed = unreachable.delete(id) || changed;
        for (const id of operation.gone) changed = gone.delete(id) || changed;
        return changed;
      }
      case "add-framework": {
        const id = operation.info.id?.value ?? "";
        if (id === "") return false;
        const framework = create(FrameworkSchema, {
          info: clone(FrameworkInfoSchema, operation.info),
          disconnectedTime: frameworks.get(id)?.disconnectedTime,
        });
        return put(frameworks, id, framework, (a, b) => equals(FrameworkSchema, a, b));
      }
      case "framework-disconnected": {
        const before = frameworks.get(operation.frameworkId);
        if (before === undefined) return false;
        const time = operation.time === undefined ? undefined : toTimeInfo(operation.time);
        const framework = create(FrameworkSchema, { info: before.info, disconnectedTime: time });
        return put(frameworks, operation.frameworkId, framework, (a, b) => equals(FrameworkSchema, a, b));
      }
      case "remove-framework":
        return frameworks.delete(operation.frameworkId);
      case "start-term":
        terms += 1n;
        return true;
      case "update-maintenance-schedule": {
        const schedule = clone(ScheduleSchema, operation.schedule);
        if (maintenance !== undefined && equals(ScheduleSchema, maintenance, schedule)) return false;
        maintenance = schedule;
        return true;
      }
    }
  };

  const entry = (path: string): Registry | undefined => {
    const named = parseEntryPath(path);
    switch (named?.kind) {
      case undefined:
        return undefined;
      case "agent": {
        const admitted = agents.get(named.id);
        if (admitted !== undefined) return create(RegistrySchema, { agents: [admitted] });
        const away = unreachable.get(named.id);
        if (away !== undefined) return create(RegistrySchema, { unreachable: [away] });
        const left = gone.get(named.id);
        return left === undefined ? undefined : create(RegistrySchema, { gone: [left] });
      }
      case "framework": {
        const framework = frameworks.get(named.id);
        return framework === undefined ? undefined : create(RegistrySchema, { frameworks: [framework] });
      }
      case "weight": {
        const weight = weights.get(named.role);
        return weight === undefined ? undefined : create(RegistrySchema, { weights: [weight] });
      }
      case "quota": {
        const quota = quotas.get(named.role);
        return quota === undefined ? undefined : create(RegistrySchema, { quotas: [quota] });
      }
      case "terms":
        return terms === 0n ? undefined : create(RegistrySchema, { terms });
      case "maintenance":
        return maintenance === undefined ? undefined : create(RegistrySchema, { maintenanceSchedule: maintenance });
    }
  };

  const setEntry = (path: string, fragment: Registry | undefined): void => {
    const named = parseEntryPath(path);
    switch (named?.kind) {
      case undefined:
        return;
      case "agent": {
        for (const map of [agents, unreachable, gone]) map.delete(named.id);
        const admitted = fragment?.agents[0];
        const away = fragment?.unreachable[0];
        const left = fragment?.gone[0];
        if (admitted !== undefined) agents.set(named.id, admitted);
        else if (away !== undefined) unreachable.set(named.id, away);
        else if (left !== undefined) gone.set(named.id, left);
        break;
      }
      case "framework": {
        const framework = fragment?.frameworks[0];
        if (framework === undefined) frameworks.delete(named.id);
        else frameworks.set(named.id, framework);
        break;
      }
      case "weight": {
        const weight = fragment?.weights[0];
        if (weight === undefined) weights.delete(named.role);
        else weights.set(named.role, weight);
        break;
      }
      case "quota": {
        const quota = fragment?.quotas[0];
        if (quota === undefined) quotas.delete(named.role);
        else quotas.set(named.role, quota);
        break;
      }
      case "terms":
        terms = fragment?.terms ?? 0n;
        break;
      case "maintenance":
        maintenance = fragment?.maintenanceSchedule;
        break;
    }
    snapshot = undefined;
  };

  return {
    entry,
    setEntry,
    apply(operation) {
      const changed = applyOne(operation);
      if (changed) snapshot = undefined;
      return changed;
    },
    snapshot() {
      snapshot ??= create(RegistrySchema, {
        weights: sortedValues(weights),
        quotas: sortedValues(quotas),
        agents: sortedValues(agents),
        unreachable: sortedValues(unreachable),
        gone: sortedValues(gone),
        frameworks: sortedValues(frameworks),
        terms,
        maintenanceSchedule: maintenance,
      });
      return snapshot;
    },
    get agentCount() {
      return agents.size;
    },
  };
}
