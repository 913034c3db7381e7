// The allocator: decides which framework is offered which agent's
// resources. Pure: the master calls it and sends what it proposes.
export { createAllocator } from "./drf.js";
export { DRF_KINDS } from "./shares.js";
export type { Allocation, Allocator, AllocatorOptions, FrameworkRoles, ResourceConversion, RoleQuota, RoleSummary } from "./types.js";
export { parseMinAllocatable, parseWeights, validateWeight } from "./config.js";
export { compileOfferConstraints, type AgentFacts, type AgentPredicate } from "./constraints.js";
