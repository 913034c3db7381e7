import type { AgentInfo, ExecutorInfo, FrameworkInfo, Offer, Resource, Task } from "../../../gen/mesos/v1/mesos_pb.js";
import type { OfferConstraints } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import type { AgentPredicate } from "../allocator/index.js";
import type { Millis } from "../clock.js";

/** One client stream, named by the shell; the core never sees sockets. */
export type SessionId = string;

/**
 * A framework the master knows.
 *
 *   SUBSCRIBE ──> connected ──stream ends──> disconnected ──failover timeout──> removed
 *                    ^                            │
 *                    └──── SUBSCRIBE with id ─────┘          TEARDOWN ──> removed
 *
 * A removed framework is kept, with its completed tasks, among the master's
 * completed frameworks (the newest --max-completed-frameworks of them).
 */
export interface FrameworkRecord {
  id: string;
  info: FrameworkInfo;
  roles: string[];
  suppressedRoles: Set<string>;
  /** As subscribed, for the operator's view. */
  offerConstraints: OfferConstraints | undefined;
  /** The same, compiled: per role, the agents it may be offered. */
  offerFilters: Map<string, AgentPredicate>;
  /** The stream it is subscribed on; undefined while disconnected. */
  session: SessionId | undefined;
  registeredAt: Millis;
  reregisteredAt: Millis | undefined;
  disconnectedAt: Millis | undefined;
  /** When a disconnected framework is removed. */
  failoverDeadline: Millis | undefined;
  /** Known only from an agent's report (after a master restart); no scheduler yet. */
  recovered: boolean;
  /** Outstanding offer ids. */
  offers: Set<string>;
  /** Live tasks (on a registered agent, neither terminal nor unreachable) by task id. */
  tasks: Map<string, Task>;
  /**
   * Tasks on agents marked unreachable: they may come back. The newest
   * --max-unreachable-tasks-per-framework of them; older ones are forgotten.
   */
  unreachable: UnreachableTasks;
  /** Ended tasks, oldest first: the newest --max-completed-tasks-per-framework. */
  completed: Task[];
  /** When it was removed (TEARDOWN or failover timeout), for unregistered_time. */
  removedAt: Millis | undefined;
}

/**
 * A framework's tasks on unreachable agents, by task id and, for when an
 * agent comes back or is marked gone, by agent. Changed only through
 * task-bookkeeping.ts, which keeps the two in step.
 */
export interface UnreachableTasks {
  byId: Map<string, Task>;
  byAgent: Map<string, Set<string>>;
}

/**
 * An agent the master knows.
 *
 *   Register ──> connected ──stream ends──> disconnected ──reregister timeout──> removed
 *                   ^                            │
 *                   └────── Register with id ────┘
 */
export interface AgentRecord {
  id: string;
  info: AgentInfo;
  version: string;
  /** The address it serves on, as it said when registering ("" if it did not). */
  ip: string;
  session: SessionId | undefined;
  registeredAt: Millis;
  reregisteredAt: Millis | undefined;
  disconnectedAt: Millis | undefined;
  /** When the agent last said anything (any call, a heartbeat answer included). */
  lastSeenAt: Millis;
  total: Resource[];
  /** Keys (`framework/task`) of live tasks on this agent (see FrameworkRecord.tasks). */
  tasks: Set<string>;
  offers: Set<string>;
  /**
   * Tasks (`framework/task`) it reported ended when it last registered whose
   * terminal update has not passed through yet: it is still delivering their
   * updates, so a reconciliation waits for them rather than answer TASK_GONE.
   */
  ending?: Set<string>;
  /** Read from the registry at start and not re-registered since: its tasks are not known yet. */
  restored?: boolean;
  /** Executors by `framework/executor`. */
  executors: Map<string, { frameworkId: string; info: ExecutorInfo }>;
}

export interface OfferRecord {
  offer: Offer;
  /** When it was made, for --offer-timeout. */
  createdAt: Millis;
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Resource[];
}

/** Why a stream is being bound to a role. */
export type SessionRole =
  | { kind: "scheduler"; frameworkId: string }
  | { kind: "agent"; agentId: string }
  | { kind: "operator"; subscribed: boolean };

export function taskKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}/${taskId}`;
}

/** A `taskKey` back into its framework and task ids (framework ids hold no '/'). */
export function splitTaskKey(key: string): [frameworkId: string, taskId: string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}
