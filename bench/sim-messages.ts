/**
 * What a simulated agent writes, as framed gRPC bytes. Encoded once where
 * it does not change: HEARTBEAT is a constant, a status update is encoded
 * when it is made (and resent as those bytes), and an agent's Register is
 * kept as bytes until its tasks, frameworks or id change, so a failover
 * re-registers 10,000 unchanged agents without encoding 100,000 tasks.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AgentIDSchema,
  AgentInfoSchema,
  type FrameworkInfo,
  type Task,
  TaskState,
  TaskStatus_Source,
} from "../gen/mesos/v1/mesos_pb.js";
import { ConnectRequestSchema } from "../gen/mesos/v2/mesos_pb.js";
import { newCallId } from "../src/client/stream.js";
import { parseAttributes, parseResources } from "../src/core/resources/index.js";
import { frame } from "./grpc-frames.js";

export const SIM_AGENT_RESOURCES = "cpus:16;mem:65536;disk:100000;ports:[31000-32000]";
export const SIM_TASK_RESOURCES = "cpus:0.1;mem:32";

const agentResources = parseResources(SIM_AGENT_RESOURCES);

export const HEARTBEAT_FRAME = frame(
  toBinary(
    ConnectRequestSchema,
    create(ConnectRequestSchema, { call: { case: "agent", value: { call: { case: "heartbeat", value: {} } } } }),
  ),
);

/** What an agent registers with. */
export interface RegisterInput {
  index: number;
  /** Empty before the master gave it one. */
  agentId: string;
  tasks: Iterable<Task>;
  frameworks: Iterable<FrameworkInfo>;
  /** Mesos' text form (`rack:r1;zone:a`), or none. */
  attributes: string | undefined;
}

/** A Register request without its call id (see `registerFrame`). */
export function registerBody(input: RegisterInput): Uint8Array {
  const agentId = input.agentId === "" ? undefined : create(AgentIDSchema, { value: input.agentId });
  const tasks = [...input.tasks].map((task) => {
    task.agentId = agentId;
    return task;
  });
  const info = create(AgentInfoSchema, {
    hostname: `sim-agent-${input.index}`,
    // Never dialled: the simulated agent serves no executors.
    port: 0,
    resources: agentResources,
    attributes: input.attributes === undefined ? [] : parseAttributes(input.attributes),
    id: agentId,
  });
  const request = create(ConnectRequestSchema, {
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: { agentInfo: info, tasks, frameworks: [...input.frameworks], version: "sim" },
        },
      },
    },
  });
  return toBinary(ConnectRequestSchema, request);
}

/**
 * The Register as sent: a fresh call id, as the real agent gives each, in
 * front of the cached body (protobuf merges concatenated encodings).
 */
export function registerFrame(body: Uint8Array): Buffer {
  return frame(body, toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id: newCallId() })));
}

let uuidCounter = 0n;
/** Unique per process: the master keys acknowledgements by it. */
export function nextUuid(): Uint8Array {
  const uuid = new Uint8Array(16);
  new DataView(uuid.buffer).setBigUint64(8, ++uuidCounter);
  return uuid;
}

/** A status update from the task's executor, as the agent forwards it. */
export function statusUpdateFrame(
  agentId: string,
  frameworkId: string,
  task: Task,
  state: TaskState,
  uuid: Uint8Array,
): Buffer {
  const request = create(ConnectRequestSchema, {
    call: {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: { value: frameworkId },
            status: {
              taskId: task.taskId,
              agentId: { value: agentId },
              state,
              source: TaskStatus_Source.EXECUTOR,
              uuid,
              timestamp: Date.now() / 1000,
            },
          },
        },
      },
    },
  });
  return frame(toBinary(ConnectRequestSchema, request));
}

export const isTerminal = (state: TaskState): boolean =>
  state === TaskState.TASK_FINISHED ||
  state === TaskState.TASK_KILLED ||
  state === TaskState.TASK_FAILED ||
  state === TaskState.TASK_DROPPED;
