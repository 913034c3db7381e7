/**
 * The agent's shell without its sockets: the pure core, its master link,
 * its effects and its executor side, wired to each other. `startAgent`
 * puts a server and a reconnecting stream around it; an in-process cluster
 * or a simulation puts in-memory pipes, a containerizer twin and fake
 * timers around it, and runs the same code.
 *
 *   master channel ──events──► master link ──► core ──effects──► effects ──► master link (calls)
 *                                               ▲                      ├──► executor side (launch, stop, events)
 *   executor sessions ──calls──► executor side ─┘                      └──► work dir (sandboxes, volumes, checkpoints)
 *   containerizer ──exits──────► executor side
 */
import type { AgentCall_ReconfigurationPolicy } from "../../gen/mesos/v2/mesos_pb.js";
import type { AgentCore, AgentEffect } from "../core/agent/agent-core.js";
import type { Logger } from "../log.js";
import type { Timers } from "../util/timers.js";
import type { ContainerizerFactory } from "./containerizer.js";
import { createAgentEffects } from "./effects.js";
import { createExecutorSide, type ExecutorSide } from "./executor-side.js";
import { createMasterLink, type MasterLink } from "./master-link.js";
import type { AgentWorkDir } from "./work-dir.js";

export interface AgentShellDeps {
  core: AgentCore;
  workDir: AgentWorkDir;
  containerizer: ContainerizerFactory;
  timers: Timers;
  logger: Logger;
  /** The agent's address, sent with Register. */
  ip: string;
  /** Sent with Register (default: equal, as in Mesos). */
  reconfigurationPolicy?: AgentCall_ReconfigurationPolicy;
  /** How the master was named (for messages). */
  master: string;
  /** host:port executors dial (MESOS_AGENT_ENDPOINT); read at each launch. */
  endpoint(): string;
  /** The executor socket's path, once the daemon serves one; read at each launch. */
  executorSocket?(): string | undefined;
}

export interface AgentShell {
  readonly core: AgentCore;
  /** Attach a channel to it and feed it the channel's events. */
  readonly link: MasterLink;
  readonly executors: ExecutorSide;
  /** Performs a batch of the core's effects (then re-arms the resend timer). */
  apply(effects: AgentEffect[]): void;
  /**
   * Settles with the master's message if it refuses this agent for good
   * (marked gone, or reconfigured against its policy). The agent must not
   * serve on: its owner logs the message and closes it, which stops every
   * executor and task, and the process exits with a failure.
   */
  readonly refused: Promise<string>;
  /**
   * Stops the agent's own work, in this order: no more resends, every
   * executor taken down and awaited (their exits still reach the master),
   * the master channel closed, executor sessions ended.
   */
  close(): Promise<void>;
}

export function createAgentShell(deps: AgentShellDeps): AgentShell {
  const { core, timers, logger } = deps;
  // The three parts call each other: each gets `apply`, which is bound to
  // `effects` below and only ever called after this function returns.
  const apply = (batch: AgentEffect[]): void => effects.apply(batch);
  let refuse: (message: string) => void = () => undefined;
  const refused = new Promise<string>((resolve) => (refuse = resolve));
  const link = createMasterLink({
    core,
    apply,
    workDir: deps.workDir,
    ip: deps.ip,
    reconfigurationPolicy: deps.reconfigurationPolicy,
    master: deps.master,
    onRefused: (message) => {
      effects.close();
      refuse(message);
    },
    timers,
    logger,
  });
  const executors = createExecutorSide({
    core,
    apply,
    containerizer: deps.containerizer,
    endpoint: deps.endpoint,
    executorSocket: deps.executorSocket,
    timers,
    logger,
  });
  const effects = createAgentEffects({ core, workDir: deps.workDir, executors, master: link, timers, logger });
  return {
    core,
    link,
    executors,
    apply,
    refused,
    async close() {
      link.stop();
      effects.close();
      // For now a stopping agent takes its tasks down, so nothing outlives
      // it; keeping them running for agent recovery is a later step.
      await executors.containerizer.close();
      await link.close();
      await executors.streams.endAll();
    },
  };
}
