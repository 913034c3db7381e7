/**
 * Maintenance schedules (UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_SCHEDULE,
 * GET_MAINTENANCE_STATUS), validated as Mesos validates them and kept in the
 * registry. What the schedule drives in Mesos (inverse offers to frameworks,
 * START_MAINTENANCE taking machines down) is not built: every scheduled
 * machine reports as draining, none as down.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  type ClusterStatus,
  ClusterStatusSchema,
  type Schedule,
  ScheduleSchema,
} from "../../../gen/mesos/v1/maintenance/maintenance_pb.js";
import { type MachineID, MachineIDSchema } from "../../../gen/mesos/v1/mesos_pb.js";
import { type Ctx, persist } from "./context.js";
import { type CallError, ErrorCode } from "./events.js";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Mesos compares machines by hostname case-insensitively, and by IP. */
function machineKey(id: MachineID): string {
  return `${id.hostname.toLowerCase()}/${id.ip}`;
}

function describeMachine(id: MachineID): string {
  return JSON.stringify({ ...(id.hostname ? { hostname: id.hostname } : {}), ...(id.ip ? { ip: id.ip } : {}) });
}

/** Why the schedule is not acceptable, or undefined (the rules of Mesos' maintenance validation). */
export function validateSchedule(schedule: Schedule): string | undefined {
  const seen = new Set<string>();
  for (const window of schedule.windows) {
    if (window.machineIds.length === 0) return "List of machines in the maintenance window is empty";
    if (window.unavailability?.start === undefined) return "Every maintenance window needs 'unavailability.start'";
    if ((window.unavailability.duration?.nanoseconds ?? 0n) < 0n) return "Unavailability 'duration' is negative";
    for (const id of window.machineIds) {
      if (id.hostname === "" && id.ip === "") return "Both 'hostname' and 'ip' for a machine are empty";
      if (id.ip !== "" && !IPV4.test(id.ip)) return `Machine ${describeMachine(id)}: '${id.ip}' is not an IPv4 address`;
      if (seen.has(machineKey(id))) return `Machine '${describeMachine(id)}' appears more than once in the schedule`;
      seen.add(machineKey(id));
    }
  }
  return undefined;
}

/** UPDATE_MAINTENANCE_SCHEDULE: replaces the whole schedule. */
export function updateSchedule(ctx: Ctx, schedule: Schedule | undefined): CallError | undefined {
  if (schedule === undefined)
    return {
      code: ErrorCode.INVALID_ARGUMENT,
      message: "Expecting 'update_maintenance_schedule.schedule' to be present",
    };
  const problem = validateSchedule(schedule);
  if (problem !== undefined) return { code: ErrorCode.INVALID_ARGUMENT, message: problem };
  const next = clone(ScheduleSchema, schedule);
  // Stored as Mesos stores machine ids: hostnames in lower case.
  for (const window of next.windows) for (const id of window.machineIds) id.hostname = id.hostname.toLowerCase();
  ctx.state.maintenanceSchedule = next;
  persist(ctx, { kind: "update-maintenance-schedule", schedule: next });
  return undefined;
}

/** GET_MAINTENANCE_STATUS: every scheduled machine is draining (none is taken down yet). */
export function maintenanceStatus(ctx: Ctx): ClusterStatus {
  const machines = ctx.state.maintenanceSchedule.windows.flatMap((w) => w.machineIds);
  return create(ClusterStatusSchema, {
    drainingMachines: machines.map((id) => ({ id: clone(MachineIDSchema, id), statuses: [] })),
    downMachines: [],
  });
}
