/**
 * The agent's bookkeeping: frameworks, executors and the tasks each runs.
 *
 * An executor's lifecycle:
 *
 *   RunTask ──► launching ──executor SUBSCRIBEs──► running
 *                  │                                  │ ShutdownExecutor /
 *                  │ killed before subscribing,       │ ShutdownFramework
 *                  │ launch failed                    ▼
 *                  │                              terminating
 *                  ▼                                  │
 *               (process ends) ◄──────────────────────┘
 *                  │
 *                  ▼
 *   ExecutorExited to the master; tasks without a terminal update get
 *   TASK_FAILED (or TASK_KILLED if a kill was asked for); the record moves
 *   to its framework's completed executors (history.ts).
 *
 * A task lives in `tasks` from RunTask until the master acknowledges its
 * terminal status update, so re-registration reports it until then.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  AgentIDSchema,
  type AgentInfo,
  AgentInfoSchema,
  type ExecutorInfo,
  type FrameworkInfo,
  type KillPolicy,
  type Resource,
  type TaskInfo,
  type TaskState,
} from "../../../gen/mesos/v1/mesos_pb.js";
import type { IdSource } from "../clock.js";
import type { Conversion } from "../resources/index.js";
import type { AgentHistory } from "./history.js";
import type { StatusUpdateStreams } from "./status-update-stream.js";

/** Where an executor is in its lifecycle (see the diagram above). */
export type ExecutorPhase = "launching" | "running" | "terminating";

/** How the agent runs an executor. */
export type ExecutorKind =
  /** Our command executor, hosted by the executor host process. */
  | "command"
  /** The framework's own ExecutorInfo.command, spawned as a process. */
  | "custom";

/** One executor on this agent. */
export interface ExecutorRecord {
  frameworkId: string;
  executorId: string;
  containerId: string;
  sandbox: string;
  kind: ExecutorKind;
  info: ExecutorInfo;
  phase: ExecutorPhase;
  /** Tasks to LAUNCH once the executor subscribes. */
  queued: TaskInfo[];
  /** Ids of every task this executor holds (queued, running, or awaiting ack). */
  tasks: Set<string>;
  /** Tasks whose terminal update was acknowledged, oldest first (bounded; history.ts). */
  completedTasks: TaskRecord[];
}

/** One task on this agent. */
export interface TaskRecord {
  frameworkId: string;
  executorId: string;
  info: TaskInfo;
  /** Latest state the agent knows (from the newest status update). */
  state: TaskState;
  /** A kill was asked for: an executor exit then reports TASK_KILLED. */
  killRequested: boolean;
  killPolicy: KillPolicy | undefined;
}

/** Fixed inputs of the core. */
export interface AgentCoreOptions {
  workDir: string;
  /** hostname, port, resources, attributes; the id is filled on registration. */
  agentInfo: AgentInfo;
  version: string;
  /** Container ids. */
  ids: IdSource;
  /** 16-byte uuids for updates the agent generates. */
  uuid: () => Uint8Array;
  /**
   * Dynamic reservations and volumes checkpointed by an earlier run, already
   * checked to fit in agentInfo.resources (see applyCheckpointed).
   */
  checkpointedResources?: Resource[];
  /** Status update resend bounds; Mesos' 10 s .. 10 min when absent. */
  updateRetry?: { minMs?: number; maxMs?: number };
  /** Exited executors remembered per framework (Mesos' --max_completed_executors_per_framework, 150). */
  maxCompletedExecutorsPerFramework?: number;
}

/** Everything the core knows. Mutated only by the handlers. */
export interface AgentState {
  options: AgentCoreOptions;
  agentId: string | undefined;
  /** Registered with the master on the current stream. */
  connected: boolean;
  frameworks: Map<string, FrameworkInfo>;
  /** Keyed by `executorKey`. */
  executors: Map<string, ExecutorRecord>;
  /** Keyed by `taskKey`. */
  tasks: Map<string, TaskRecord>;
  updates: StatusUpdateStreams;
  /** agentInfo.resources with the dynamic reservations and volumes applied. */
  total: Resource[];
  /** Operations applied to `total` whose shell work is not done yet, by uuid (hex). */
  operations: Map<string, { frameworkId: string | undefined; conversion: Conversion }>;
  /** Completed executors and frameworks, for the operator's view. */
  history: AgentHistory;
}

/** Map key of an executor. */
export function executorKey(frameworkId: string, executorId: string): string {
  return `${frameworkId}/${executorId}`;
}

/** Map key of a task. */
export function taskKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}/${taskId}`;
}

/** The Mesos sandbox layout under the work dir. */
export function sandboxPath(
  workDir: string,
  ids: { agentId: string; frameworkId: string; executorId: string; containerId: string },
): string {
  return [
    workDir.replace(/\/+$/, ""),
    "slaves",
    ids.agentId,
    "frameworks",
    ids.frameworkId,
    "executors",
    ids.executorId,
    "runs",
    ids.containerId,
  ].join("/");
}

/** The agent's AgentInfo with its id (once the master gave it one). */
export function agentInfoWithId(s: AgentState): AgentInfo {
  const info = clone(AgentInfoSchema, s.options.agentInfo);
  if (s.agentId !== undefined) info.id = create(AgentIDSchema, { value: s.agentId });
  return info;
}
