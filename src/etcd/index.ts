export { createEtcdClient, type EtcdTlsFiles } from "./client.js";
export {
  createLeaderFollower,
  followLeaderOn,
  type LeaderFollower,
  type LeaderFollowerOptions,
} from "./leader-follower.js";
export type { AnnouncedLeader, LeaderWatch } from "./leader-watch.js";
export { type EtcdUrl, parseEtcdUrl } from "./url.js";
