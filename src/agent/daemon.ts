/**
 * The agent daemon: the agent's shell (agent-shell.ts) with its sockets.
 *
 *   startAgent ──listen──► serving executors ──Register──► registered ◄─┐
 *                                                  │ master stream drops │
 *                                                  ▼                     │
 *                                            reconnecting (backoff) ─────┘
 *                                                          (Register with id,
 *                                                           pending updates resent)
 *   close(): executors and tasks stopped, host awaited ──► master stream closed
 *            ──► server closed ──► stopped
 *   refused for good by the master (marked gone, reconfigured against its
 *   policy) ──► close() on its own ──► `fatal` settles: the process exits 1
 *
 * Owners: the resend timer (effects.ts), the master stream (master-link.ts
 * rides on it), the executor streams and the containerizer's processes
 * (executor-side.ts) all belong to the returned AgentDaemon, whose close()
 * stops and awaits each.
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  type Call as OperatorCall,
  Call_Type as OperatorCallType,
  type Response as OperatorResponse,
  Response_Type,
  ResponseSchema,
} from "../../gen/mesos/v1/master/master_pb.js";
import { type AgentInfo, AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import {
  AgentCall_ReconfigurationPolicy,
  Error_Code,
  file_mesos_v2_mesos,
  MesosService,
  OperateResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { openStream } from "../client/stream.js";
import { type AgentCore, createAgentCore } from "../core/agent/agent-core.js";
import { applyCheckpointed, parseAttributes } from "../core/resources/index.js";
import { createAgentGateway } from "../gateway/agent-gateway.js";
import { agentMetrics } from "../gateway/agent-metrics.js";
import type { ExecutorSessions } from "../gateway/executor-sessions.js";
import { createLogger, type Logger } from "../log.js";
import { createServer } from "../transport/server.js";
import { systemTimers, type Timers } from "../util/timers.js";
import { randomUuidBytes } from "../util/uuid.js";
import { VERSION } from "../version.js";
import { createAgentShell } from "./agent-shell.js";
import { type ContainerizerFactory, processContainerizer } from "./containerizer.js";
import { type ExecutorSocket, MAX_SOCKET_PATH_BYTES, serveExecutorSocket } from "./executor-socket.js";
import { AGENT_RECONNECT } from "./master-link.js";
import type { AgentOptions } from "./options.js";
import { agentResources } from "./resources.js";
import { type AgentWorkDir, createWorkDir } from "./work-dir.js";

/** A running agent. */
export interface AgentDaemon {
  readonly port: number;
  agentId(): string | undefined;
  /** PIDs of the executor host and custom executors (for measurements). */
  executorPids(): number[];
  /**
   * Settles once the master has refused this agent for good and the agent
   * has closed itself (no executor or task left running): serving on would
   * leave orphans the master no longer counts. The error is the master's message.
   */
  readonly fatal: Promise<Error>;
  /** The same promise every time, whether the caller or a refusal closes first. */
  close(): Promise<void>;
}

/** The agent's collaborators; `plateau agent` uses the real ones. */
export interface AgentDeps {
  /** Default: executors as processes (the executor host and custom executors). */
  containerizer: ContainerizerFactory;
  /**
   * The agent's clock and its own timers (status update resends). Default:
   * the system clock and Node's timers. The master stream's backoff and
   * heartbeat timers stay Node's (src/client/stream.ts takes no Timers yet).
   */
  timers: Timers;
}

/**
 * The core as the work dir left it: the id and checkpointed resources of an
 * earlier run. `agentInfo` is the core's own, so the bound port can be filled in.
 */
function recoverCore(options: AgentOptions, workDir: AgentWorkDir): { core: AgentCore; agentInfo: AgentInfo } {
  const agentInfo = create(AgentInfoSchema, {
    hostname: options.hostname,
    port: options.port,
    resources: agentResources(options.resources, options.workDir),
    attributes: options.attributes === undefined ? [] : parseAttributes(options.attributes),
  });
  const checkpointedResources = workDir.checkpointedResources();
  const fits = applyCheckpointed(agentInfo.resources, checkpointedResources);
  if (typeof fits === "string") {
    // As in Mesos: refusing to start beats silently dropping reservations and volumes.
    throw new Error(
      `cannot start the agent in ${options.workDir}: ${fits}; restore the earlier --resources or remove ${workDir.checkpointFile}`,
    );
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
      maxCompletedExecutorsPerFramework: options.maxCompletedExecutorsPerFramework,
    },
    workDir.agentId(),
  );
  return { core, agentInfo };
}

/**
 * The agent's answer to operator calls, for the v2 Operate RPC and the v1
 * /api/v1 alike. GET_METRICS computes every number at once, so any
 * `timeout` is met and nothing is left out for it.
 */
function operatorCalls(core: AgentCore, startedAt: number) {
  return (call: OperatorCall | undefined): OperatorResponse | { code: Error_Code; message: string } => {
    if (call?.type === OperatorCallType.GET_HEALTH)
      return create(ResponseSchema, { type: Response_Type.GET_HEALTH, getHealth: { healthy: true } });
    if (call?.type === OperatorCallType.GET_METRICS) {
      if (call.getMetrics === undefined)
        return { code: Error_Code.INVALID_ARGUMENT, message: "Expecting 'get_metrics' to be present" };
      const metrics = Object.entries(agentMetrics(core, startedAt, Date.now())).map(([name, value]) => ({
        name,
        value,
      }));
      return create(ResponseSchema, { type: Response_Type.GET_METRICS, getMetrics: { metrics } });
    }
    return {
      code: Error_Code.UNIMPLEMENTED,
      message: "This agent answers GET_HEALTH and GET_METRICS only; ask the master for cluster state",
    };
  };
}

/**
 * The executor socket at `<work_dir>/executors.sock`. A work dir whose path
 * is too long for a Unix socket gets none: its executor hosts then give each
 * executor a stream of its own to the agent's port, as custom executors have.
 */
async function openExecutorSocket(
  workDir: string,
  sessions: ExecutorSessions,
  logger: Logger,
): Promise<ExecutorSocket | undefined> {
  const path = resolve(workDir, "executors.sock");
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    logger.info({ path }, "the work dir's path is too long for the executor socket: hosted executors use streams");
    return undefined;
  }
  return serveExecutorSocket(path, sessions, logger);
}

/**
 * Starts an agent: serves its executors on one port, registers with the
 * master over the unified stream (re-registering with its id after any
 * drop), and runs tasks through the containerizer.
 */
export async function startAgent(
  options: AgentOptions,
  logger: Logger = createLogger("agent", options.logLevel),
  deps: Partial<AgentDeps> = {},
): Promise<AgentDaemon> {
  const workDir = createWorkDir(options.workDir);
  const { core, agentInfo } = recoverCore(options, workDir);
  let port = options.port;
  let executorSocket: ExecutorSocket | undefined;
  const shell = createAgentShell({
    core,
    workDir,
    containerizer: deps.containerizer ?? processContainerizer({ logLevel: options.logLevel, logger }),
    timers: deps.timers ?? systemTimers(),
    logger,
    ip: options.ip,
    reconfigurationPolicy:
      options.reconfigurationPolicy === "additive"
        ? AgentCall_ReconfigurationPolicy.ADDITIVE
        : AgentCall_ReconfigurationPolicy.EQUAL,
    master: options.master,
    endpoint: () => `${options.ip}:${port}`,
    executorSocket: () => executorSocket?.path,
  });
  const executors = shell.executors.streams;

  const startedAt = Date.now();
  const operate = operatorCalls(core, startedAt);
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      connect: (requests, context) => executors.serve(requests, context),
      operate: (request) => {
        const result = operate(request.call);
        if ("code" in result)
          throw new ConnectError(
            result.message,
            result.code === Error_Code.INVALID_ARGUMENT ? Code.InvalidArgument : Code.Unimplemented,
          );
        return create(OperateResponseSchema, { response: result });
      },
    });
  const gateway = createAgentGateway({ core, executors, operate, options, port: () => port, startedAt, logger });
  const server = createServer({
    host: options.ip,
    port: options.port,
    routes,
    http: gateway.hook,
    reflection: [file_mesos_v2_mesos],
    logger,
  });
  port = (await server.listen()).port;
  agentInfo.port = port;
  executorSocket = await openExecutorSocket(options.workDir, executors, logger);

  const { link } = shell;
  link.attach(
    openStream({
      baseUrl: options.master,
      hello: link.hello,
      onEvent: link.onEvent,
      onDisconnected: link.onDisconnected,
      heartbeatTimeoutMs: link.heartbeatTimeoutMs,
      reconnect: AGENT_RECONNECT,
      logger,
    }),
  );
  logger.info({ port, master: options.master, workDir: options.workDir }, "agent listening");

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await shell.close();
      await executorSocket?.close();
      await server.close();
      logger.info("agent stopped");
    })();
    return closing;
  };
  const fatal = shell.refused.then(async (message) => {
    logger.fatal(
      { workDir: options.workDir },
      "stopping this agent's executors and tasks and exiting: the master refuses it for good",
    );
    await close();
    return new Error(message);
  });
  return {
    port,
    agentId: () => core.state.agentId,
    executorPids: () => shell.executors.containerizer.pids(),
    fatal,
    close,
  };
}
