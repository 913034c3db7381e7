// The allocator: decides which framework is offered which agent's
// resources. Pure: the master calls it and sends what it proposes.
export { createAllocator } from "./drf.js";
export type { Allocation, Allocator, AllocatorOptions, RoleSummary } from "./types.js";
