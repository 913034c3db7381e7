/**
 * Performs the agent core's effects (src/core/agent/effects.ts), in order:
 * calls to the master, events to executors, launches and stops through the
 * executor side, sandboxes, volumes and checkpoints in the work dir.
 *
 * Owner of the status update resend timer: one timer, re-armed after every
 * batch for the core's next due update, cleared for good by `close()`.
 */
import type { AgentCall } from "../../gen/mesos/v2/mesos_pb.js";
import type { AgentCore, AgentEffect } from "../core/agent/agent-core.js";
import type { Logger } from "../log.js";
import type { TimerHandle, Timers } from "../util/timers.js";
import type { ExecutorSide } from "./executor-side.js";
import type { AgentWorkDir } from "./work-dir.js";

export interface AgentEffectsDeps {
  core: AgentCore;
  workDir: AgentWorkDir;
  executors: Pick<ExecutorSide, "launch" | "stop" | "deliver">;
  /** The master link (dropped while it is down: the core resends what matters). */
  master: { send(call: AgentCall): void };
  timers: Timers;
  logger: Logger;
}

export interface AgentEffects {
  /** Performs a batch, then re-arms the resend timer. */
  apply(effects: AgentEffect[]): void;
  /** No resend timer from now on (the agent stops, or the master refused it for good). */
  close(): void;
}

export function createAgentEffects(deps: AgentEffectsDeps): AgentEffects {
  const { core, workDir, executors, timers, logger } = deps;
  let resendTimer: TimerHandle | undefined;
  let closed = false;

  /** When the armed resend timer fires (core time). */
  let armedAt: number | undefined;

  const scheduleResend = (): void => {
    const at = closed ? undefined : core.nextTickAt();
    // Most batches leave the next resend where it was: keep that timer
    // rather than clearing and setting one per status update.
    if (at !== undefined && at === armedAt && resendTimer !== undefined) return;
    timers.clearTimeout(resendTimer);
    resendTimer = undefined;
    armedAt = at;
    if (at === undefined) return;
    resendTimer = timers.setTimeout(
      () => {
        resendTimer = undefined;
        armedAt = undefined;
        apply(core.tick(timers.now()));
      },
      Math.max(0, at - timers.now()),
    );
  };

  const apply = (effects: AgentEffect[]): void => {
    perform(effects);
    scheduleResend();
  };

  const perform = (effects: AgentEffect[]): void => {
    for (const effect of effects) {
      switch (effect.kind) {
        case "to-master":
          deps.master.send(effect.call);
          break;
        case "to-executor":
          executors.deliver(effect.frameworkId, effect.executorId, effect.event);
          break;
        case "launch-executor":
          workDir.prepareSandbox(effect.launch.sandbox);
          executors.launch(effect.launch);
          break;
        case "stop-executor":
          executors.stop(effect.frameworkId, effect.executorId, effect.graceMs);
          break;
        case "link-volumes":
          try {
            workDir.linkVolumes(effect.sandbox, effect.volumes);
          } catch (err) {
            logger.error(
              { sandbox: effect.sandbox, error: String(err) },
              "could not link persistent volumes into the sandbox",
            );
          }
          break;
        case "apply-operation":
          perform(core.operationApplied(effect.uuid, applyOperation(effect)));
          break;
        case "checkpoint-resources":
          try {
            workDir.saveCheckpointedResources(effect.checkpointed);
          } catch (err) {
            // The master re-syncs this agent after the failure it is about to
            // hear of; the next registration sends what is in memory.
            logger.error({ error: String(err) }, "could not checkpoint the agent's resources");
          }
          break;
      }
    }
  };

  /** Volumes made and removed, then the checkpoint; the error for the master if any step failed. */
  const applyOperation = (effect: AgentEffect & { kind: "apply-operation" }): string | undefined => {
    try {
      workDir.createVolumes(effect.createVolumes);
      workDir.destroyVolumes(effect.destroyVolumes);
      workDir.saveCheckpointedResources(effect.checkpointed);
      return undefined;
    } catch (err) {
      const error = `the agent could not apply the operation: ${String(err)}`;
      logger.error({ error }, "operation failed");
      return error;
    }
  };

  return {
    apply,
    close() {
      closed = true;
      timers.clearTimeout(resendTimer);
      resendTimer = undefined;
    },
  };
}
