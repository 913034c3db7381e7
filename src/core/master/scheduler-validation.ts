/**
 * The checks Mesos makes on a scheduler call before the master acts on it
 * (its `validation::scheduler::call::validate`, plus the fields its proto2
 * definitions mark `required`). Both APIs run this one function: the core
 * refuses a failing call with INVALID_ARGUMENT on any stream, and the v1
 * gateway calls it first to answer 400, as Mesos does, before it looks up
 * the framework and the stream id. A call that passes is 202 on v1 whatever
 * the master then does with it (an ACCEPT of a stale offer is answered with
 * TASK_DROPPED updates, not with an HTTP error).
 */
import { type Call, Call_Type } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";

/** Returns why the call is invalid, or undefined. */
export function validateSchedulerCall(call: Call): string | undefined {
  if (call.type === Call_Type.UNKNOWN) return "Expecting 'type' to be present";
  if (call.type === Call_Type.SUBSCRIBE) return validateSubscribe(call);
  if (call.frameworkId === undefined) return "Expecting 'framework_id' to be present";
  switch (call.type) {
    case Call_Type.ACCEPT:
      return call.accept === undefined ? missing("accept") : undefined;
    case Call_Type.DECLINE:
      return call.decline === undefined ? missing("decline") : undefined;
    case Call_Type.ACCEPT_INVERSE_OFFERS:
      return call.acceptInverseOffers === undefined ? missing("accept_inverse_offers") : undefined;
    case Call_Type.DECLINE_INVERSE_OFFERS:
      return call.declineInverseOffers === undefined ? missing("decline_inverse_offers") : undefined;
    case Call_Type.KILL:
      if (call.kill === undefined) return missing("kill");
      return uninitialized([["kill.task_id", call.kill.taskId !== undefined]]);
    case Call_Type.SHUTDOWN:
      if (call.shutdown === undefined) return missing("shutdown");
      return uninitialized([
        ["shutdown.executor_id", call.shutdown.executorId !== undefined],
        ["shutdown.agent_id", call.shutdown.agentId !== undefined],
      ]);
    case Call_Type.ACKNOWLEDGE: {
      const ack = call.acknowledge;
      if (ack === undefined) return missing("acknowledge");
      return (
        uninitialized([
          ["acknowledge.agent_id", ack.agentId !== undefined],
          ["acknowledge.task_id", ack.taskId !== undefined],
        ]) ?? uuidProblem(ack.uuid)
      );
    }
    case Call_Type.ACKNOWLEDGE_OPERATION_STATUS: {
      const ack = call.acknowledgeOperationStatus;
      if (ack === undefined) return missing("acknowledge_operation_status");
      return (
        uninitialized([["acknowledge_operation_status.operation_id", ack.operationId !== undefined]]) ??
        uuidProblem(ack.uuid) ??
        (ack.agentId === undefined ? missing("agent_id") : undefined)
      );
    }
    case Call_Type.RECONCILE:
      if (call.reconcile === undefined) return missing("reconcile");
      return uninitialized(
        call.reconcile.tasks.map((t, i) => [`reconcile.tasks[${i}].task_id`, t.taskId !== undefined]),
      );
    case Call_Type.RECONCILE_OPERATIONS:
      return call.reconcileOperations === undefined ? missing("reconcile_operations") : undefined;
    case Call_Type.MESSAGE:
      if (call.message === undefined) return missing("message");
      return uninitialized([
        ["message.agent_id", call.message.agentId !== undefined],
        ["message.executor_id", call.message.executorId !== undefined],
      ]);
    case Call_Type.REQUEST:
      return call.request === undefined ? missing("request") : undefined;
    case Call_Type.UPDATE_FRAMEWORK: {
      const update = call.updateFramework;
      if (update === undefined) return missing("update_framework");
      if ((update.frameworkInfo?.id?.value ?? "") !== call.frameworkId.value)
        return "'framework_id' differs from 'update_framework.framework_info.id'";
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * FrameworkInfo's `user` and `name` are proto2 `required`: Mesos cannot
 * even parse a SUBSCRIBE without them. Proto3 JSON leaves an absent string
 * empty, so empty counts as missing.
 */
function validateSubscribe(call: Call): string | undefined {
  if (call.subscribe === undefined) return missing("subscribe");
  const info = call.subscribe.frameworkInfo;
  if (info === undefined) return "Not initialized: subscribe.framework_info";
  const absent = uninitialized([
    ["subscribe.framework_info.user", info.user !== ""],
    ["subscribe.framework_info.name", info.name !== ""],
  ]);
  if (absent !== undefined) return absent;
  if ((info.id?.value ?? "") !== (call.frameworkId?.value ?? ""))
    return "'framework_id' differs from 'subscribe.framework_info.id'";
  return undefined;
}

const missing = (field: string): string => `Expecting '${field}' to be present`;

function uninitialized(fields: [string, boolean][]): string | undefined {
  const absent = fields.filter(([, present]) => !present).map(([name]) => name);
  return absent.length === 0 ? undefined : `Not initialized: ${absent.join(", ")}`;
}

/** Mesos parses status and operation uuids as 16-byte UUIDs. */
function uuidProblem(uuid: Uint8Array): string | undefined {
  return uuid.byteLength === 16 ? undefined : `Invalid UUID: expected 16 bytes, got ${uuid.byteLength}`;
}
