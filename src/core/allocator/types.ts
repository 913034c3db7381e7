import type { Resource } from "../../../gen/mesos/v1/mesos_pb.js";
import type { AgentFacts, AgentPredicate } from "./constraints.js";
import type { RoleQuota } from "./quota-ledger.js";

export type { RoleQuota } from "./quota-ledger.js";

/** How an allocator is built. */
export interface AllocatorOptions {
  /**
   * An agent's resources allocatable to a role are offered only if they reach
   * every quantity in at least one of these sets (Mesos'
   * --min_allocatable_resources). Default: `cpus >= 0.01` or `mem >= 32`.
   */
  minAllocatable?: Array<Map<string, number>>;
  /** Shuffles the agent order of each pass when given (values in [0, 1)); sorted by id otherwise. */
  random?: () => number;
  /**
   * Builds the DRF order anew for every pass instead of keeping it between
   * passes and moving only what changed. Same offers, slower: for tests
   * that check the kept order against a full recompute.
   */
  fullRecompute?: boolean;
}

/**
 * A proposal: offer `resources` on `agentId` to `frameworkId` for `role`.
 * Every resource carries allocation_info.role = `role` and is reserved to
 * nobody or to `role` or one of its ancestors. The resources stay charged to
 * the framework until recovered. The Resource messages (except sets and
 * reserved, disk, shared, revocable or provider resources) and their
 * nested messages (scalar, ranges, allocation_info, an empty reservations
 * list) may be shared between proposals and are frozen: replace them in
 * the list, never change them in place.
 */
export interface Allocation {
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Resource[];
}

/** What an operation on resources (RESERVE, UNRESERVE, CREATE, DESTROY) turns into what. */
export interface ResourceConversion {
  consumed: Resource[];
  converted: Resource[];
}

/** One role as operators see it; `allocated` has no allocation_info. */
export interface RoleSummary {
  role: string;
  weight: number;
  frameworks: string[];
  allocated: Resource[];
}

/** The roles a framework subscribes with, and those it wants no offers for. */
export interface FrameworkRoles {
  roles: string[];
  suppressedRoles?: string[];
  /** Per role, which agents the framework may be offered (its offer constraints). */
  offerFilters?: Map<string, AgentPredicate>;
}

/**
 * Decides who is offered what. It never sends anything: the master calls it
 * and gets proposals back, which it re-checks before committing.
 *
 * Invariants: everything allocated (offered or used by tasks) counts toward
 * its framework's and role's dominant share until recovered; an agent's
 * resources are never offered twice nor beyond its total; reserved resources
 * go only to their role and its descendants. Calls naming unknown agents or
 * frameworks are ignored unless stated otherwise.
 */
export interface Allocator {
  /** Adds an agent with all of `total` free; re-adding an agent replaces it and forgets its allocations. */
  /** `facts` (hostname, attributes, domain) are what offer constraints test. */
  addAgent(agentId: string, total: Resource[], facts?: AgentFacts): void;
  /** Forgets the agent and everything allocated on it. */
  removeAgent(agentId: string): void;
  /** Adds an active framework; adding a known id acts as updateFramework. */
  addFramework(frameworkId: string, info: FrameworkRoles): void;
  /** Replaces the framework's roles (and suppressed roles, when given); keeps its allocations and filters. */
  updateFramework(frameworkId: string, info: FrameworkRoles): void;
  /** Forgets the framework; its allocations become free. */
  removeFramework(frameworkId: string): void;
  activateFramework(frameworkId: string): void;
  /** Inactive (disconnected) frameworks keep their allocations but get no offers. */
  deactivateFramework(frameworkId: string): void;
  /** No offers for these roles (all its current roles when omitted) until revived. */
  suppress(frameworkId: string, roles?: string[]): void;
  /** Unsuppresses (all roles, or the given ones) and drops all the framework's filters. */
  revive(frameworkId: string, roles?: string[]): void;
  /**
   * Resources given back (offer declined or rescinded, task ended, launch
   * used less). With a positive filter, the agent is not offered to the
   * framework again before `now + refuseSeconds * 1000`. Resources without
   * allocation_info are charged against the framework's first role.
   */
  recoverResources(
    frameworkId: string,
    agentId: string,
    resources: Resource[],
    filter?: { refuseSeconds: number; now: number },
  ): void;
  /** Resources already in use (an agent re-registering with running tasks); roles as in recoverResources. */
  addAllocated(frameworkId: string, agentId: string, resources: Resource[]): void;
  /**
   * Converts resources on an agent in place (a reservation made or undone, a
   * volume created or destroyed): the agent's total loses `consumed` and
   * gains `converted`, which must be the same quantities. With a framework,
   * `consumed` is taken from what it holds (from its offer; roles as in
   * recoverResources) and it then holds `converted` in the same role;
   * without one, `consumed` must be free. Returns false and changes nothing
   * when the agent, framework or resources are not there.
   */
  convertResources(agentId: string, conversion: ResourceConversion, frameworkId?: string): boolean;
  /** Sets a role's weight (default 1); throws RangeError unless finite and > 0. */
  setWeight(role: string, weight: number): void;
  /**
   * Quota limits of a role: it and its sub-roles together are never offered
   * more than this of each named scalar (an empty map removes them).
   */
  setLimits(role: string, limits: ReadonlyMap<string, number>): void;
  /**
   * A role's quota, Mesos 1.9+ semantics (empty maps remove it). Its
   * consumed quota is what it and its sub-roles hold plus their unallocated
   * reservations. Each pass first offers roles below their guarantees
   * resources toward them (in DRF order); then it offers the rest by DRF
   * while holding back enough unreserved resources (headroom) to still meet
   * every unmet guarantee. Limits cap both stages; reservations are always
   * offered to their roles. Throws RangeError on a negative or NaN amount.
   */
  setQuota(role: string, quota: RoleQuota): void;
  /** The role's quota as last set (empty maps when none). */
  quota(role: string): RoleQuota;
  /** One allocation pass at time `now` (ms): what to offer. */
  allocate(now: number): Allocation[];
  /**
   * A pass over only the agents whose free resources changed since the last
   * pass (resources recovered, agent added), or over all of them when the
   * demand side changed (framework added, activated, revived or removed;
   * weights). For reacting to events without waiting for the interval.
   */
  allocateChanged(now: number): Allocation[];
  /** Per role (with frameworks, allocations or a weight), sorted by name. */
  roles(): RoleSummary[];
  /** Everything allocated on the agent, without allocation_info. */
  agentAllocated(agentId: string): Resource[];
}
