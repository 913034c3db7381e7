/**
 * The invariants that hold once faults stopped and the cluster settled
 * (see invariants.ts): every update delivered and acknowledged end to end,
 * every task known alike to its agent, the master and its scheduler.
 */
import { TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { AgentNode } from "./agent-node.js";
import { stateName, Violation, type World } from "./invariants.js";
import type { MasterNode } from "./master-node.js";

/** An update an agent took from an executor, and the incarnation that took it. */
export interface TakenUpdate {
  agent: AgentNode;
  incarnation: number;
  frameworkId: string;
  taskId: string;
  state: TaskState;
}

export function checkDelivered(
  world: World,
  taken: ReadonlyMap<string, TakenUpdate>,
  received: Set<string>,
  removedFrameworks: ReadonlySet<string>,
): void {
  for (const agent of world.agents) {
    const pending = agent.core?.state.updates.pending() ?? [];
    if (pending.length > 0) {
      const p = pending[0];
      throw new Violation(
        "delivered",
        `agent ${agent.name} still holds ${pending.length} unacknowledged updates (first: ${p?.frameworkId}/${p?.status.taskId?.value} ${stateName(p?.status.state)})`,
      );
    }
  }
  for (const [uuid, t] of taken) {
    if (t.agent.incarnation !== t.incarnation || received.has(uuid)) continue;
    if (removedFrameworks.has(t.frameworkId)) continue;
    throw new Violation(
      "delivered",
      `${stateName(t.state)} of task ${t.frameworkId}/${t.taskId}, taken by agent ${t.agent.name}, never reached its scheduler`,
    );
  }
}

export function checkReconciled(world: World, leader: MasterNode, removedFrameworks: ReadonlySet<string>): void {
  const byId = new Map(world.frameworks().flatMap((f) => (f.id === undefined ? [] : [[f.id, f] as const])));
  const onAgents = new Map<string, { agent: string; state: TaskState }>();
  for (const agent of world.agents) {
    const core = agent.core;
    if (core === undefined) continue;
    for (const [key, task] of core.state.tasks) {
      onAgents.set(key, { agent: core.agentId ?? "", state: task.state });
      const framework = byId.get(task.frameworkId);
      const taskId = task.info.taskId?.value ?? "";
      if (framework === undefined || framework.done)
        throw new Violation("reconciled", `agent ${agent.name} still runs ${key} of a framework that is gone`);
      const held = leader.core.state.frameworks.get(task.frameworkId)?.tasks.get(taskId);
      if (held?.state !== task.state || held.agentId?.value !== core.agentId)
        throw new Violation(
          "reconciled",
          `agent ${agent.name} runs ${key} as ${stateName(task.state)}; the master holds ${stateName(held?.state)} on ${held?.agentId?.value ?? "no agent"}`,
        );
      const view = framework.tasks.get(taskId);
      if (view?.state !== task.state)
        throw new Violation(
          "reconciled",
          `agent ${agent.name} runs ${key} as ${stateName(task.state)}; its scheduler believes ${stateName(view?.state)}`,
        );
    }
  }
  const liveAgentIds = new Set(world.agents.flatMap((a) => (a.core?.agentId === undefined ? [] : [a.core.agentId])));
  for (const framework of world.frameworks()) {
    if (framework.done || framework.id === undefined) continue;
    for (const [taskId, view] of framework.tasks) {
      if (view.state !== undefined && isTerminalState(view.state)) continue;
      // An agent that never came back under its id (wiped): "cannot see it" is
      // the truth, until the registry forgets the agent (not done yet, as
      // src/core/master/README.md says).
      const unseen = view.state === TaskState.TASK_UNREACHABLE || view.state === TaskState.TASK_UNKNOWN;
      if (unseen && !liveAgentIds.has(view.agentId)) continue;
      // Removed while away, then back under its id after a master failover (a
      // known limit): its tasks were killed and their updates acknowledged for it.
      if (removedFrameworks.has(framework.id) && !onAgents.has(`${framework.id}/${taskId}`)) continue;
      const truth = onAgents.get(`${framework.id}/${taskId}`);
      if (truth?.state !== view.state)
        throw new Violation(
          "reconciled",
          `scheduler ${framework.name} believes ${taskId} is ${stateName(view.state)}; agents hold ${stateName(truth?.state)}`,
        );
    }
  }
}
