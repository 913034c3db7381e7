import { clone, create } from "@bufbuild/protobuf";
import { type Resource, Resource_AllocationInfoSchema, ResourceSchema } from "../../../gen/mesos/v1/mesos_pb.js";
import { reservationStack } from "./kind.js";

/**
 * Why `role` is not a valid Mesos role name, or undefined. `*` alone is the
 * default role; hierarchical roles separate components with `/`, and no
 * component may be empty, `.`, `..` or `*`.
 */
export function validateRole(role: string): string | undefined {
  if (role === "*") return undefined;
  if (role === "") return "role name is empty";
  if (role.startsWith("/") || role.endsWith("/")) return `role '${role}' must not start or end with '/'`;
  if (role.startsWith("-")) return `role '${role}' must not start with '-'`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
  if (/[\s\x00-\x1f\x7f]/.test(role)) return `role '${role}' must not contain whitespace or control characters`;
  for (const part of role.split("/")) {
    if (part === "") return `role '${role}' must not contain '//'`;
    if (part === "." || part === "..") return `role '${role}' must not have '.' or '..' components`;
    if (part === "*") return `role '${role}' must not have a '*' component`;
  }
  return undefined;
}

/**
 * The role a resource is reserved for, "*" when unreserved: the innermost
 * (last) entry of `reservations`, else the deprecated `role` field.
 */
export function reservationRole(resource: Resource): string {
  const last = reservationStack(resource).at(-1);
  return last === undefined || last.role === "" ? "*" : last.role;
}

/** Whether the resource carries any reservation. */
export function isReserved(resource: Resource): boolean {
  return reservationRole(resource) !== "*";
}

/** `ancestor` is `role` itself or one of its ancestors (`eng` for `eng/web`, not for `engineering`). */
export function isAncestorOrSelf(ancestor: string, role: string): boolean {
  return ancestor === role || role.startsWith(`${ancestor}/`);
}

/**
 * Whether a resource may be offered to `role`: unreserved resources to any
 * role; reserved ones to their role and its descendants (an `eng`
 * reservation is allocatable to `eng/web`), never to siblings or ancestors.
 */
export function allocatableToRole(resource: Resource, role: string): boolean {
  const reserved = reservationRole(resource);
  return reserved === "*" || isAncestorOrSelf(reserved, role);
}

/** Copies with allocation_info.role set to `role`, as offers and tasks carry them. */
export function allocateTo(resources: Resource[], role: string): Resource[] {
  return resources.map((r) => {
    const copy = clone(ResourceSchema, r);
    copy.allocationInfo = create(Resource_AllocationInfoSchema, { role });
    return copy;
  });
}

/** Copies with allocation_info cleared. */
export function unallocated(resources: Resource[]): Resource[] {
  return resources.map((r) => {
    const copy = clone(ResourceSchema, r);
    copy.allocationInfo = undefined;
    return copy;
  });
}
