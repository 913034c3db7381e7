/**
 * What must hold in every run, checked against the cores' own state (the
 * master core's books and allocator, each agent core's tasks and update
 * streams) and against what the schedulers received, never against the
 * simulation's own bookkeeping of what should have happened.
 *
 * After every step:
 *   launched once       no task reaches an executor twice, on any agent, ever
 *   agent knows its executors  a task an executor still runs is live in its agent core
 *   terminal stays      a task a master, an agent or a scheduler saw end never lives again
 *   resources conserved per agent a master serves: offered + allocated to tasks
 *                       = what the allocator holds there, and that + free = total
 *   fenced              every registry write stored came from the leader of that moment
 * Once faults stop and the cluster settled (`settled`):
 *   delivered           every update an agent took from an executor reached its
 *                       scheduler (unless that agent crashed since, or the framework is gone),
 *                       and every stream is empty: acknowledged end to end
 *   reconciled          every task an agent runs is known to the master and the
 *                       scheduler in the agent's state; every task a scheduler thinks
 *                       alive runs on an agent in that state
 */
import type { Resource } from "../../gen/mesos/v1/mesos_pb.js";
import { TaskState, type TaskStatus, TaskStatus_Reason } from "../../gen/mesos/v1/mesos_pb.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { AgentNode } from "./agent-node.js";
import type { FrameworkNode } from "./framework-node.js";
import type { MasterNode } from "./master-node.js";
import type { SimRegistry } from "./registry.js";
import { checkDelivered, checkReconciled, type TakenUpdate } from "./settled.js";

/** A broken invariant: the run stops at the first. */
export class Violation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

export interface World {
  readonly masters: () => MasterNode[];
  readonly leader: () => MasterNode | undefined;
  readonly agents: readonly AgentNode[];
  readonly frameworks: () => readonly FrameworkNode[];
  readonly registry: SimRegistry;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
export const stateName = (s: TaskState | undefined): string => (s === undefined ? "none" : (TaskState[s] ?? String(s)));

function scalars(resources: readonly Resource[], into = new Map<string, number>()): Map<string, number> {
  for (const r of resources) if (r.scalar !== undefined) into.set(r.name, (into.get(r.name) ?? 0) + r.scalar.value);
  return into;
}

function sameScalars(a: Map<string, number>, b: Map<string, number>): boolean {
  for (const name of new Set([...a.keys(), ...b.keys()]))
    if (Math.abs((a.get(name) ?? 0) - (b.get(name) ?? 0)) > 1e-6) return false;
  return true;
}

const show = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k}:${v}`).join(";") || "nothing";

/**
 * A reconciliation answer about a task the master does not hold, from what
 * it knows of the agent named (Mesos' answers too): "cannot see it" after
 * the task ended is a late answer to an earlier question, not a task alive again.
 */
function cannotSee(status: TaskStatus): boolean {
  return (
    status.uuid.length === 0 &&
    status.reason === TaskStatus_Reason.RECONCILIATION &&
    (status.state === TaskState.TASK_UNREACHABLE || status.state === TaskState.TASK_UNKNOWN)
  );
}

export interface Checker {
  launched(agent: string, frameworkId: string, taskId: string): void;
  updateTaken(agent: string, frameworkId: string, taskId: string, uuid: Uint8Array, state: TaskState): void;
  updated(framework: FrameworkNode, taskId: string, status: TaskStatus): void;
  /** The invariants that hold after every step. */
  step(): void;
  /** The invariants that hold once the cluster has settled. */
  settled(): void;
}

export function createChecker(world: World): Checker {
  const launches = new Set<string>();
  const taken = new Map<string, TakenUpdate>();
  const received = new Set<string>();
  const schedulerEnded = new Map<string, TaskState>();
  /** Terminal states seen, per master term and per agent incarnation. */
  const masterEnded = new WeakMap<MasterNode, Map<string, TaskState>>();
  const agentEnded = new Map<string, Map<string, TaskState>>();
  let commitsChecked = 0;
  /**
   * Frameworks a master removed at some point: it acknowledged their
   * updates itself. (One may come back under its id after a master
   * failover, which does not remember removed frameworks: a known limit,
   * as in Mesos.)
   */
  const removedFrameworks = new Set<string>();

  /** Completed tasks already looked at, per framework record (the list only grows, or drops its oldest). */
  const completedSeen = new WeakMap<object, number>();
  const handledSeen = new WeakMap<MasterNode, number>();

  /** `full`: every completed task again, not just the new ones (at the end). */
  const checkMaster = (master: MasterNode, full = false): void => {
    if (!full && handledSeen.get(master) === master.handled) return;
    handledSeen.set(master, master.handled);
    const ended = masterEnded.get(master) ?? new Map<string, TaskState>();
    masterEnded.set(master, ended);
    for (const framework of master.core.state.frameworks.values()) {
      const seen = completedSeen.get(framework) ?? 0;
      const from = full || seen > framework.completed.length ? 0 : seen;
      for (const task of framework.completed.slice(from)) {
        const key = `${framework.id}/${task.taskId?.value ?? ""}`;
        const was = ended.get(key);
        if (was !== undefined && was !== task.state)
          throw new Violation(
            "terminal stays",
            `master ${master.name} (epoch ${master.epoch}) moved ended task ${key} from ${stateName(was)} to ${stateName(task.state)}`,
          );
        ended.set(key, task.state);
      }
      completedSeen.set(framework, framework.completed.length);
      for (const task of [...framework.tasks.values(), ...framework.unreachable.byId.values()]) {
        const key = `${framework.id}/${task.taskId?.value ?? ""}`;
        const was = ended.get(key);
        if (was !== undefined || isTerminalState(task.state))
          throw new Violation(
            "terminal stays",
            `master ${master.name} (epoch ${master.epoch}) holds task ${key} as ${stateName(task.state)} after it ended as ${stateName(was ?? task.state)}`,
          );
      }
    }
    checkResources(master);
  };

  const checkResources = (master: MasterNode): void => {
    const { state } = master.core;
    for (const agent of state.agents.values()) {
      if (agent.session === undefined || agent.restored === true) continue;
      const inUse = new Map<string, number>();
      for (const offerId of agent.offers) scalars(state.offers.get(offerId)?.resources ?? [], inUse);
      for (const key of agent.tasks) {
        const [frameworkId, taskId] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
        scalars(state.frameworks.get(frameworkId)?.tasks.get(taskId)?.resources ?? [], inUse);
      }
      const held = scalars(master.allocator.agentAllocated(agent.id));
      const total = scalars(agent.total);
      if (!sameScalars(inUse, held))
        throw new Violation(
          "resources conserved",
          `master ${master.name} agent ${agent.id}: offers and tasks hold ${show(inUse)} but the allocator counts ${show(held)} allocated`,
        );
      for (const [name, amount] of held)
        if (amount > (total.get(name) ?? 0) + 1e-6)
          throw new Violation(
            "resources conserved",
            `master ${master.name} agent ${agent.id}: ${show(held)} allocated exceeds its total ${show(total)}`,
          );
    }
  };

  const checkAgent = (agent: AgentNode): void => {
    const core = agent.core;
    if (core === undefined) return;
    const id = `${agent.name}#${agent.incarnation}`;
    const ended = agentEnded.get(id) ?? new Map<string, TaskState>();
    agentEnded.set(id, ended);
    for (const [key, task] of core.state.tasks) {
      const was = ended.get(key);
      if (was !== undefined && was !== task.state)
        throw new Violation(
          "terminal stays",
          `agent ${id} moved ended task ${key} from ${stateName(was)} to ${stateName(task.state)}`,
        );
      if (isTerminalState(task.state)) ended.set(key, task.state);
    }
    // The agent's books against its machine: a task an executor still runs is not over.
    for (const key of agent.running()) {
      const task = core.state.tasks.get(key);
      if (task === undefined || isTerminalState(task.state))
        throw new Violation(
          "agent knows its executors",
          `an executor on ${id} runs ${key}, which its agent holds as ${task === undefined ? "unknown" : stateName(task.state)}`,
        );
    }
  };

  const checkFence = (): void => {
    const commits = world.registry.commits;
    for (; commitsChecked < commits.length; commitsChecked++) {
      const c = commits[commitsChecked];
      if (c === undefined) continue;
      if (c.writer !== c.leader)
        throw new Violation(
          "fenced",
          `a ${c.operation.kind} of deposed epoch ${c.writer} was stored while epoch ${c.leader} led`,
        );
      if (c.operation.kind === "remove-framework") removedFrameworks.add(c.operation.frameworkId);
    }
  };

  return {
    launched(agent, frameworkId, taskId) {
      const key = `${frameworkId}/${taskId}`;
      if (launches.has(key)) throw new Violation("launched once", `task ${key} reached an executor again, on ${agent}`);
      launches.add(key);
    },
    updateTaken(agentName, frameworkId, taskId, uuid, state) {
      const agent = world.agents.find((a) => a.name === agentName);
      if (agent !== undefined)
        taken.set(hex(uuid), { agent, incarnation: agent.incarnation, frameworkId, taskId, state });
    },
    updated(framework, taskId, status) {
      const { state, uuid } = status;
      if (uuid.length > 0) received.add(hex(uuid));
      const key = `${framework.name}/${taskId}`;
      const was = schedulerEnded.get(key);
      if (was !== undefined && !isTerminalState(state) && !cannotSee(status))
        throw new Violation(
          "terminal stays",
          `scheduler ${framework.name} heard ${stateName(state)} for task ${taskId} after ${stateName(was)}`,
        );
      if (isTerminalState(state) && was === undefined) schedulerEnded.set(key, state);
    },
    step() {
      for (const master of world.masters()) if (master.serving) checkMaster(master);
      for (const agent of world.agents) checkAgent(agent);
      checkFence();
    },
    settled() {
      const leader = world.leader();
      if (leader === undefined || !leader.serving)
        throw new Violation("settled", "no master leads after the quiet phase");
      checkMaster(leader, true);
      for (const agent of world.agents)
        if (agent.registeredWith !== leader)
          throw new Violation("settled", `agent ${agent.name} is not registered with the leader`);
      const frameworks = world.frameworks().filter((f) => !f.done);
      for (const f of frameworks)
        if (f.id === undefined || leader.core.state.frameworks.get(f.id)?.session === undefined)
          throw new Violation("settled", `framework ${f.name} is not subscribed to the leader`);
      checkDelivered(world, taken, received, removedFrameworks);
      checkReconciled(world, leader, removedFrameworks);
    },
  };
}
