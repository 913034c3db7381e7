/**
 * What an agent's (re)registration says about its tasks, set against what
 * the master holds for it. The agent's word wins where the task lifecycle
 * allows it:
 *
 *   reported, live here           kept as the master knows it (the agent's
 *                                 update stream brings what changed); charged again
 *   reported, unreachable here    back, in the state the agent reports
 *   reported, unknown             adopted: a restarted master forgot it
 *   reported, ended here          not taken back (a terminal task stays so):
 *                                 the agent is told to kill it
 *   reported, framework removed   not taken back: the agent is told to shut
 *                                 the framework down
 *   live here, not reported       kept and charged; the agent is asked to end it
 *                                 (ReconcileTasks), and its TASK_DROPPED comes
 *                                 through its status update stream, reliably
 *   unreachable, not reported     the agent came back without it: TASK_GONE
 *
 * (TASK_LOST instead of TASK_DROPPED and TASK_GONE for frameworks that are
 * not partition-aware.) A task the agent reports in a terminal state is kept
 * until its terminal update, which the agent resends, arrives. A task
 * reported in a state no agent can be in (TASK_UNREACHABLE, say) counts as
 * not reported.
 */

import { type Resource, type Task, TaskState } from "../../../gen/mesos/v1/mesos_pb.js";
import type { AgentCall_Register } from "../../../gen/mesos/v2/mesos_pb.js";
import { adoptable, isTerminalState } from "../task-lifecycle.js";
import { type Ctx, send } from "./context.js";
import { agentEvent, masterStatus, Reason, SchedulerEventType, schedulerEvent } from "./events.js";
import { recoverFramework } from "./frameworks.js";
import { type AgentRecord, type FrameworkRecord, splitTaskKey, taskKey } from "./state.js";
import { applyStatus, endedTask, masterMove, toFramework, unreachableOn } from "./task-bookkeeping.js";

function tell(ctx: Ctx, framework: FrameworkRecord, status: { state: TaskState } | undefined): void {
  if (status === undefined) return;
  send(ctx, framework.session, schedulerEvent({ type: SchedulerEventType.UPDATE, update: { status } }));
}

function reportedKeys(call: AgentCall_Register): Set<string> {
  return new Set(
    call.tasks.filter((t) => sayable(t.state)).map((t) => taskKey(t.frameworkId?.value ?? "", t.taskId?.value ?? "")),
  );
}

/** Live tasks the master holds on the agent that its Register did not list, by framework. */
export type Unreported = Map<FrameworkRecord, Task[]>;

/**
 * Ends the unreachable tasks of the agent that it came back without, and
 * returns the live ones it did not list (still held and charged; see
 * `reconcileUnreported`). Called before the allocator hears of the agent
 * again, while nothing on it is charged.
 */
export function endUnreported(
  ctx: Ctx,
  agent: AgentRecord,
  call: AgentCall_Register,
  wasUnreachable: boolean,
): Unreported {
  const unreported: Unreported = new Map();
  // A new leader knows no task of the agents it recovered: nothing to set against.
  if (agent.tasks.size === 0 && !wasUnreachable) return unreported;
  const reported = reportedKeys(call);
  for (const key of [...agent.tasks]) {
    const [frameworkId, taskId] = splitTaskKey(key);
    const framework = ctx.state.frameworks.get(frameworkId);
    const task = framework?.tasks.get(taskId);
    if (framework === undefined || task === undefined) agent.tasks.delete(key);
    else if (!reported.has(key)) unreported.set(framework, [...(unreported.get(framework) ?? []), task]);
  }
  // Only an agent marked unreachable has unreachable tasks; looking through
  // every framework for each agent of a registering fleet would not scale.
  const frameworks = wasUnreachable ? ctx.state.frameworks.values() : [];
  for (const framework of frameworks) {
    for (const task of unreachableOn(framework, agent.id)) {
      if (reported.has(taskKey(framework.id, task.taskId?.value ?? ""))) continue;
      const message = `Agent ${agent.id} re-registered without the task`;
      tell(ctx, framework, masterMove(ctx, framework, task, TaskState.TASK_GONE, Reason.RECONCILIATION, message));
    }
  }
  return unreported;
}

/**
 * Asks the agent about the live tasks it did not list, one ReconcileTasks
 * per framework (Mesos' ReconcileTasksMessage on re-registration). Until
 * the agent's answer arrives the tasks stay as they were, and charged.
 */
export function reconcileUnreported(ctx: Ctx, agent: AgentRecord, unreported: Unreported): void {
  for (const [framework, tasks] of unreported) {
    send(
      ctx,
      agent.session,
      agentEvent({
        case: "reconcileTasks",
        value: { frameworkInfo: framework.info, taskIds: tasks.flatMap((t) => (t.taskId ? [t.taskId] : [])) },
      }),
    );
  }
}

/**
 * Takes the agent's word for what runs on it, and charges it to the
 * allocator (which must know the agent again). `announce`: frameworks hear
 * of the tasks they did not know of, as Mesos tells them of an unknown
 * agent's; an agent this master recovered from the registry brings back
 * what frameworks knew before the failover, which they reconcile if they
 * want to (a fleet of 10,000 agents would otherwise send each framework
 * every task it has).
 */
export function adoptTasks(
  ctx: Ctx,
  agent: AgentRecord,
  call: AgentCall_Register,
  unreported: Unreported,
  announce: boolean,
): void {
  for (const executor of call.executors) {
    const frameworkId = executor.frameworkId?.value ?? "";
    agent.executors.set(`${frameworkId}/${executor.executorId?.value ?? ""}`, { frameworkId, info: executor });
  }
  const held = new Map<string, Resource[]>();
  const charge = (frameworkId: string, resources: Resource[]): void => {
    const list = held.get(frameworkId);
    if (list === undefined) held.set(frameworkId, [...resources]);
    else list.push(...resources);
  };
  const removedFrameworks = new Set<string>();
  // Charged until the agent's answer to ReconcileTasks ends them.
  for (const [framework, tasks] of unreported) for (const task of tasks) charge(framework.id, task.resources);
  agent.ending = new Set();
  for (const reported of call.tasks) {
    const frameworkId = reported.frameworkId?.value ?? "";
    const taskId = reported.taskId?.value ?? "";
    if (isTerminalState(reported.state)) agent.ending.add(taskKey(frameworkId, taskId));
    const known = ctx.state.frameworks.get(frameworkId);
    if (known === undefined && ctx.state.completedFrameworks.some((f) => f.id === frameworkId)) {
      removedFrameworks.add(frameworkId);
      continue;
    }
    const info = known === undefined ? call.frameworks.find((f) => f.id?.value === frameworkId) : undefined;
    const framework =
      known ?? (info === undefined || !adoptable(reported.state) ? undefined : recoverFramework(ctx, info));
    if (framework === undefined) continue;
    const live = framework.tasks.get(taskId);
    const unreachable = framework.unreachable.byId.get(taskId);
    if (live?.agentId?.value === agent.id) {
      charge(frameworkId, live.resources);
    } else if (unreachable?.agentId?.value === agent.id) {
      comeBack(ctx, framework, agent, unreachable, reported.state);
    } else if (isTerminalState(reported.state)) {
      // Nothing to take back; its terminal update is on its way.
    } else if (
      live !== undefined ||
      unreachable !== undefined ||
      endedHere(ctx, frameworkId, taskId) ||
      !adoptable(reported.state)
    ) {
      // The master holds this task id on another agent, or told the framework
      // it ended: the agent's copy must not run on unseen.
      send(
        ctx,
        agent.session,
        agentEvent({ case: "killTask", value: { frameworkId: { value: frameworkId }, taskId: { value: taskId } } }),
      );
    } else {
      adopt(ctx, framework, agent, reported, announce);
      charge(frameworkId, reported.resources);
    }
  }
  // A framework removed while the agent was away (torn down, or past its
  // failover timeout) must not live on there: the agent shuts it down, as
  // Mesos' master does on re-registration.
  for (const executor of call.executors) {
    const frameworkId = executor.frameworkId?.value ?? "";
    if (!ctx.state.frameworks.has(frameworkId) && ctx.state.completedFrameworks.some((f) => f.id === frameworkId))
      removedFrameworks.add(frameworkId);
  }
  for (const frameworkId of removedFrameworks) {
    for (const key of [...agent.executors.keys()]) if (key.startsWith(`${frameworkId}/`)) agent.executors.delete(key);
    send(ctx, agent.session, agentEvent({ case: "shutdownFramework", value: { frameworkId: { value: frameworkId } } }));
  }
  // One charge per framework: a re-registering fleet brings thousands of tasks.
  for (const [frameworkId, resources] of held) ctx.allocator.addAllocated(frameworkId, agent.id, resources);
}

/** A task of an unreachable agent is back with it, in the state the agent reports. */
function comeBack(ctx: Ctx, framework: FrameworkRecord, agent: AgentRecord, task: Task, state: TaskState): void {
  const taskId = task.taskId?.value ?? "";
  const status = masterStatus(
    taskId,
    state,
    Reason.AGENT_REREGISTERED,
    `Agent ${agent.id} re-registered`,
    ctx.now,
    agent.id,
  );
  // The framework was told TASK_UNREACHABLE (or TASK_LOST); a terminal state comes in the agent's own update.
  if (applyStatus(ctx, framework, task, status, "agent").ok && !isTerminalState(state))
    tell(ctx, framework, toFramework(framework, status));
}

/** A task the master never launched or forgot (it restarted): taken in as reported. */
function adopt(ctx: Ctx, framework: FrameworkRecord, agent: AgentRecord, reported: Task, announce: boolean): void {
  const taskId = reported.taskId?.value ?? "";
  framework.tasks.set(taskId, reported);
  agent.tasks.add(taskKey(framework.id, taskId));
  if (announce && !framework.recovered) {
    tell(
      ctx,
      framework,
      masterStatus(
        taskId,
        reported.state,
        Reason.AGENT_REREGISTERED,
        `Agent ${agent.id} re-registered`,
        ctx.now,
        agent.id,
      ),
    );
  }
}

/** A state an agent can report a task in. */
function sayable(state: TaskState): boolean {
  return isTerminalState(state) || adoptable(state);
}

function endedHere(ctx: Ctx, frameworkId: string, taskId: string): boolean {
  const framework = ctx.state.frameworks.get(frameworkId);
  return framework !== undefined && endedTask(framework, taskId) !== undefined;
}
