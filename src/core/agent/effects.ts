/**
 * What the agent core asks its shell to do. Handlers return these as data;
 * the shell performs them in order.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { EventSchema, type Event as ExecutorEvent } from "../../../gen/mesos/v1/executor/executor_pb.js";
import type { ExecutorInfo, FrameworkInfo, Resource, TaskStatus } from "../../../gen/mesos/v1/mesos_pb.js";
import { type AgentCall, AgentCallSchema } from "../../../gen/mesos/v2/mesos_pb.js";
import type { ExecutorKind } from "./state.js";

/** Everything the shell needs to start an executor. */
export interface ExecutorLaunch {
  frameworkId: string;
  executorId: string;
  containerId: string;
  sandbox: string;
  agentId: string;
  kind: ExecutorKind;
  info: ExecutorInfo;
  frameworkInfo: FrameworkInfo | undefined;
}

/** One thing for the shell to do. */
export type AgentEffect =
  /** Create the sandbox and start the executor (hosted or a process). */
  | { kind: "launch-executor"; launch: ExecutorLaunch }
  /** Deliver an event on the executor's stream (dropped if not connected). */
  | { kind: "to-executor"; frameworkId: string; executorId: string; event: ExecutorEvent }
  /** Send a call on the master stream (dropped if not connected). */
  | { kind: "to-master"; call: AgentCall }
  /**
   * Make sure the executor's process is gone: at once if it never
   * subscribed, else after `graceMs` if it has not ended by itself. The
   * shell reports the end through `executorExited`.
   */
  | { kind: "stop-executor"; frameworkId: string; executorId: string; graceMs: number }
  /**
   * Make each volume reachable at `containerPath` inside the sandbox (a
   * link to its directory under the work dir), creating the sandbox if
   * needed. Comes before the task reaches its executor.
   */
  | { kind: "link-volumes"; sandbox: string; volumes: VolumeLink[] }
  /**
   * Carry out an operation on the agent's resources: create the new volume
   * directories, delete the destroyed ones, then checkpoint `checkpointed`
   * (atomically). The shell answers with `operationApplied`.
   */
  | {
      kind: "apply-operation";
      uuid: Uint8Array;
      createVolumes: string[];
      destroyVolumes: string[];
      checkpointed: Resource[];
    }
  /** Checkpoint the agent's dynamic reservations and volumes (after a failed operation was undone). */
  | { kind: "checkpoint-resources"; checkpointed: Resource[] };

/** A persistent volume as a task sees it. */
export interface VolumeLink {
  /** The volume's directory under the agent's work dir. */
  hostPath: string;
  /** Relative to the sandbox. */
  containerPath: string;
}

/** A to-executor effect from an event init. */
export function toExecutor(
  frameworkId: string,
  executorId: string,
  event: MessageInitShape<typeof EventSchema>,
): AgentEffect {
  return { kind: "to-executor", frameworkId, executorId, event: create(EventSchema, event) };
}

/** A to-master effect from an AgentCall init. */
export function toMaster(call: MessageInitShape<typeof AgentCallSchema>["call"]): AgentEffect {
  return { kind: "to-master", call: create(AgentCallSchema, { call }) };
}

/** A to-master StatusUpdate effect. */
export function statusUpdateEffect(frameworkId: string, status: TaskStatus): AgentEffect {
  return toMaster({ case: "statusUpdate", value: { frameworkId: { value: frameworkId }, status } });
}
