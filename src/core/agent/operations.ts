/**
 * Operations on the agent's resources (RESERVE, UNRESERVE, CREATE, DESTROY),
 * sent by the master after it applied them to its own view. The agent
 * applies each to its total at once, has the shell make or remove volume
 * directories and checkpoint, and answers the master when that is done:
 *
 *   ApplyOperation ──► total updated, apply-operation effect
 *                          │ shell: volumes, checkpoint
 *                          ▼
 *                   operationApplied ──► OPERATION_FINISHED to the master
 *                          │ (the shell failed)
 *                          ▼
 *                   total restored, checkpointed again ──► OPERATION_FAILED
 */
import {
  type Offer_Operation,
  OperationState,
  Offer_Operation_Type as OperationType,
  type Resource,
} from "../../../gen/mesos/v1/mesos_pb.js";
import {
  applyConversion,
  type Conversion,
  conversionOf,
  formatResources,
  isCheckpointed,
  persistentVolumes,
  reservationRole,
} from "../resources/index.js";
import { type AgentEffect, toMaster, type VolumeLink } from "./effects.js";
import type { AgentState } from "./state.js";

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Where a persistent volume lives: `<work_dir>/volumes/roles/<role>/<id>`,
 * with the `/` of a hierarchical role written as a space, as Mesos lays it
 * out, so sub-roles never nest inside a volume.
 */
export function volumePath(workDir: string, volume: Resource): string {
  const role = reservationRole(volume).replaceAll("/", " ");
  return [workDir.replace(/\/+$/, ""), "volumes", "roles", role, volume.disk?.persistence?.id ?? ""].join("/");
}

/** The volumes among a task's (and its executor's) resources, as links into its sandbox. */
export function volumeLinks(workDir: string, resources: Resource[]): VolumeLink[] {
  return [...persistentVolumes(resources).values()].map((v) => ({
    hostPath: volumePath(workDir, v),
    containerPath: v.disk?.volume?.containerPath ?? "",
  }));
}

/** What the agent checkpoints: the dynamic reservations and volumes in its total. */
export function checkpointedOf(total: Resource[]): Resource[] {
  return total.filter(isCheckpointed);
}

function status(
  frameworkId: string | undefined,
  uuid: Uint8Array,
  state: OperationState,
  message: string,
): AgentEffect {
  return toMaster({
    case: "operationStatus",
    value: {
      frameworkId: frameworkId === undefined ? undefined : { value: frameworkId },
      operationUuid: uuid,
      status: { state, message },
    },
  });
}

/** ApplyOperation from the master. */
export function applyOperation(
  s: AgentState,
  frameworkId: string | undefined,
  operation: Offer_Operation,
  uuid: Uint8Array,
): AgentEffect[] {
  const conversion = conversionOf(operation);
  if (typeof conversion === "string") return [status(frameworkId, uuid, OperationState.OPERATION_FAILED, conversion)];
  const total = applyConversion(s.total, conversion);
  if (total === undefined) {
    const message = `The agent does not have ${formatResources(conversion.consumed)} (it has ${formatResources(s.total)})`;
    return [status(frameworkId, uuid, OperationState.OPERATION_FAILED, message)];
  }
  s.total = total;
  s.operations.set(hex(uuid), { frameworkId, conversion });
  const volumes = (resources: Resource[]) =>
    [...persistentVolumes(resources).values()].map((v) => volumePath(s.options.workDir, v));
  return [
    {
      kind: "apply-operation",
      uuid,
      createVolumes: operation.type === OperationType.CREATE ? volumes(conversion.converted) : [],
      destroyVolumes: operation.type === OperationType.DESTROY ? volumes(conversion.consumed) : [],
      checkpointed: checkpointedOf(total),
    },
  ];
}

/** The shell carried out (or, with `error`, failed) an apply-operation effect. */
export function operationApplied(s: AgentState, uuid: Uint8Array, error?: string): AgentEffect[] {
  const pending = s.operations.get(hex(uuid));
  if (pending === undefined) return [];
  s.operations.delete(hex(uuid));
  if (error === undefined) return [status(pending.frameworkId, uuid, OperationState.OPERATION_FINISHED, "")];
  const reverse: Conversion = { consumed: pending.conversion.converted, converted: pending.conversion.consumed };
  s.total = applyConversion(s.total, reverse) ?? s.total;
  return [
    { kind: "checkpoint-resources", checkpointed: checkpointedOf(s.total) },
    status(pending.frameworkId, uuid, OperationState.OPERATION_FAILED, error),
  ];
}
