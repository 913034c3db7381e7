import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExecutorStreams } from "../agent/executor-streams.js";
import type { AgentCore } from "../core/agent/agent-core.js";
import { executorKey } from "../core/agent/state.js";
import type { Logger } from "../log.js";
import type { HttpHook } from "../transport/handler.js";
import { createExecutorEndpoint } from "./executor.js";
import { pathOf } from "./master-gateway.js";

export interface AgentGatewayOptions {
  core: AgentCore;
  executors: ExecutorStreams;
  logger: Logger;
}

/** The v1 HTTP endpoints of an agent, as a transport `http` hook. */
export interface AgentGateway {
  readonly hook: HttpHook;
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
  const hook: HttpHook = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req);
    if (path === "/api/v1/executor") return executor.handle(req, res).then(() => true);
    return false;
  };
  return { hook };
}
