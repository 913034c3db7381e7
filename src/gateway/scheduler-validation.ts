import { type Call, Call_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";

/**
 * The checks Mesos makes on a scheduler call before it reaches the master
 * (its `validation::scheduler::call::validate`, plus the fields its proto2
 * definitions mark `required`). A call that fails them is answered 400; one
 * that passes is 202 whatever the master then does with it, as in Mesos,
 * where e.g. an ACCEPT of a stale offer is answered with TASK_DROPPED
 * updates, not with an HTTP error. Returns the reason, or undefined.
 */
export function validateSchedulerCall(call: Call): string | undefined {
  if (call.type === Call_Type.UNKNOWN) return "Expecting 'type' to be present";
  const frameworkId = call.frameworkId?.value ?? "";
  if (call.type === Call_Type.SUBSCRIBE) {
    if (call.subscribe === undefined) return "Expecting 'subscribe' to be present";
    const info = call.subscribe.frameworkInfo;
    if (info === undefined) return "Not initialized: subscribe.framework_info";
    if ((info.id?.value ?? "") !== frameworkId) return "'framework_id' differs from 'subscribe.framework_info.id'";
    return undefined;
  }
  if (call.frameworkId === undefined) return "Expecting 'framework_id' to be present";
  const missing = (field: string) => `Expecting '${field}' to be present`;
  const uninitialized = (fields: [string, boolean][]) => {
    const absent = fields.filter(([, present]) => !present).map(([name]) => name);
    return absent.length === 0 ? undefined : `Not initialized: ${absent.join(", ")}`;
  };
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
      return uuidProblem(ack.uuid) ?? (ack.agentId === undefined ? missing("agent_id") : undefined);
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
      if ((update.frameworkInfo?.id?.value ?? "") !== frameworkId)
        return "'framework_id' differs from 'update_framework.framework_info.id'";
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Mesos parses status update uuids as 16-byte UUIDs. */
function uuidProblem(uuid: Uint8Array): string | undefined {
  return uuid.byteLength === 16 ? undefined : `Invalid UUID: expected 16 bytes, got ${uuid.byteLength}`;
}
