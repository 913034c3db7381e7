import { isFieldSet } from "@bufbuild/protobuf";
import { type Call, Call_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import { TaskState, TaskStatus_Source, TaskStatusSchema } from "../../gen/mesos/v1/mesos_pb.js";

/**
 * The checks Mesos' agent makes on an executor call before acting on it
 * (its `validateExecutorCall`); a failure is answered 400. Returns the
 * reason, or undefined.
 */
export function validateExecutorCall(call: Call): string | undefined {
  if (call.type === Call_Type.UNKNOWN) return "Expecting 'type' to be present";
  if (call.executorId === undefined) return "Expecting 'executor_id' to be present";
  if (call.frameworkId === undefined) return "Expecting 'framework_id' to be present";
  const executorId = call.executorId.value;
  const frameworkId = call.frameworkId.value;
  switch (call.type) {
    case Call_Type.SUBSCRIBE:
      return call.subscribe === undefined ? "Expecting 'subscribe' to be present" : undefined;
    case Call_Type.UPDATE: {
      const status = call.update?.status;
      if (call.update === undefined) return "Expecting 'update' to be present";
      if (status === undefined) return "Not initialized: update.status";
      if (!isFieldSet(status, TaskStatusSchema.field.uuid)) return "Expecting 'uuid' to be present";
      if (status.uuid.byteLength !== 16) return `Invalid UUID: expected 16 bytes, got ${status.uuid.byteLength}`;
      if (status.executorId !== undefined && status.executorId.value !== executorId) {
        return `ExecutorID in Call: ${executorId} does not match ExecutorID in TaskStatus: ${status.executorId.value}`;
      }
      if (status.source !== TaskStatus_Source.EXECUTOR) {
        return `Received Call from executor ${executorId} of framework ${frameworkId} with invalid source, expecting 'SOURCE_EXECUTOR'`;
      }
      if (status.state === TaskState.TASK_STAGING)
        return `Received TASK_STAGING from executor ${executorId} of framework ${frameworkId} which is not allowed`;
      return undefined;
    }
    case Call_Type.MESSAGE:
      return call.message === undefined ? "Expecting 'message' to be present" : undefined;
    default:
      return undefined;
  }
}
