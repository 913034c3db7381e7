import { clone } from "@bufbuild/protobuf";
import { ResourceSchema, type Resource } from "../../../gen/mesos/v1/mesos_pb.js";

/**
 * Why `role` is not a valid Mesos role name, or undefined. Hierarchical roles
 * use `/`; `*` alone is the default role.
 */
export function validateRole(role: string): string | undefined {
  if (role === "*") return undefined;
  if (role === "") return "role name is empty";
  if (role.startsWith("/") || role.endsWith("/")) return "role name must not start or end with '/'";
  if (role.startsWith("-")) return "role name must not start with '-'";
  if (/[\s\x00-\x1f\x7f]/.test(role)) return "role name must not contain whitespace or control characters";
  for (const part of role.split("/")) {
    if (part === "") return "role name must not contain '//'";
    if (part === "." || part === "..") return "role name must not have '.' or '..' components";
    if (part === "*") return "role name must not have a '*' component";
  }
  return undefined;
}

/** The role a resource is reserved for ("*" when unreserved): the innermost reservation. */
export function reservationRole(resource: Resource): string {
  const last = resource.reservations.at(-1);
  if (last !== undefined) return last.role === "" ? "*" : last.role;
  return resource.role === "" ? "*" : resource.role;
}

export function isReserved(resource: Resource): boolean {
  return reservationRole(resource) !== "*";
}

/** `ancestor` is `role` or one of its ancestors (`eng` for `eng/web`). */
export function isAncestorOrSelf(ancestor: string, role: string): boolean {
  return ancestor === role || role.startsWith(`${ancestor}/`);
}

/**
 * Whether a resource may be offered to `role`: unreserved resources go to
 * anyone; reserved ones to their role and its sub-roles.
 */
export function allocatableToRole(resource: Resource, role: string): boolean {
  const reserved = reservationRole(resource);
  return reserved === "*" || isAncestorOrSelf(reserved, role);
}

/** Copies with allocation_info.role set, as offers and tasks carry them. */
export function allocateTo(resources: Resource[], role: string): Resource[] {
  return resources.map((r) => {
    const copy = clone(ResourceSchema, r);
    copy.allocationInfo = { $typeName: "mesos.v1.Resource.AllocationInfo", role };
    return copy;
  });
}

/** Copies without allocation_info. */
export function unallocated(resources: Resource[]): Resource[] {
  return resources.map((r) => {
    const copy = clone(ResourceSchema, r);
    copy.allocationInfo = undefined;
    return copy;
  });
}
