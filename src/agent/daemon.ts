/**
 * The agent daemon: the shell around the pure agent core.
 *
 *   startAgent ──listen──► serving executors ──Register──► registered ◄─┐
 *                                                  │ master stream drops │
 *                                                  ▼                     │
 *                                            reconnecting (backoff) ─────┘
 *                                                          (Register with id,
 *                                                           pending updates resent)
 *   close(): executors and tasks stopped, host awaited ──► master stream closed
 *            ──► server closed ──► stopped
 *
 * Owners: the resend timer (re-armed after each batch of effects), the master
 * stream, the executor streams and the containerizer's processes all belong
 * to the returned AgentDaemon, whose close() stops and awaits each.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Call_Type as OperatorCallType, ResponseSchema, Response_Type, type Call as OperatorCall, type Response as OperatorResponse } from "../../gen/mesos/v1/master/master_pb.js";
import { AgentInfoSchema, ResourceSchema, type Resource } from "../../gen/mesos/v1/mesos_pb.js";
import { ConnectRequestSchema, Error_Code, MesosService, OperateResponseSchema, file_mesos_v2_mesos, type ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { newCallId, openStream, type UnifiedStream } from "../client/stream.js";
import { randomUuidBytes } from "../util/uuid.js";
import { createAgentCore, type AgentEffect, type VolumeLink } from "../core/agent/agent-core.js";
import { applyCheckpointed, parseAttributes } from "../core/resources/index.js";
import { createAgentGateway } from "../gateway/agent-gateway.js";
import { createLogger, type Logger } from "../log.js";
import { writeFileDurably } from "../util/durable-file.js";
import { createServer } from "../transport/server.js";
import { VERSION } from "../version.js";
import { createContainerizer } from "./containerizer.js";
import { createExecutorStreams } from "./executor-streams.js";
import type { AgentOptions } from "./options.js";
import { agentResources } from "./resources.js";

/** A running agent. */
export interface AgentDaemon {
  readonly port: number;
  agentId(): string | undefined;
  /** PIDs of the executor host and custom executors (for measurements). */
  executorPids(): number[];
  close(): Promise<void>;
}

function loadAgentId(workDir: string): string | undefined {
  const file = join(workDir, "meta", "agent_id");
  return existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined;
}

/** Durably: a crash never leaves half an id. */
function saveAgentId(workDir: string, id: string): void {
  writeFileDurably(join(workDir, "meta", "agent_id"), `${id}\n`);
}

const CHECKPOINTED_RESOURCES = ["meta", "resources.json"];

/** The dynamic reservations and volumes an earlier run checkpointed, if any. */
function loadCheckpointedResources(workDir: string): Resource[] {
  const file = join(workDir, ...CHECKPOINTED_RESOURCES);
  if (!existsSync(file)) return [];
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!Array.isArray(parsed)) throw new Error(`${file} does not hold a list of resources`);
  return parsed.map((r: JsonValue) => fromJson(ResourceSchema, r));
}

/** Durably, before the master hears the operation finished: a crash leaves the old checkpoint or the new one. */
function saveCheckpointedResources(workDir: string, resources: Resource[]): void {
  writeFileDurably(join(workDir, ...CHECKPOINTED_RESOURCES), `${JSON.stringify(resources.map((r) => toJson(ResourceSchema, r)), null, 2)}\n`);
}

/** Makes each volume appear at its container path inside the sandbox. */
function linkVolumes(sandbox: string, volumes: VolumeLink[]): void {
  for (const volume of volumes) {
    mkdirSync(volume.hostPath, { recursive: true });
    const target = join(sandbox, volume.containerPath);
    mkdirSync(dirname(target), { recursive: true });
    if (!existsSync(target)) symlinkSync(volume.hostPath, target);
  }
}

/**
 * Starts an agent: serves its executors on one port, registers with the
 * master over the unified stream (re-registering with its id after any
 * drop), and runs tasks through the containerizer.
 */
export async function startAgent(options: AgentOptions, logger: Logger = createLogger("agent", options.logLevel)): Promise<AgentDaemon> {
  mkdirSync(options.workDir, { recursive: true });
  const agentInfo = create(AgentInfoSchema, {
    hostname: options.hostname,
    port: options.port,
    resources: agentResources(options.resources, options.workDir),
    attributes: options.attributes === undefined ? [] : parseAttributes(options.attributes),
  });
  const checkpointedResources = loadCheckpointedResources(options.workDir);
  const fits = applyCheckpointed(agentInfo.resources, checkpointedResources);
  if (typeof fits === "string") {
    // As in Mesos: refusing to start beats silently dropping reservations and volumes.
    throw new Error(`cannot start the agent in ${options.workDir}: ${fits}; restore the earlier --resources or remove ${join(options.workDir, ...CHECKPOINTED_RESOURCES)}`);
  }
  const core = createAgentCore(
    {
      workDir: options.workDir,
      agentInfo,
      version: VERSION,
      ids: { next: () => randomUUID() },
      uuid: randomUuidBytes,
      checkpointedResources,
      updateRetry: options.statusUpdateRetryMs === undefined ? undefined : { minMs: options.statusUpdateRetryMs },
    },
    loadAgentId(options.workDir),
  );
  let port = options.port;
  let master: UnifiedStream | undefined;
  let heartbeatSeconds: number | undefined;
  /** The newest leader epoch seen on the master stream. */
  let leaderEpoch = 0n;

  // The one resend timer, re-armed after every batch of effects for the
  // core's next due status update; close() clears it.
  let resendTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Said once per outage, not at every retry. */
  let warnedUnreachable = false;
  const scheduleResend = (): void => {
    if (resendTimer !== undefined) clearTimeout(resendTimer);
    resendTimer = undefined;
    const at = core.nextTickAt();
    if (stopped || at === undefined) return;
    resendTimer = setTimeout(() => apply(core.tick(Date.now())), Math.max(0, at - Date.now()));
  };

  const apply = (effects: AgentEffect[]): void => {
    perform(effects);
    scheduleResend();
  };

  const perform = (effects: AgentEffect[]): void => {
    for (const effect of effects) {
      switch (effect.kind) {
        case "to-master":
          master?.send(create(ConnectRequestSchema, { call: { case: "agent", value: effect.call } }));
          break;
        case "to-executor":
          executors.deliver(effect.frameworkId, effect.executorId, effect.event);
          break;
        case "launch-executor": {
          const l = effect.launch;
          mkdirSync(l.sandbox, { recursive: true });
          const env: Record<string, string> = {
            MESOS_SANDBOX: l.sandbox,
            MESOS_DIRECTORY: l.sandbox,
            MESOS_FRAMEWORK_ID: l.frameworkId,
            MESOS_EXECUTOR_ID: l.executorId,
            MESOS_AGENT_ID: l.agentId,
            MESOS_SLAVE_ID: l.agentId,
            MESOS_CONTAINER_ID: l.containerId,
            MESOS_AGENT_ENDPOINT: `${options.ip}:${port}`,
            MESOS_CHECKPOINT: l.frameworkInfo?.checkpoint ? "1" : "0",
          };
          const hosted = { frameworkId: l.frameworkId, executorId: l.executorId, sandbox: l.sandbox, agent: `${options.ip}:${port}`, env };
          if (l.kind === "command") containerizer.launchCommand(hosted);
          else containerizer.launchCustom(hosted, l.info);
          break;
        }
        case "stop-executor":
          containerizer.stop(effect.frameworkId, effect.executorId, effect.graceMs);
          break;
        case "link-volumes":
          try {
            linkVolumes(effect.sandbox, effect.volumes);
          } catch (err) {
            logger.error({ sandbox: effect.sandbox, error: String(err) }, "could not link persistent volumes into the sandbox");
          }
          break;
        case "apply-operation": {
          let error: string | undefined;
          try {
            for (const dir of effect.createVolumes) mkdirSync(dir, { recursive: true });
            for (const dir of effect.destroyVolumes) rmSync(dir, { recursive: true, force: true });
            saveCheckpointedResources(options.workDir, effect.checkpointed);
          } catch (err) {
            error = `the agent could not apply the operation: ${String(err)}`;
            logger.error({ error }, "operation failed");
          }
          perform(core.operationApplied(effect.uuid, error));
          break;
        }
        case "checkpoint-resources":
          try {
            saveCheckpointedResources(options.workDir, effect.checkpointed);
          } catch (err) {
            // The master re-syncs this agent after the failure it is about to
            // hear of; the next registration sends what is in memory.
            logger.error({ error: String(err) }, "could not checkpoint the agent's resources");
          }
          break;
      }
    }
  };

  const containerizer = createContainerizer({
    logLevel: options.logLevel,
    logger,
    onExit: (exit) => {
      logger.debug(exit, "executor exited");
      apply(core.executorExited(exit.frameworkId, exit.executorId, { status: exit.waitStatus, description: exit.description }, Date.now()));
    },
  });
  const executors = createExecutorStreams(core, apply, logger);

  // One answer to operator calls for the v2 Operate RPC and the v1 /api/v1.
  const operate = (call: OperatorCall | undefined): OperatorResponse | { code: Error_Code; message: string } => {
    if (call?.type === OperatorCallType.GET_HEALTH) return create(ResponseSchema, { type: Response_Type.GET_HEALTH, getHealth: { healthy: true } });
    return { code: Error_Code.UNIMPLEMENTED, message: "This agent answers GET_HEALTH only; ask the master for cluster state" };
  };
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      connect: (requests, context) => executors.serve(requests, context),
      operate: (request) => {
        const result = operate(request.call);
        if ("code" in result) throw new ConnectError(result.message, Code.Unimplemented);
        return create(OperateResponseSchema, { response: result });
      },
    });
  const gateway = createAgentGateway({ core, executors, operate, options, port: () => port, logger });
  const server = createServer({ host: options.ip, port: options.port, routes, http: gateway.hook, reflection: [file_mesos_v2_mesos], logger });
  port = (await server.listen()).port;
  agentInfo.port = port;

  const onMasterEvent = (response: ConnectResponse): void => {
    const now = Date.now();
    if (response.event.case === "error") {
      if (response.event.value.fatal) {
        // Refused for good (e.g. marked gone by the operator): trying again cannot help.
        logger.error({ error: response.event.value.message }, "the master refuses this agent for good; no longer connecting");
        stopped = true;
        void master?.close();
        return;
      }
      logger.warn({ error: response.event.value.message }, "master refused a call");
      return;
    }
    if (response.event.case !== "agent") return;
    // A deposed master (an older epoch than one already seen) gives no orders.
    const epoch = response.event.value.leaderEpoch;
    // Registered comes from the master this agent just registered with: its
    // epoch is the baseline (epochs restart when a registry is started anew).
    if (response.event.value.event.case === "registered") leaderEpoch = epoch;
    if (epoch < leaderEpoch) {
      logger.warn({ epoch: String(epoch), current: String(leaderEpoch) }, "ignoring an event from a master that no longer leads");
      return;
    }
    leaderEpoch = epoch;
    const event = response.event.value.event;
    switch (event.case) {
      case "registered": {
        const id = event.value.agentId?.value ?? "";
        heartbeatSeconds = event.value.heartbeatIntervalSeconds || undefined;
        if (id !== core.state.agentId) saveAgentId(options.workDir, id);
        warnedUnreachable = false;
        logger.info({ agentId: id }, "registered with the master");
        return apply(core.registered(id, now));
      }
      case "runTask":
        if (event.value.frameworkInfo !== undefined && event.value.task !== undefined) apply(core.runTask(event.value.frameworkInfo, event.value.task, now));
        return;
      case "killTask":
        return apply(core.killTask(event.value.frameworkId?.value ?? "", event.value.taskId?.value ?? "", event.value.killPolicy, now));
      case "acknowledge":
        return apply(core.acknowledge(event.value.frameworkId?.value ?? "", event.value.taskId?.value ?? "", event.value.uuid, now));
      case "resendUpdates":
        return apply(core.resendUpdates(event.value.frameworkId?.value ?? "", now));
      case "frameworkMessage":
        return apply(core.frameworkMessage(event.value.frameworkId?.value ?? "", event.value.executorId?.value ?? "", event.value.data));
      case "shutdownFramework":
        return apply(core.shutdownFramework(event.value.frameworkId?.value ?? "", now));
      case "shutdownExecutor":
        return apply(core.shutdownExecutor(event.value.frameworkId?.value ?? "", event.value.executorId?.value ?? "", now));
      case "heartbeat":
        // The master marks an agent that stops answering unreachable.
        master?.send(create(ConnectRequestSchema, { call: { case: "agent", value: { call: { case: "heartbeat", value: {} } } } }));
        return;
      case "applyOperation":
        if (event.value.operation === undefined) return;
        return apply(core.applyOperation(event.value.frameworkId?.value || undefined, event.value.operation, event.value.operationUuid));
      default:
        return;
    }
  };

  master = openStream({
    baseUrl: options.master,
    hello: () => create(ConnectRequestSchema, { id: newCallId(), call: { case: "agent", value: { call: { case: "register", value: { ...core.registration(), ip: options.ip } } } } }),
    onEvent: onMasterEvent,
    onDisconnected: (error) => {
      if (stopped) return;
      if (core.state.connected) logger.warn({ error: error?.message }, "lost the master; reconnecting");
      else if (!warnedUnreachable) logger.warn({ master: options.master, error: error?.message }, "cannot reach the master; retrying with backoff");
      warnedUnreachable = true;
      core.disconnected();
    },
    heartbeatTimeoutMs: () => (heartbeatSeconds === undefined ? undefined : (heartbeatSeconds * 3 + 5) * 1000),
    reconnect: { initialMs: 200, maxMs: 10_000 },
    logger,
  });
  logger.info({ port, master: options.master, workDir: options.workDir }, "agent listening");

  return {
    port,
    agentId: () => core.state.agentId,
    executorPids: () => containerizer.pids(),
    async close() {
      stopped = true;
      if (resendTimer !== undefined) clearTimeout(resendTimer);
      // For now a stopping agent takes its tasks down, so nothing outlives
      // it; keeping them running for agent recovery is a later step.
      await containerizer.close();
      await master?.close();
      executors.endAll();
      await server.close();
      logger.info("agent stopped");
    },
  };
}
