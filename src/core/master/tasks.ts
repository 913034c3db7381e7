import { clone, create } from "@bufbuild/protobuf";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer_Operation,
  type Resource,
  type Task,
  type TaskInfo,
  TaskInfoSchema,
  TaskSchema,
  TaskState,
  type TaskStatus,
  TaskStatusSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { Call_Acknowledge, Call_Kill, Call_Reconcile } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type Millis, toTimeInfo } from "../clock.js";
import {
  addResources,
  allocateTo,
  containsResources,
  formatResources,
  subtractResources,
  validateResources,
} from "../resources/index.js";
import { isTerminalState, LAUNCH_STATE } from "../task-lifecycle.js";
import { broadcastOperators, type Ctx, send } from "./context.js";
import {
  agentEvent,
  agentIdOf,
  ErrorCode,
  errorEvent,
  masterStatus,
  OperatorEventType,
  operatorEvent,
  Reason,
  SchedulerEventType,
  schedulerEvent,
} from "./events.js";
import { hasCapability } from "./frameworks.js";
import { type FrameworkRecord, taskKey } from "./state.js";
import { applyStatus, countEnded, endedTask, toFramework } from "./task-bookkeeping.js";

/** Sends a master-made update for a task the framework asked about or for. */
function sendStatus(ctx: Ctx, framework: FrameworkRecord, status: TaskStatus): void {
  send(ctx, framework.session, schedulerEvent({ type: SchedulerEventType.UPDATE, update: { status } }));
}

/**
 * Launches that cannot proceed because their offers were invalid become
 * TASK_DROPPED for partition-aware frameworks and TASK_LOST otherwise, as in
 * Mesos.
 */
export function dropLaunches(
  ctx: Ctx,
  framework: FrameworkRecord,
  operations: Offer_Operation[],
  message: string,
): void {
  const state = hasCapability(framework.info, Capability.PARTITION_AWARE)
    ? TaskState.TASK_DROPPED
    : TaskState.TASK_LOST;
  for (const op of operations) {
    const tasks = [...(op.launch?.taskInfos ?? []), ...(op.launchGroup?.taskGroup?.tasks ?? [])];
    const reason = op.launchGroup !== undefined ? Reason.TASK_GROUP_INVALID : Reason.INVALID_OFFERS;
    for (const task of tasks) {
      countEnded(ctx, state);
      sendStatus(ctx, framework, masterStatus(task.taskId?.value ?? "", state, reason, message, ctx.now));
    }
  }
}

/** Why a task cannot launch from `available` on `agentId`, or undefined. */
function validateTask(
  framework: FrameworkRecord,
  task: TaskInfo,
  agentId: string,
  available: Resource[],
  launchedNow: Set<string>,
): string | undefined {
  const id = task.taskId?.value ?? "";
  if (id === "") return "Task has no task_id";
  if (/[\s/]/.test(id) || id === "." || id === "..")
    return `Task id '${id}' contains whitespace or '/', or is '.' or '..'`;
  // Unreachable tasks count: one may come back with its agent.
  if (framework.tasks.has(id) || launchedNow.has(id))
    return `Task id '${id}' is already in use by a live task of this framework`;
  const unreachable = framework.unreachable.byId.get(id);
  if (unreachable !== undefined)
    return `Task id '${id}' names a task on unreachable agent ${unreachable.agentId?.value ?? ""}, which may come back with it`;
  if (task.agentId?.value !== agentId)
    return `Task's agent_id '${task.agentId?.value ?? ""}' does not match the offer's agent ${agentId}`;
  const hasCommand = task.command !== undefined;
  const hasExecutor = task.executor !== undefined;
  if (hasCommand === hasExecutor) return "Task must set exactly one of 'command' and 'executor'";
  if (hasCommand && task.command?.shell === true && task.command.value === "") return "Shell command has no value";
  if (hasCommand && task.command?.shell === false && task.command.value === "")
    return "Command has no value (the program to run)";
  const invalid = validateResources([...task.resources, ...(task.executor?.resources ?? [])]);
  if (invalid !== undefined) return `Invalid resources: ${invalid}`;
  if (task.resources.length === 0) return "Task uses no resources";
  const wanted = addResources(task.resources, task.executor?.resources ?? []);
  if (!containsResources(available, wanted)) {
    return `Task uses more resources (${formatResources(wanted)}) than available in the offers (${formatResources(available)})`;
  }
  return undefined;
}

/** Gives resources without allocation_info the role they were offered to. */
function withRole(resources: Resource[], offered: Resource[]): Resource[] {
  const role = offered[0]?.allocationInfo?.role;
  if (role === undefined) return resources;
  const bare = resources.filter((r) => r.allocationInfo === undefined);
  const tagged = resources.filter((r) => r.allocationInfo !== undefined);
  return [...tagged, ...allocateTo(bare, role)];
}

/**
 * LAUNCH: validates each task against what is left of the offers; valid tasks
 * go to the agent in TASK_STAGING, invalid ones become TASK_ERROR.
 * Returns the resources left over.
 */
export function launchTasks(
  ctx: Ctx,
  framework: FrameworkRecord,
  agentId: string,
  infos: TaskInfo[],
  offered: Resource[],
): Resource[] {
  let available = offered;
  const launchedNow = new Set<string>();
  const agent = ctx.state.agents.get(agentId);
  for (const original of infos) {
    const info = clone(TaskInfoSchema, original);
    info.resources = withRole(info.resources, offered);
    if (info.executor !== undefined) info.executor.resources = withRole(info.executor.resources, offered);
    const problem = validateTask(framework, info, agentId, available, launchedNow);
    const taskId = info.taskId?.value ?? "";
    if (problem !== undefined || agent === undefined) {
      const message = problem ?? `Agent ${agentId} is not registered`;
      countEnded(ctx, TaskState.TASK_ERROR);
      sendStatus(
        ctx,
        framework,
        masterStatus(taskId, TaskState.TASK_ERROR, Reason.TASK_INVALID, message, ctx.now, agentId),
      );
      continue;
    }
    const used = addResources(info.resources, info.executor?.resources ?? []);
    available = subtractResources(available, used);
    launchedNow.add(taskId);
    const task = create(TaskSchema, {
      name: info.name,
      taskId: info.taskId,
      frameworkId: { value: framework.id },
      executorId: info.executor?.executorId,
      agentId: { value: agentId },
      state: LAUNCH_STATE,
      resources: used,
      labels: info.labels,
      killPolicy: info.killPolicy,
      user: info.command?.user || framework.info.user,
    });
    framework.tasks.set(taskId, task);
    agent.tasks.add(taskKey(framework.id, taskId));
    if (info.executor?.executorId !== undefined) {
      agent.executors.set(`${framework.id}/${info.executor.executorId.value}`, {
        frameworkId: framework.id,
        info: info.executor,
      });
    }
    send(ctx, agent.session, agentEvent({ case: "runTask", value: { frameworkInfo: framework.info, task: info } }));
    broadcastOperators(ctx, () => operatorEvent({ type: OperatorEventType.TASK_ADDED, taskAdded: { task } }));
  }
  return available;
}

/**
 * A status update from an agent: the master moves the task through its
 * lifecycle (recovering the resources of a task that ended) and forwards the
 * update to the scheduler. A move the lifecycle refuses (an update after the
 * master ended the task itself, say) leaves the master's view alone, but the
 * update is still forwarded, as Mesos does: the scheduler acknowledges the
 * agent's stream update by update, and the agent resends until it does. An
 * update for a disconnected scheduler is simply not forwarded now.
 */
export function statusUpdate(ctx: Ctx, agentId: string, frameworkId: string, status: TaskStatus): void {
  const taskId = status.taskId?.value ?? "";
  const framework = ctx.state.frameworks.get(frameworkId);
  const agent = ctx.state.agents.get(agentId);
  if (framework === undefined) {
    // Nobody will ever acknowledge it: acknowledge for the removed framework
    // so the agent stops resending.
    send(
      ctx,
      agent?.session,
      agentEvent({
        case: "acknowledge",
        value: { frameworkId: { value: frameworkId }, taskId: { value: taskId }, uuid: status.uuid },
      }),
    );
    return;
  }
  if (isTerminalState(status.state)) agent?.ending?.delete(taskKey(frameworkId, taskId));
  const task = framework.tasks.get(taskId);
  const stamped = clone(TaskStatusSchema, status);
  stamped.agentId = agentIdOf(agentId);
  // Only the agent the task runs on speaks for it.
  if (task !== undefined && task.agentId?.value === agentId) applyStatus(ctx, framework, task, stamped, "agent");
  sendStatus(ctx, framework, stamped);
}

/** ACKNOWLEDGE: relayed to the agent holding the update. */
export function acknowledge(ctx: Ctx, framework: FrameworkRecord, call: Call_Acknowledge, callId: string): void {
  const agentId = call.agentId?.value ?? "";
  const taskId = call.taskId?.value ?? "";
  if (agentId === "" || taskId === "" || call.uuid.length === 0) {
    send(
      ctx,
      framework.session,
      errorEvent({ code: ErrorCode.INVALID_ARGUMENT, message: "ACKNOWLEDGE needs agent_id, task_id and uuid" }, callId),
    );
    return;
  }
  const agent = ctx.state.agents.get(agentId);
  if (agent === undefined) {
    send(
      ctx,
      framework.session,
      errorEvent({ code: ErrorCode.NOT_FOUND, message: `Agent ${agentId} is not registered` }, callId),
    );
    return;
  }
  send(
    ctx,
    agent.session,
    agentEvent({
      case: "acknowledge",
      value: { frameworkId: { value: framework.id }, taskId: { value: taskId }, uuid: call.uuid },
    }),
  );
}

/**
 * KILL: forwarded to the task's agent. A task the master cannot reach (on an
 * unreachable agent, ended, unknown) is answered as a reconciliation, as
 * Mesos does.
 */
export function kill(ctx: Ctx, framework: FrameworkRecord, call: Call_Kill): void {
  const taskId = call.taskId?.value ?? "";
  const task = framework.tasks.get(taskId);
  const agent = ctx.state.agents.get(task?.agentId?.value ?? "");
  if (task === undefined || agent === undefined) {
    reconcileOne(ctx, framework, taskId, call.agentId?.value);
    return;
  }
  send(
    ctx,
    agent.session,
    agentEvent({
      case: "killTask",
      value: {
        frameworkId: { value: framework.id },
        taskId: { value: taskId },
        killPolicy: call.killPolicy ?? task.killPolicy,
      },
    }),
  );
}

/**
 * RECONCILE: explicit (named tasks) or implicit (no tasks: every live task;
 * as in Mesos, not the unreachable ones, which a framework that is not
 * partition-aware would hear as TASK_LOST again and again). Answers carry
 * no uuid and need no acknowledgement.
 */
export function reconcile(ctx: Ctx, framework: FrameworkRecord, call: Call_Reconcile): void {
  if (call.tasks.length === 0) {
    for (const task of framework.tasks.values()) sendStatus(ctx, framework, latestStatus(ctx, framework, task));
    return;
  }
  for (const entry of call.tasks) reconcileOne(ctx, framework, entry.taskId?.value ?? "", entry.agentId?.value);
}

/**
 * One task's reconciliation, by what the master knows of it and, when it
 * does not know the task, of the agent the framework names (Mesos'
 * `_reconcileTasks` cases):
 *
 *   task held (live or unreachable)   its latest state
 *   its agent reported it ended and   nothing yet: those updates say how, in
 *     is still delivering its updates   order (an answer now could overtake a
 *                                       TASK_RUNNING among them)
 *   task ended here (still listed)    its terminal state
 *   agent registered                  TASK_GONE: the agent does not have it
 *   agent named by the registry,      nothing yet: the agent may still bring it
 *     not re-registered yet, or no
 *     agent named while any is so
 *   agent unreachable                 TASK_UNREACHABLE, with the time it became so
 *   agent gone                        TASK_GONE_BY_OPERATOR
 *   agent unknown or not named        TASK_UNKNOWN
 *
 * (TASK_LOST for the last four to frameworks that are not partition-aware.)
 */
function reconcileOne(ctx: Ctx, framework: FrameworkRecord, taskId: string, agentId: string | undefined): void {
  const task = framework.tasks.get(taskId) ?? framework.unreachable.byId.get(taskId);
  if (task !== undefined) {
    sendStatus(ctx, framework, latestStatus(ctx, framework, task));
    return;
  }
  const completed = endedTask(framework, taskId);
  // Its agent reported it ended and is still delivering its updates: they
  // say how, in order; an answer now could overtake them.
  const reportedBy = ctx.state.agents.get(completed?.agentId?.value ?? agentId ?? "");
  if (reportedBy?.ending?.has(taskKey(framework.id, taskId)) === true) return;
  if (completed !== undefined) {
    sendStatus(ctx, framework, latestStatus(ctx, framework, completed));
    return;
  }
  const answer = (state: TaskState, message: string, since?: Millis) => {
    const status = masterStatus(taskId, state, Reason.RECONCILIATION, message, ctx.now, agentId);
    if (since !== undefined) status.unreachableTime = toTimeInfo(since);
    sendStatus(ctx, framework, toFramework(framework, status));
  };
  const id = agentId ?? "";
  const agent = ctx.state.agents.get(id);
  const unreachableSince = ctx.state.unreachableAgents.get(id);
  const goneSince = ctx.state.goneAgents.get(id);
  const waitingForAgents = () => [...ctx.state.agents.values()].some((a) => a.restored === true);
  if (agent?.restored === true || (id === "" && waitingForAgents())) return;
  if (agent !== undefined) answer(TaskState.TASK_GONE, "Reconciliation: task is unknown to the agent");
  else if (unreachableSince !== undefined)
    answer(TaskState.TASK_UNREACHABLE, "Reconciliation: task is unreachable", unreachableSince);
  else if (goneSince !== undefined) answer(TaskState.TASK_GONE_BY_OPERATOR, "Reconciliation: task is gone", goneSince);
  else answer(TaskState.TASK_UNKNOWN, "Reconciliation: task is unknown");
}

/** A reconciliation answer: the task's state as the master holds it, in words the framework knows. */
function latestStatus(ctx: Ctx, framework: FrameworkRecord, task: Task): TaskStatus {
  const status = task.statuses.at(-1);
  const message = status?.message ?? "";
  const s = masterStatus(
    task.taskId?.value ?? "",
    task.state,
    Reason.RECONCILIATION,
    message,
    ctx.now,
    task.agentId?.value,
  );
  s.healthy = status?.healthy ?? false;
  const unreachableSince = ctx.state.unreachableAgents.get(task.agentId?.value ?? "");
  if (task.state === TaskState.TASK_UNREACHABLE && unreachableSince !== undefined)
    s.unreachableTime = toTimeInfo(unreachableSince);
  return toFramework(framework, s);
}
