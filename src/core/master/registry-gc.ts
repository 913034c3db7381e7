/**
 * The registry's bounds on agents that are not coming back (Mesos'
 * `--registry_max_agent_age` and `--registry_max_agent_count`): without
 * them every agent ever marked unreachable or gone stays in the registry
 * for good, and a registry read at failover grows with the cluster's whole
 * history. Run every `--registry-gc-interval`, as Mesos' doRegistryGc.
 *
 * An agent forgotten here that comes back is admitted as any agent would
 * be; a task reconciled on it is TASK_UNKNOWN, as in Mesos.
 */
import { type Ctx, persist } from "./context.js";

/** Mesos' defaults: two weeks, 100 × 1024 agents. */
export const DEFAULT_REGISTRY_MAX_AGENT_AGE_SECONDS = 14 * 24 * 3600;
export const DEFAULT_REGISTRY_MAX_AGENT_COUNT = 100 * 1024;

/**
 * The ids to forget from a list kept in the order agents joined it: the
 * oldest past `maxCount`, and any older than `maxAgeMs`.
 */
function overBounds(marked: Map<string, number>, now: number, maxAgeMs: number, maxCount: number): string[] {
  const forget: string[] = [];
  for (const [agentId, since] of marked) {
    if (marked.size - forget.length > maxCount || now - since > maxAgeMs) forget.push(agentId);
  }
  return forget;
}

/** Forgets the unreachable and gone agents past the registry's bounds, in the registry first. */
export function pruneRegistry(ctx: Ctx): void {
  const maxAgeMs = (ctx.options.registryMaxAgentAgeSeconds ?? DEFAULT_REGISTRY_MAX_AGENT_AGE_SECONDS) * 1000;
  const maxCount = ctx.options.registryMaxAgentCount ?? DEFAULT_REGISTRY_MAX_AGENT_COUNT;
  const unreachable = overBounds(ctx.state.unreachableAgents, ctx.now, maxAgeMs, maxCount);
  const gone = overBounds(ctx.state.goneAgents, ctx.now, maxAgeMs, maxCount);
  if (unreachable.length === 0 && gone.length === 0) return;
  persist(ctx, { kind: "prune-agents", unreachable, gone });
  for (const agentId of unreachable) {
    ctx.state.unreachableAgents.delete(agentId);
    ctx.state.unreachableAgentInfos.delete(agentId);
    // Its tasks can no longer come back either.
    for (const framework of ctx.state.frameworks.values()) {
      const { byId, byAgent } = framework.unreachable;
      for (const taskId of byAgent.get(agentId) ?? []) byId.delete(taskId);
      byAgent.delete(agentId);
    }
  }
  for (const agentId of gone) ctx.state.goneAgents.delete(agentId);
}
