/**
 * A registry operation as a `plateau.registry.v1.Operation` message and
 * back: what the embedded registry appends to its log. Decoding is the
 * inverse of encoding for every kind; times keep whole milliseconds, which
 * is all the registry keeps of them (toTimeInfo).
 */
import { create } from "@bufbuild/protobuf";
import type { TimeInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { type Operation, OperationSchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import { type Millis, toTimeInfo } from "../clock.js";
import type { RegistryOperation } from "./registry.js";

/** Whole milliseconds; `Number(nanoseconds)` alone would lose them past 2^53 ns (year 1970 + 104 days). */
const toMillis = (time: TimeInfo | undefined): Millis =>
  time === undefined ? 0 : Number(time.nanoseconds / 1_000_000n) + Number(time.nanoseconds % 1_000_000n) / 1e6;

/** The operation as a message (sharing the operation's messages: do not mutate either). */
export function encodeRegistryOperation(operation: RegistryOperation): Operation {
  const of = (value: Operation["operation"]): Operation => create(OperationSchema, { operation: value });
  switch (operation.kind) {
    case "update-weights":
      return of({
        case: "updateWeights",
        value: { $typeName: "plateau.registry.v1.Operation.UpdateWeights", weights: operation.weights },
      });
    case "update-quota":
      return of({
        case: "updateQuota",
        value: { $typeName: "plateau.registry.v1.Operation.UpdateQuota", configs: operation.configs },
      });
    case "admit-agent":
      return of({
        case: "admitAgent",
        value: { $typeName: "plateau.registry.v1.Operation.AdmitAgent", info: operation.info },
      });
    case "mark-agent-unreachable":
    case "mark-agent-gone":
      return of({
        case: operation.kind === "mark-agent-gone" ? "markAgentGone" : "markAgentUnreachable",
        value: {
          $typeName: "plateau.registry.v1.Operation.MarkAgent",
          agentId: operation.agentId,
          time: toTimeInfo(operation.time),
        },
      });
    case "remove-agent":
      return of({
        case: "removeAgent",
        value: { $typeName: "plateau.registry.v1.Operation.RemoveAgent", agentId: operation.agentId },
      });
    case "prune-agents":
      return of({
        case: "pruneAgents",
        value: {
          $typeName: "plateau.registry.v1.Operation.PruneAgents",
          unreachableAgentIds: operation.unreachable,
          goneAgentIds: operation.gone,
        },
      });
    case "add-framework":
      return of({
        case: "addFramework",
        value: { $typeName: "plateau.registry.v1.Operation.AddFramework", info: operation.info },
      });
    case "framework-disconnected":
      return of({
        case: "frameworkDisconnected",
        value: {
          $typeName: "plateau.registry.v1.Operation.FrameworkDisconnected",
          frameworkId: operation.frameworkId,
          time: operation.time === undefined ? undefined : toTimeInfo(operation.time),
        },
      });
    case "remove-framework":
      return of({
        case: "removeFramework",
        value: { $typeName: "plateau.registry.v1.Operation.RemoveFramework", frameworkId: operation.frameworkId },
      });
    case "start-term":
      return of({ case: "startTerm", value: { $typeName: "plateau.registry.v1.Operation.StartTerm" } });
    case "update-maintenance-schedule":
      return of({
        case: "updateMaintenanceSchedule",
        value: { $typeName: "plateau.registry.v1.Operation.UpdateMaintenanceSchedule", schedule: operation.schedule },
      });
  }
}

/**
 * The operation a message holds, or a reason it holds none that this
 * master knows (no case set, or a required message missing): a log record
 * like that is corrupt, or written by a newer master.
 */
export function decodeRegistryOperation(message: Operation): RegistryOperation | { error: string } {
  const { operation } = message;
  switch (operation.case) {
    case "updateWeights":
      return { kind: "update-weights", weights: operation.value.weights };
    case "updateQuota":
      return { kind: "update-quota", configs: operation.value.configs };
    case "admitAgent":
      return operation.value.info === undefined
        ? { error: "admit_agent without info" }
        : { kind: "admit-agent", info: operation.value.info };
    case "markAgentUnreachable":
      return { kind: "mark-agent-unreachable", agentId: operation.value.agentId, time: toMillis(operation.value.time) };
    case "markAgentGone":
      return { kind: "mark-agent-gone", agentId: operation.value.agentId, time: toMillis(operation.value.time) };
    case "removeAgent":
      return { kind: "remove-agent", agentId: operation.value.agentId };
    case "pruneAgents":
      return {
        kind: "prune-agents",
        unreachable: operation.value.unreachableAgentIds,
        gone: operation.value.goneAgentIds,
      };
    case "addFramework":
      return operation.value.info === undefined
        ? { error: "add_framework without info" }
        : { kind: "add-framework", info: operation.value.info };
    case "frameworkDisconnected": {
      const { frameworkId, time } = operation.value;
      return { kind: "framework-disconnected", frameworkId, time: time === undefined ? undefined : toMillis(time) };
    }
    case "removeFramework":
      return { kind: "remove-framework", frameworkId: operation.value.frameworkId };
    case "startTerm":
      return { kind: "start-term" };
    case "updateMaintenanceSchedule":
      return operation.value.schedule === undefined
        ? { error: "update_maintenance_schedule without a schedule" }
        : { kind: "update-maintenance-schedule", schedule: operation.value.schedule };
    case undefined:
      return { error: "an operation of no kind this master knows" };
  }
}
