/**
 * One term as leader: the core, the sessions, the effect runner, the timers
 * and the v1 gateway. All of it is made when the term starts and dropped
 * when it ends, so a master that lost the lead keeps nothing a later term
 * could trip over.
 */
import type { ConnectError } from "@connectrpc/connect";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import { createAllocator, parseMinAllocatable, parseWeights } from "../core/allocator/index.js";
import { createMasterCore, type MasterCore } from "../core/master/master-core.js";
import { createMasterGateway, type MasterGateway } from "../gateway/master-gateway.js";
import type { Logger } from "../log.js";
import { systemMetrics } from "../util/system-metrics.js";
import type { Timers } from "../util/timers.js";
import { buildInfo, VERSION } from "../version.js";
import type { Term } from "./election.js";
import { flagsOf, masterIds } from "./master-info.js";
import type { MasterOptions } from "./options.js";
import { createSessionTable, type SessionTable } from "./sessions.js";
import { createTermRunner, type TermRunner } from "./term.js";

export interface Leading {
  readonly core: MasterCore;
  readonly sessions: SessionTable;
  readonly runner: TermRunner;
  readonly gateway: MasterGateway;
  /** Stops serving as leader at once: timers cleared, waiting calls refused, every stream ended with `error` (resolves once their readers stopped). */
  stop(error: ConnectError): Promise<void>;
}

export interface LeadOptions {
  options: MasterOptions;
  info: MasterInfo;
  term: Term;
  timers: Timers;
  logger: Logger;
  /** A registry write failed: the term is over (the daemon steps down). */
  onRegistryFailure(error: unknown): void;
}

export function lead({ options, info, term, timers, logger, onRegistryFailure }: LeadOptions): Leading {
  const allocator = createAllocator({
    minAllocatable:
      options.minAllocatableResources === undefined ? undefined : parseMinAllocatable(options.minAllocatableResources),
  });
  for (const [role, weight] of parseWeights(options.weights ?? "")) allocator.setWeight(role, weight);
  const core = createMasterCore({
    allocator,
    ids: masterIds(`${info.id}-${term.epoch}`),
    now: timers.now(),
    registry: term.registry.current,
    options: {
      info,
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds,
      agentReregisterTimeoutSeconds: options.agentReregisterTimeoutSeconds,
      agentPingTimeoutSeconds: options.agentPingTimeoutSeconds,
      maxAgentPingTimeouts: options.maxAgentPingTimeouts,
      offerTimeoutSeconds: options.offerTimeoutSeconds,
      maxCompletedFrameworks: options.maxCompletedFrameworks,
      maxCompletedTasksPerFramework: options.maxCompletedTasksPerFramework,
      maxUnreachableTasksPerFramework: options.maxUnreachableTasksPerFramework,
      registryMaxAgentAgeSeconds: options.registryMaxAgentAgeSeconds,
      registryMaxAgentCount: options.registryMaxAgentCount,
      flags: flagsOf(options),
      version: VERSION,
      build: buildInfo(),
      systemMetrics,
    },
  });
  // The table and the runner need each other: the table hands calls to the
  // runner, the runner hands sends back to the table.
  const sessions: SessionTable = createSessionTable(
    {
      dispatch: (session, request) => runner.dispatch(session, request),
      call: (session, request) => runner.call(session, request),
      closed: (session) => runner.sessionClosed(session),
    },
    logger,
  );
  const runner = createTermRunner({
    core,
    registry: term.registry,
    epoch: term.epoch,
    deliver: (effects) => sessions.apply(effects),
    timers,
    onFailure: onRegistryFailure,
    logger,
  });
  const gateway = createMasterGateway({
    core,
    sessions,
    operate: (call) => runner.operate(call),
    now: timers.now,
    logger,
  });
  const every = (seconds: number, handler: Parameters<TermRunner["tick"]>[0]) =>
    timers.setInterval(() => runner.tick(handler), seconds * 1000);
  const intervals = [
    every(options.allocationIntervalSeconds, (c, now) => c.allocate(now)),
    every(options.heartbeatIntervalSeconds, (c, now) => c.heartbeat(now)),
    every(options.agentPingTimeoutSeconds, (c, now) => c.pingAgents(now)),
    every(1, (c, now) => c.expire(now)),
    every(options.registryGcIntervalSeconds, (c, now) => c.pruneRegistry(now)),
  ];
  return {
    core,
    sessions,
    runner,
    gateway,
    async stop(error) {
      for (const interval of intervals) timers.clearInterval(interval);
      runner.stop();
      await sessions.endAll(error);
    },
  };
}
