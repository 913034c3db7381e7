import { clearField, clone, create } from "@bufbuild/protobuf";
import {
  type Offer_Operation,
  Offer_Operation_Type as OperationType,
  Resource_ReservationInfo_Type as ReservationType,
  type Resource,
  Resource_DiskInfo_SourceSchema,
  Resource_DiskInfoSchema,
  ResourceSchema,
  Volume_Mode,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { addResources, containsResources, subtractResources } from "./arithmetic.js";
import { formatResources } from "./format.js";
import { reservationStack } from "./kind.js";
import { isAncestorOrSelf, reservationRole, validateRole } from "./roles.js";
import { validateResources } from "./validate.js";

/**
 * What an operation on resources turns into what: the agent's total (and
 * the offer it was made from) loses `consumed` and gains `converted`, which
 * are the same quantities in another shape.
 */
export interface Conversion {
  consumed: Resource[];
  converted: Resource[];
}

/** A copy in the refined reservation format (the stack in `reservations`), allocation_info kept. */
function refined(resource: Resource, stack = reservationStack(resource)): Resource {
  const copy = clone(ResourceSchema, resource);
  copy.reservations = stack.map((r) => r);
  copy.reservation = undefined;
  // Mesos refuses a resource that sets both the deprecated `role` and `reservations`.
  clearField(copy, ResourceSchema.field.role);
  return copy;
}

/** The resource with its innermost reservation removed. */
function popReservation(resource: Resource): Resource {
  return refined(resource, reservationStack(resource).slice(0, -1));
}

function isPersistentVolume(resource: Resource): boolean {
  return resource.disk?.persistence !== undefined;
}

/** The disk without its persistence and volume: what CREATE consumes and DESTROY gives back. */
function withoutVolume(resource: Resource): Resource {
  const copy = refined(resource);
  copy.disk = diskSourceOnly(resource);
  return copy;
}

/** Disk info keeping only the source (a MOUNT or PATH disk stays one); none when there is no source. */
function diskSourceOnly(resource: Resource): Resource["disk"] {
  const source = resource.disk?.source;
  return source === undefined
    ? undefined
    : create(Resource_DiskInfoSchema, { source: clone(Resource_DiskInfo_SourceSchema, source) });
}

function topIsDynamic(resource: Resource): boolean {
  return reservationStack(resource).at(-1)?.type === ReservationType.DYNAMIC;
}

function describe(resource: Resource): string {
  return formatResources([resource]);
}

/** Why a RESERVE's resources cannot be reserved as given, or undefined. */
function validateReserve(resources: Resource[]): string | undefined {
  if (resources.length === 0) return "RESERVE names no resources";
  for (const r of resources) {
    const stack = reservationStack(r);
    const top = stack.at(-1);
    if (top === undefined) return `RESERVE of ${describe(r)}: the resource carries no reservation to make`;
    if (top.type !== ReservationType.DYNAMIC) return `RESERVE of ${describe(r)}: the new reservation must be DYNAMIC`;
    const invalid = top.role === "*" ? "role '*' cannot be reserved for" : validateRole(top.role);
    if (invalid !== undefined) return `RESERVE of ${describe(r)}: ${invalid}`;
    const below = stack.at(-2);
    if (below !== undefined && (below.role === top.role || !isAncestorOrSelf(below.role, top.role))) {
      return `RESERVE of ${describe(r)}: a refined reservation must be for a sub-role of '${below.role}'`;
    }
    if (isPersistentVolume(r))
      return `RESERVE of ${describe(r)}: a persistent volume cannot be reserved; reserve the disk, then CREATE the volume`;
  }
  return undefined;
}

function validateUnreserve(resources: Resource[]): string | undefined {
  if (resources.length === 0) return "UNRESERVE names no resources";
  for (const r of resources) {
    if (!topIsDynamic(r)) return `UNRESERVE of ${describe(r)}: only a dynamic reservation can be undone`;
    if (isPersistentVolume(r))
      return `UNRESERVE of ${describe(r)}: the disk holds a persistent volume; DESTROY it first`;
  }
  return undefined;
}

function validateVolume(r: Resource, verb: string): string | undefined {
  const id = r.disk?.persistence?.id ?? "";
  if (r.name !== "disk") return `${verb} of ${describe(r)}: only disk resources can be persistent volumes`;
  if (id === "") return `${verb} of ${describe(r)}: disk.persistence.id is required`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
  if (/[\s/\x00-\x1f\x7f]/.test(id) || id === "." || id === "..")
    return `${verb}: persistence id '${id}' must not contain whitespace, control characters or '/', nor be '.' or '..'`;
  return undefined;
}

function validateCreate(volumes: Resource[]): string | undefined {
  if (volumes.length === 0) return "CREATE names no volumes";
  const ids = new Set<string>();
  for (const r of volumes) {
    const problem = validateVolume(r, "CREATE");
    if (problem !== undefined) return problem;
    const id = r.disk?.persistence?.id ?? "";
    if (ids.has(id)) return `CREATE: persistence id '${id}' appears more than once`;
    ids.add(id);
    const path = r.disk?.volume?.containerPath ?? "";
    if (path === "") return `CREATE of volume '${id}': disk.volume.container_path is required`;
    if (path.startsWith("/"))
      return `CREATE of volume '${id}': container_path '${path}' must be relative to the sandbox`;
    if (path.split("/").some((part) => part === ".."))
      return `CREATE of volume '${id}': container_path '${path}' must not contain '..'`;
    if (r.disk?.volume?.hostPath)
      return `CREATE of volume '${id}': host_path must not be set; the agent chooses where the volume lives`;
    if (r.disk?.volume?.mode === Volume_Mode.RO)
      return `CREATE of volume '${id}': persistent volumes are read-write (mode RW)`;
    if (reservationRole(r) === "*")
      return `CREATE of volume '${id}': persistent volumes can only be created on reserved disk`;
  }
  return undefined;
}

function validateDestroy(volumes: Resource[]): string | undefined {
  if (volumes.length === 0) return "DESTROY names no volumes";
  for (const r of volumes) {
    const problem = validateVolume(r, "DESTROY");
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * The conversion a RESERVE, UNRESERVE, CREATE or DESTROY stands for, or why
 * it is malformed. Whether the consumed resources are there is the caller's
 * check. Results are in the refined reservation format and keep
 * allocation_info.
 */
export function conversionOf(operation: Offer_Operation): Conversion | string {
  const given = [
    ...(operation.reserve?.resources ?? []),
    ...(operation.unreserve?.resources ?? []),
    ...(operation.create?.volumes ?? []),
    ...(operation.destroy?.volumes ?? []),
  ];
  // Negative, NaN or malformed amounts would create resources out of nothing.
  const invalid = validateResources(given);
  if (invalid !== undefined) return `${OperationType[operation.type] ?? operation.type}: invalid resources: ${invalid}`;
  switch (operation.type) {
    case OperationType.RESERVE: {
      const resources = operation.reserve?.resources ?? [];
      const problem = validateReserve(resources);
      if (problem !== undefined) return problem;
      return { consumed: resources.map(popReservation), converted: resources.map((r) => refined(r)) };
    }
    case OperationType.UNRESERVE: {
      const resources = operation.unreserve?.resources ?? [];
      const problem = validateUnreserve(resources);
      if (problem !== undefined) return problem;
      return { consumed: resources.map((r) => refined(r)), converted: resources.map(popReservation) };
    }
    case OperationType.CREATE: {
      const volumes = operation.create?.volumes ?? [];
      const problem = validateCreate(volumes);
      if (problem !== undefined) return problem;
      return { consumed: volumes.map(withoutVolume), converted: volumes.map((r) => refined(r)) };
    }
    case OperationType.DESTROY: {
      const volumes = operation.destroy?.volumes ?? [];
      const problem = validateDestroy(volumes);
      if (problem !== undefined) return problem;
      return { consumed: volumes.map((r) => refined(r)), converted: volumes.map(withoutVolume) };
    }
    default:
      return `Operation ${OperationType[operation.type] ?? operation.type} does not convert resources`;
  }
}

/** `resources` with the conversion applied, or undefined when they lack what it consumes. */
export function applyConversion(resources: Resource[], conversion: Conversion): Resource[] | undefined {
  if (!containsResources(resources, conversion.consumed)) return undefined;
  return addResources(subtractResources(resources, conversion.consumed), conversion.converted);
}

/**
 * Whether the resource exists only because of an operation: a dynamic
 * reservation somewhere in its stack, or a persistent volume. These are what
 * an agent checkpoints.
 */
export function isCheckpointed(resource: Resource): boolean {
  return isPersistentVolume(resource) || reservationStack(resource).some((r) => r.type === ReservationType.DYNAMIC);
}

/** What the agent's flags provide for a checkpointed resource: no dynamic reservations, no volume. */
function flagShape(resource: Resource): Resource {
  const stack = reservationStack(resource).filter((r) => r.type !== ReservationType.DYNAMIC);
  const copy = refined(resource, stack);
  copy.disk = diskSourceOnly(resource);
  return copy;
}

/**
 * An agent's total: its flag resources with the checkpointed dynamic
 * reservations and volumes applied, or why they no longer fit (the flags
 * shrank or changed under them).
 */
export function applyCheckpointed(flagResources: Resource[], checkpointed: Resource[]): Resource[] | string {
  // Most agents have checkpointed nothing.
  if (checkpointed.length === 0) return addResources([], flagResources);
  const consumed = checkpointed.map(flagShape);
  const total = applyConversion(addResources([], flagResources), { consumed, converted: checkpointed });
  if (total === undefined) {
    return `the checkpointed resources (${formatResources(checkpointed)}) do not fit in the agent's resources (${formatResources(flagResources)})`;
  }
  return total;
}

/** The persistent volumes among `resources`, by persistence id. */
export function persistentVolumes(resources: Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of resources) {
    const id = r.disk?.persistence?.id;
    if (id !== undefined && id !== "") out.set(id, r);
  }
  return out;
}
