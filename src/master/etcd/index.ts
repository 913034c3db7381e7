export {
  createEtcdCoordinator,
  type EtcdCoordinator,
  type EtcdCoordinatorOptions,
  type LeaderWatch,
} from "./coordinator.js";
export { LeadershipLostError } from "./errors.js";
export type { Leadership } from "./leadership.js";
export { createMemoryElection, type MemoryElection } from "./memory-coordinator.js";
