// The allocator: decides which framework is offered which agent's
// resources. Pure: the master calls it and sends what it proposes.

export { parseMinAllocatable, parseWeights, validateWeight } from "./config.js";
export { type AgentFacts, type AgentPredicate, compileOfferConstraints } from "./constraints.js";
export { createAllocator } from "./drf.js";
export { DRF_KINDS } from "./shares.js";
export type {
  Allocation,
  Allocator,
  AllocatorOptions,
  FrameworkRoles,
  ResourceConversion,
  RoleQuota,
  RoleSummary,
} from "./types.js";
