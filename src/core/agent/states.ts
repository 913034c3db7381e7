/**
 * The status updates the agent itself generates (as opposed to those its
 * executors send). Task states and their legal moves: ../task-lifecycle.ts.
 */
import { create } from "@bufbuild/protobuf";
import {
  type TaskState,
  type TaskStatus,
  type TaskStatus_Reason,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { type Millis, toSeconds } from "../clock.js";

/** What the agent says about a task in an update it generates. */
export interface AgentStatus {
  taskId: string;
  state: TaskState;
  reason: TaskStatus_Reason;
  message: string;
  agentId: string | undefined;
  executorId: string | undefined;
  /** 16 bytes; the shell's id source makes them. */
  uuid: Uint8Array;
  now: Millis;
}

/** A TaskStatus with source SOURCE_AGENT. */
export function agentStatus(s: AgentStatus): TaskStatus {
  return create(TaskStatusSchema, {
    taskId: { value: s.taskId },
    state: s.state,
    reason: s.reason,
    message: s.message,
    source: TaskStatus_Source.AGENT,
    agentId: s.agentId === undefined ? undefined : { value: s.agentId },
    executorId: s.executorId === undefined ? undefined : { value: s.executorId },
    timestamp: toSeconds(s.now),
    uuid: s.uuid,
  });
}

/** Text for a wait status as Mesos words it ("exited with status 3"). */
export function describeExit(status: { code: number | null; signal: string | null }): string {
  if (status.signal !== null) return `terminated with signal ${status.signal}`;
  return `exited with status ${status.code ?? "unknown"}`;
}

/** Encodes an exit as a POSIX wait status (code << 8, or the signal number). */
export function waitStatus(code: number | null, signalNumber: number | undefined): number {
  if (signalNumber !== undefined) return signalNumber & 0x7f;
  return ((code ?? 0) & 0xff) << 8;
}
