import type { IncomingMessage, ServerResponse } from "node:http";
import type { Call, Response } from "../../gen/mesos/v1/master/master_pb.js";
import type { AgentCore } from "../core/agent/agent-core.js";
import { executorKey } from "../core/agent/state.js";
import type { CallError } from "../core/master/events.js";
import type { Logger } from "../log.js";
import type { HttpHook } from "../transport/handler.js";
import { buildInfo, VERSION } from "../version.js";
import { answerError, GatewayError } from "./errors.js";
import { createExecutorEndpoint } from "./executor.js";
import type { ExecutorSessions } from "./executor-sessions.js";
import { createFilesEndpoints } from "./files.js";
import { createLegacyAgentEndpoints } from "./legacy-agent.js";
import { pathOf } from "./master-gateway.js";
import { createOperatorEndpoint } from "./operator.js";

/**
 * The agent's flags as its endpoints show them. The agent passes its whole
 * AgentOptions: /flags lists every field; these the gateway reads itself.
 */
export interface AgentFlagValues {
  readonly master: string;
  readonly ip: string;
  readonly workDir: string;
}

export interface AgentGatewayOptions {
  core: AgentCore;
  executors: ExecutorSessions;
  /** The agent's answer to operator calls, the same as its v2 Operate RPC gives. */
  operate(call: Call): Response | CallError;
  /** The agent's flags, shown by /slave(1)/flags and /slave(1)/state. */
  options: AgentFlagValues;
  /** The port actually bound (the configured one may be 0). */
  port: () => number;
  /** When the agent started (ms), for start_time and uptime. */
  startedAt: number;
  logger: Logger;
}

/** The v1 HTTP endpoints of an agent, as a transport `http` hook. */
export interface AgentGateway {
  readonly hook: HttpHook;
}

/** The agent's options as Mesos-style flags (snake_case names, string values), one per field set. */
export function agentFlags(options: AgentFlagValues): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) flags[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = String(value);
  }
  return flags;
}

export function createAgentGateway(options: AgentGatewayOptions): AgentGateway {
  const { core } = options;
  const executor = createExecutorEndpoint({
    executors: options.executors,
    logger: options.logger,
    lookup: (frameworkId, executorId) => {
      if (!core.state.frameworks.has(frameworkId)) return "unknown-framework";
      return core.state.executors.has(executorKey(frameworkId, executorId)) ? "known" : "unknown-executor";
    },
  });
  const files = createFilesEndpoints({ workDir: options.options.workDir, agentId: () => core.state.agentId });
  const legacy = createLegacyAgentEndpoints({
    core,
    flags: agentFlags(options.options),
    version: VERSION,
    build: buildInfo(),
    address: () => ({ ip: options.options.ip, port: options.port() }),
    masterHostname: options.options.master.replace(/^https?:\/\//, "").split(":")[0] ?? "",
    startedAt: options.startedAt,
    now: () => Date.now(),
  });
  const operator = createOperatorEndpoint({
    operate: (call) => Promise.resolve(options.operate(call)),
    logger: options.logger,
  });
  const hook: HttpHook = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req);
    if (path === "/api/v1/executor") return executor.handle(req, res).then(() => true);
    if (path === "/api/v1" || path === "/api/v1/") return operator.handle(req, res).then(() => true);
    const query = new URL(req.url ?? "/", "http://agent").searchParams;
    if (path.startsWith("/files/"))
      return files.handle(req, res, path, query).catch((err: unknown) => refuse(res, err));
    try {
      return legacy(req, res, path, query);
    } catch (err) {
      return refuse(res, err);
    }
  };
  return { hook };
}

/** Answers a refusal; anything else is a bug for the transport to report. */
function refuse(res: ServerResponse, err: unknown): true {
  if (!(err instanceof GatewayError)) throw err;
  answerError(res, err);
  return true;
}
