import { create, toBinary } from "@bufbuild/protobuf";
import {
  LabelsSchema,
  type Resource,
  Resource_DiskInfoSchema,
  type Resource_ReservationInfo,
  Resource_ReservationInfo_Type,
  Resource_ReservationInfoSchema,
} from "../../../gen/mesos/v1/mesos_pb.js";

/**
 * The reservation stack of a resource in the refined format, outermost first.
 * A resource in the deprecated format (`role` plus an optional `reservation`)
 * is read as a one-entry stack, so both formats compare equal. Empty means
 * unreserved. Never mutates `resource`.
 */
export function reservationStack(resource: Resource): Resource_ReservationInfo[] {
  if (resource.reservations.length > 0) return resource.reservations;
  const role = resource.role;
  if (role === "" || role === "*") return [];
  const legacy = resource.reservation;
  return [
    create(Resource_ReservationInfoSchema, {
      type: legacy === undefined ? Resource_ReservationInfo_Type.STATIC : Resource_ReservationInfo_Type.DYNAMIC,
      role,
      principal: legacy?.principal ?? "",
      labels: legacy?.labels,
    }),
  ];
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

function reservationKey(r: Resource_ReservationInfo): string[] {
  // Unset and empty principals mean the same; proto2 presence must not split kinds.
  return [
    String(r.type),
    r.role,
    r.principal,
    r.labels === undefined || r.labels.labels.length === 0 ? "" : b64(toBinary(LabelsSchema, r.labels)),
  ];
}

/**
 * A string equal for two resources exactly when they are the same kind and so
 * may be added together: name, type, reservation stack, disk info,
 * allocation role, shared, revocable and provider all equal. The value
 * (scalar, ranges, set) is not part of it.
 */
export function kindKey(resource: Resource): string {
  // Most resources are neither reserved, nor disks, nor shared, revocable or
  // from a provider: their key is cheap to make. It starts with \u0001, which
  // no JSON key below does, so the two forms never meet.
  if (
    resource.reservations.length === 0 &&
    (resource.role === "" || resource.role === "*") &&
    resource.disk === undefined &&
    resource.shared === undefined &&
    resource.revocable === undefined &&
    resource.providerId === undefined
  )
    return `\u0001${resource.name}\u0001${resource.type}\u0001${resource.allocationInfo?.role ?? ""}`;
  return JSON.stringify([
    resource.name,
    resource.type,
    reservationStack(resource).map(reservationKey),
    resource.disk === undefined ? "" : b64(toBinary(Resource_DiskInfoSchema, resource.disk)),
    resource.allocationInfo?.role ?? "",
    resource.shared !== undefined,
    resource.revocable !== undefined,
    resource.providerId?.value ?? "",
  ]);
}
