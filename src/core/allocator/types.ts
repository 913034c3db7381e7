import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";

export interface AllocatorOptions {
  /**
   * An agent's allocatable share is offered only if it reaches at least one
   * of these quantity sets (Mesos' --min_allocatable_resources); default
   * `cpus:0.01 | mem:32`.
   */
  minAllocatable?: Array<Map<string, number>>;
  /** Shuffles the agent order of each pass when given; stable order otherwise. */
  random?: () => number;
}

/** A proposal: offer `resources` (allocation_info.role set) on `agentId` to `frameworkId`. */
export interface Allocation {
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Resource[];
}

export interface RoleSummary {
  role: string;
  weight: number;
  frameworks: string[];
  allocated: Resource[];
}

export interface FrameworkRoles {
  roles: string[];
  suppressedRoles?: string[];
}

/**
 * Everything allocated (offered or in use by tasks) counts toward a
 * framework's and a role's dominant share until it is recovered.
 */
export interface Allocator {
  addAgent(agentId: string, total: Resource[]): void;
  removeAgent(agentId: string): void;
  addFramework(frameworkId: string, info: FrameworkRoles): void;
  updateFramework(frameworkId: string, info: FrameworkRoles): void;
  removeFramework(frameworkId: string): void;
  activateFramework(frameworkId: string): void;
  deactivateFramework(frameworkId: string): void;
  suppress(frameworkId: string, roles?: string[]): void;
  /** Unsuppresses (all roles, or the given ones) and drops the framework's filters. */
  revive(frameworkId: string, roles?: string[]): void;
  /** Resources given back; with a filter, the agent is not offered to the framework again before it expires. */
  recoverResources(frameworkId: string, agentId: string, resources: Resource[], filter?: { refuseSeconds: number; now: number }): void;
  /** Resources already in use (an agent re-registering with running tasks). */
  addAllocated(frameworkId: string, agentId: string, resources: Resource[]): void;
  setWeight(role: string, weight: number): void;
  allocate(now: number): Allocation[];
  roles(): RoleSummary[];
  agentAllocated(agentId: string): Resource[];
}
