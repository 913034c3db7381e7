/**
 * The agent's decisions, free of I/O: the shell feeds it master events,
 * executor calls and executor exits (each with `now`) and performs the
 * effects it returns. See state.ts for the executor lifecycle and
 * status-update-stream.ts for reliable delivery.
 *
 *   master stream:  registered / disconnected / runTask / killTask /
 *                   reconcileTasks / acknowledge / shutdownFramework / shutdownExecutor /
 *                   applyOperation (see operations.ts)
 *   executors:      subscribed / update / message / exited
 *   timer:          tick (resend due status updates)
 *   shell:          operationApplied (volumes made, resources checkpointed)
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Call_Subscribe,
  Event_Type,
  EventSchema,
  type Event as ExecutorEvent,
} from "../../../gen/mesos/v1/executor/executor_pb.js";
import {
  type FrameworkInfo,
  type KillPolicy,
  type Offer_Operation,
  type Resource,
  type Task,
  type TaskInfo,
  TaskSchema,
  type TaskStatus,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { AgentCall_RegisterSchema } from "../../../gen/mesos/v2/mesos_pb.js";
import type { Millis } from "../clock.js";
import { addResources, applyCheckpointed } from "../resources/index.js";
import { type AgentEffect, toMaster } from "./effects.js";
import {
  type ExecutorExit,
  executorExited,
  executorSubscribed,
  type SubscribeRefusal,
  shutdownExecutor,
  shutdownFramework,
} from "./executors.js";
import { emptyHistory } from "./history.js";
import { applyOperation, checkpointedOf, operationApplied } from "./operations.js";
import { type AgentCoreOptions, type AgentState, agentInfoWithId, executorKey } from "./state.js";
import { createStatusUpdateStreams } from "./status-update-stream.js";
import { acknowledge, executorUpdate, flush, killTask, reconcileTasks, runTask } from "./tasks.js";

export type { AgentEffect, ExecutorLaunch, VolumeLink } from "./effects.js";
export type { ExecutorExit, SubscribeRefusal } from "./executors.js";
export type { CompletedFramework } from "./history.js";
export { volumePath } from "./operations.js";
export type { AgentCoreOptions, ExecutorRecord, TaskRecord } from "./state.js";

/** The agent core. Every handler returns the effects for the shell. */
export interface AgentCore {
  readonly agentId: string | undefined;
  /** The Register call for the master: agent info, tasks, executors, frameworks. */
  registration(): MessageInitShape<typeof AgentCall_RegisterSchema>;
  /** The master accepted the registration: pending updates go out again. */
  registered(agentId: string, now: Millis): AgentEffect[];
  /** The master stream dropped: updates wait until the next registration. */
  disconnected(): void;
  runTask(framework: FrameworkInfo, task: TaskInfo, now: Millis): AgentEffect[];
  killTask(frameworkId: string, taskId: string, policy: KillPolicy | undefined, now: Millis): AgentEffect[];
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array, now: Millis): AgentEffect[];
  shutdownFramework(frameworkId: string, now: Millis): AgentEffect[];
  shutdownExecutor(frameworkId: string, executorId: string, now: Millis): AgentEffect[];
  /** Tasks the master holds here that the registration did not list. */
  reconcileTasks(framework: FrameworkInfo, taskIds: string[], now: Millis): AgentEffect[];
  /** A message from the scheduler for an executor. */
  frameworkMessage(frameworkId: string, executorId: string, data: Uint8Array): AgentEffect[];
  /** The framework subscribed again: its unacknowledged updates go out now. */
  resendUpdates(frameworkId: string, now: Millis): AgentEffect[];
  executorSubscribed(
    frameworkId: string,
    executorId: string,
    subscribe: Call_Subscribe | undefined,
    now: Millis,
  ): { effects: AgentEffect[]; refusal?: SubscribeRefusal };
  executorUpdate(
    frameworkId: string,
    executorId: string,
    status: TaskStatus,
    now: Millis,
  ): { effects: AgentEffect[]; error?: string };
  executorMessage(frameworkId: string, executorId: string, data: Uint8Array): AgentEffect[];
  executorExited(frameworkId: string, executorId: string, exit: ExecutorExit, now: Millis): AgentEffect[];
  /** The master's ApplyOperation (framework id unset for operator calls). */
  applyOperation(frameworkId: string | undefined, operation: Offer_Operation, uuid: Uint8Array): AgentEffect[];
  /** The shell finished (or, with `error`, failed) an apply-operation effect. */
  operationApplied(uuid: Uint8Array, error?: string): AgentEffect[];
  /** Status updates whose resend time has come. */
  tick(now: Millis): AgentEffect[];
  /** When `tick` next has work; undefined when nothing waits. */
  nextTickAt(): Millis | undefined;
  /** A read-only view, for tests and operator endpoints. */
  readonly state: Readonly<AgentState>;
}

/** Creates a core with no tasks; `agentId` when recovered from the work dir. */
export function createAgentCore(options: AgentCoreOptions, agentId?: string): AgentCore {
  const s: AgentState = {
    options,
    agentId,
    connected: false,
    frameworks: new Map(),
    executors: new Map(),
    tasks: new Map(),
    updates: createStatusUpdateStreams(options.updateRetry),
    total: initialTotal(options),
    operations: new Map(),
    history: emptyHistory(),
  };

  const reportedTasks = (): Task[] =>
    [...s.tasks.values()].map((t) => {
      const latest = s.updates.latest(t.frameworkId, t.info.taskId?.value ?? "");
      return create(TaskSchema, {
        name: t.info.name,
        taskId: t.info.taskId,
        frameworkId: { value: t.frameworkId },
        executorId: { value: t.executorId },
        agentId: s.agentId === undefined ? undefined : { value: s.agentId },
        state: t.state,
        resources: t.info.resources,
        statuses: latest === undefined ? [] : [latest],
        statusUpdateState: latest?.state,
        statusUpdateUuid: latest?.uuid,
        labels: t.info.labels,
        killPolicy: t.info.killPolicy,
      });
    });

  return {
    get agentId() {
      return s.agentId;
    },
    state: s,
    registration: () => ({
      agentInfo: agentInfoWithId(s),
      tasks: reportedTasks(),
      executors: [...s.executors.values()].map((e) => e.info),
      frameworks: [...s.frameworks.values()],
      version: options.version,
      checkpointedResources: checkpointedOf(s.total),
    }),
    registered(id, now) {
      s.agentId = id;
      s.connected = true;
      s.updates.resetBackoff(now);
      return flush(s, now);
    },
    disconnected() {
      s.connected = false;
    },
    resendUpdates(frameworkId, now) {
      s.updates.resetBackoff(now, frameworkId);
      return flush(s, now);
    },
    runTask: (framework, task, now) => runTask(s, framework, task, now),
    killTask: (frameworkId, taskId, policy, now) => killTask(s, frameworkId, taskId, policy, now),
    acknowledge: (frameworkId, taskId, uuid, now) => acknowledge(s, frameworkId, taskId, uuid, now),
    shutdownFramework: (frameworkId, now) => shutdownFramework(s, frameworkId, now),
    reconcileTasks: (framework, taskIds, now) => reconcileTasks(s, framework, taskIds, now),
    shutdownExecutor(frameworkId, executorId, now) {
      const executor = s.executors.get(executorKey(frameworkId, executorId));
      return executor === undefined ? [] : shutdownExecutor(s, executor, now);
    },
    frameworkMessage(frameworkId, executorId, data) {
      const executor = s.executors.get(executorKey(frameworkId, executorId));
      if (executor?.phase !== "running") return [];
      return [{ kind: "to-executor", frameworkId, executorId, event: messageEvent(data) }];
    },
    executorSubscribed: (frameworkId, executorId, subscribe, now) =>
      executorSubscribed(s, frameworkId, executorId, subscribe, now),
    executorUpdate: (frameworkId, executorId, status, now) => executorUpdate(s, frameworkId, executorId, status, now),
    executorMessage: (frameworkId, executorId, data) => [
      toMaster({
        case: "frameworkMessage",
        value: { frameworkId: { value: frameworkId }, executorId: { value: executorId }, data },
      }),
    ],
    executorExited: (frameworkId, executorId, exit, now) => executorExited(s, frameworkId, executorId, exit, now),
    applyOperation: (frameworkId, operation, uuid) => applyOperation(s, frameworkId, operation, uuid),
    operationApplied: (uuid, error) => operationApplied(s, uuid, error),
    tick: (now) => flush(s, now),
    nextTickAt: () => (s.connected ? s.updates.nextDueAt() : undefined),
  };
}

/** The flag resources with the checkpointed ones applied; the shell has checked that they fit. */
function initialTotal(options: AgentCoreOptions): Resource[] {
  const total = applyCheckpointed(options.agentInfo.resources, options.checkpointedResources ?? []);
  return typeof total === "string" ? addResources([], options.agentInfo.resources) : total;
}

function messageEvent(data: Uint8Array): ExecutorEvent {
  return create(EventSchema, { type: Event_Type.MESSAGE, message: { data } });
}
