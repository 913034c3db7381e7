import { create } from "@bufbuild/protobuf";
import {
  Resource_ReservationInfo_Type as ReservationType,
  type Resource,
  Resource_DiskInfoSchema,
  Resource_ReservationInfoSchema,
  Volume_Mode,
} from "../../gen/mesos/v1/mesos_pb.js";
import { parseResources } from "../../src/core/resources/index.js";

/** `text` with a dynamic reservation for `role` pushed on each resource. */
export function reserved(text: string, role: string, principal = ""): Resource[] {
  return parseResources(text).map((r) => {
    r.reservations = [
      ...r.reservations,
      create(Resource_ReservationInfoSchema, { type: ReservationType.DYNAMIC, role, principal }),
    ];
    return r;
  });
}

export function volume(role: string, id: string, containerPath: string, mb = 64): Resource[] {
  return reserved(`disk:${mb}`, role).map((r) => {
    r.disk = create(Resource_DiskInfoSchema, { persistence: { id }, volume: { mode: Volume_Mode.RW, containerPath } });
    return r;
  });
}
