/**
 * The agent's executor side: how its executors are started and stopped
 * (the containerizer it was given), reached (executor streams and sessions)
 * and watched (each exit goes into the core).
 *
 *   launch-executor ──► containerizer ──► executor SUBSCRIBEs on a stream ──► core
 *   to-executor     ──► that stream
 *   stop-executor   ──► containerizer ──► (exit) ──► core.executorExited
 */
import type { Event as ExecutorEvent } from "../../gen/mesos/v1/executor/executor_pb.js";
import type { AgentCore, AgentEffect, ExecutorLaunch } from "../core/agent/agent-core.js";
import type { HostedLaunch } from "../executor/protocol.js";
import type { Logger } from "../log.js";
import type { Timers } from "../util/timers.js";
import type { Containerizer, ContainerizerFactory } from "./containerizer.js";
import { createExecutorStreams, type ExecutorStreams } from "./executor-streams.js";

export interface ExecutorSideDeps {
  core: AgentCore;
  /** Where the core's answers to executor calls and exits go. */
  apply(effects: AgentEffect[]): void;
  containerizer: ContainerizerFactory;
  /** host:port executors dial (MESOS_AGENT_ENDPOINT); read at each launch, once the port is bound. */
  endpoint(): string;
  /** The agent's executor socket, if it serves one (executor hosts carry their executors there). */
  executorSocket?(): string | undefined;
  timers: Pick<Timers, "now">;
  logger: Logger;
}

export interface ExecutorSide {
  readonly streams: ExecutorStreams;
  readonly containerizer: Containerizer;
  /** Starts an executor whose sandbox exists. */
  launch(launch: ExecutorLaunch): void;
  stop(frameworkId: string, executorId: string, graceMs: number): void;
  /** An event for a subscribed executor; dropped (false) when it has no stream. */
  deliver(frameworkId: string, executorId: string, event: ExecutorEvent): boolean;
}

/** What an executor learns of its place from its environment, as Mesos sets it. */
export function hostedLaunch(launch: ExecutorLaunch, endpoint: string, socket?: string): HostedLaunch {
  const env: Record<string, string> = {
    MESOS_SANDBOX: launch.sandbox,
    MESOS_DIRECTORY: launch.sandbox,
    MESOS_FRAMEWORK_ID: launch.frameworkId,
    MESOS_EXECUTOR_ID: launch.executorId,
    MESOS_AGENT_ID: launch.agentId,
    MESOS_SLAVE_ID: launch.agentId,
    MESOS_CONTAINER_ID: launch.containerId,
    MESOS_AGENT_ENDPOINT: endpoint,
    MESOS_CHECKPOINT: launch.frameworkInfo?.checkpoint ? "1" : "0",
  };
  return {
    frameworkId: launch.frameworkId,
    executorId: launch.executorId,
    sandbox: launch.sandbox,
    agent: endpoint,
    socket,
    env,
  };
}

export function createExecutorSide(deps: ExecutorSideDeps): ExecutorSide {
  const { core, apply, timers, logger } = deps;
  const streams = createExecutorStreams(core, apply, logger, timers);
  const containerizer = deps.containerizer({
    onExit: (exit) => {
      logger.debug(exit, "executor exited");
      apply(
        core.executorExited(
          exit.frameworkId,
          exit.executorId,
          { status: exit.waitStatus, description: exit.description },
          timers.now(),
        ),
      );
    },
    openExecutorSession: (sink) => streams.open(sink),
  });
  return {
    streams,
    containerizer,
    launch(launch) {
      const hosted = hostedLaunch(launch, deps.endpoint(), deps.executorSocket?.());
      if (launch.kind === "command") containerizer.launchCommand(hosted);
      else containerizer.launchCustom(hosted, launch.info);
    },
    stop: (frameworkId, executorId, graceMs) => containerizer.stop(frameworkId, executorId, graceMs),
    deliver: (frameworkId, executorId, event) => streams.deliver(frameworkId, executorId, event),
  };
}
