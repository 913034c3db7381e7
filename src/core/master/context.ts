import type { Schedule } from "../../../gen/mesos/v1/maintenance/maintenance_pb.js";
import type { AgentInfo, MasterInfo, TaskState } from "../../../gen/mesos/v1/mesos_pb.js";
import type { QuotaConfig } from "../../../gen/mesos/v1/quota/quota_pb.js";
import type { ConnectResponse } from "../../../gen/mesos/v2/mesos_pb.js";
import type { Allocator } from "../allocator/index.js";
import type { IdSource, Millis } from "../clock.js";
import type { RegistryOperation } from "../registry/registry.js";
import type { CallError } from "./events.js";
import type { PendingOperation } from "./operations.js";
import type { AgentRecord, FrameworkRecord, OfferRecord, SessionId, SessionRole } from "./state.js";

/** What the shell must do after a handler returns. */
export type Effect =
  | { kind: "send"; session: SessionId; response: ConnectResponse }
  /** End the stream once what was sent before has been flushed. */
  | { kind: "end"; session: SessionId; error?: CallError }
  /**
   * Store this change in the registry. The shell holds back every later
   * effect (answers included) until it is stored, so nothing is
   * acknowledged that a restart could lose.
   */
  | { kind: "persist"; operation: RegistryOperation };

export interface MasterCoreOptions {
  info: MasterInfo;
  heartbeatIntervalSeconds: number;
  /** How long a restarted master waits for the agents its registry names. */
  agentReregisterTimeoutSeconds: number;
  /**
   * Agents are pinged this often (Mesos' --agent_ping_timeout, default 15 s);
   * one silent, or disconnected, for maxAgentPingTimeouts pings (default 5)
   * is marked unreachable.
   */
  agentPingTimeoutSeconds?: number;
  maxAgentPingTimeouts?: number;
  /** Offers held longer are rescinded; undefined: never (Mesos' default). */
  offerTimeoutSeconds?: number;
  /** Flags as the operator's GET_FLAGS shows them. */
  flags: Record<string, string>;
  version: string;
  /** When the running code was built (seconds, and Mesos' date text), for GET_VERSION. */
  build?: { time: number; date: string };
  /**
   * The host's own numbers (Mesos' system/* metrics) for GET_METRICS, read by
   * the shell when asked: they are not the master's to compute. Tests leave it out.
   */
  systemMetrics?: () => Record<string, number>;
  /**
   * How much history the master keeps for the views (Mesos'
   * --max_completed_frameworks, --max_completed_tasks_per_framework and
   * --max_unreachable_tasks_per_framework; defaults in task-bookkeeping.ts).
   */
  maxCompletedFrameworks?: number;
  maxCompletedTasksPerFramework?: number;
  maxUnreachableTasksPerFramework?: number;
  /** Unreachable and gone agents older than this are forgotten (Mesos --registry_max_agent_age; default two weeks). */
  registryMaxAgentAgeSeconds?: number;
  /** At most this many unreachable, and as many gone, agents are remembered (Mesos --registry_max_agent_count). */
  registryMaxAgentCount?: number;
}

/** All the master's in-memory bookkeeping. */
export interface MasterState {
  frameworks: Map<string, FrameworkRecord>;
  agents: Map<string, AgentRecord>;
  /**
   * Agent ids by the address they registered from (agents.ts
   * `addressKey`): a new agent finds a disconnected one it replaces
   * without scanning every agent, which made a fleet's registration
   * quadratic.
   */
  agentsByAddress: Map<string, Set<string>>;
  offers: Map<string, OfferRecord>;
  sessions: Map<SessionId, SessionRole>;
  /**
   * Sessions that subscribed as operators (some may have ended since:
   * `sessions` decides), so that an event nobody listens to costs nothing:
   * an agent fleet registering must not scan every session per agent.
   */
  operatorSubscribers: Set<SessionId>;
  /** Removed frameworks with their completed tasks, oldest first (bounded). */
  completedFrameworks: FrameworkRecord[];
  /** The maintenance schedule (UPDATE_MAINTENANCE_SCHEDULE). */
  maintenanceSchedule: Schedule;
  /** Agents marked unreachable, and when; they may come back. */
  unreachableAgents: Map<string, Millis>;
  /**
   * What each unreachable agent offered when it was last admitted: one that
   * comes back offering something else must be allowed it by its
   * reconfiguration policy (agent-compatibility.ts).
   */
  unreachableAgentInfos: Map<string, AgentInfo>;
  /** Agents the operator marked gone, and when; they never come back. */
  goneAgents: Map<string, Millis>;
  /** Resource operations sent to agents and not yet answered, by uuid. */
  operations: Map<string, PendingOperation>;
  /**
   * How many tasks reached each terminal state since this master started
   * leading (Mesos' master/tasks_finished and friends): counters, so they
   * do not drop when history forgets a task.
   */
  endedTasks: Map<TaskState, number>;
  /** Quota by role, as UPDATE_QUOTA set it (guarantees and limits). */
  quotas: Map<string, QuotaConfig>;
  startedAt: Millis;
  /**
   * Resources were freed or a framework became interested since the last
   * pass over changed agents: the shell runs one soon, without waiting for
   * the interval, and a burst of such events shares it.
   */
  allocationRequested: boolean;
}

/** The state and collaborators one handler works with; `out` collects effects. */
export interface Ctx {
  state: MasterState;
  allocator: Allocator;
  ids: IdSource;
  options: MasterCoreOptions;
  now: Millis;
  out: Effect[];
}

/** Asks the shell to store a registry change before anything that follows it goes out. */
export function persist(ctx: Ctx, operation: RegistryOperation): void {
  ctx.out.push({ kind: "persist", operation });
}

/** Asks for a pass over the agents that changed soon (see `MasterState.allocationRequested`). */
export function requestAllocation(ctx: Ctx): void {
  ctx.state.allocationRequested = true;
}

export function send(ctx: Ctx, session: SessionId | undefined, response: ConnectResponse): void {
  if (session !== undefined) ctx.out.push({ kind: "send", session, response });
}

/**
 * Sends an operator event to every operator stream that subscribed; the
 * event is built (`event()`) only if one did.
 */
export function broadcastOperators(ctx: Ctx, event: () => ConnectResponse): void {
  if (ctx.state.operatorSubscribers.size === 0) return;
  let response: ConnectResponse | undefined;
  for (const session of ctx.state.operatorSubscribers) {
    const role = ctx.state.sessions.get(session);
    if (role?.kind !== "operator" || !role.subscribed) {
      ctx.state.operatorSubscribers.delete(session);
      continue;
    }
    response ??= event();
    send(ctx, session, response);
  }
}
