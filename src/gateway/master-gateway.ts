import type { IncomingMessage, ServerResponse } from "node:http";
import type { Call, Response } from "../../gen/mesos/v1/master/master_pb.js";
import type { CallError } from "../core/master/events.js";
import type { MasterCore } from "../core/master/master-core.js";
import { countersView } from "../core/master/views.js";
import type { Logger } from "../log.js";
import type { HttpHook } from "../transport/handler.js";
import { createLegacyMasterEndpoints } from "./legacy-master.js";
import { createOperatorEndpoint } from "./operator.js";
import { createSchedulerEndpoint } from "./scheduler.js";
import type { GatewaySessions } from "./sessions.js";

export interface MasterGatewayOptions {
  core: MasterCore;
  sessions: GatewaySessions;
  /** A one-shot operator call through the term's runner, which stores registry changes before answering. */
  operate(call: Call): Promise<Response | CallError>;
  /** The clock the read-only views are computed at. */
  now(): number;
  logger: Logger;
}

/** The v1 HTTP endpoints of a master, as a transport `http` hook. */
export interface MasterGateway {
  readonly hook: HttpHook;
}

/** The path without its query string (Mesos' v1 endpoints ignore queries). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

export function createMasterGateway(options: MasterGatewayOptions): MasterGateway {
  const { core } = options;
  const scheduler = createSchedulerEndpoint({
    sessions: options.sessions,
    logger: options.logger,
    frameworks: {
      framework: (id) => {
        const record = core.state.frameworks.get(id);
        return record === undefined ? undefined : { connected: record.session !== undefined };
      },
    },
  });
  const operator = createOperatorEndpoint({
    sessions: options.sessions,
    logger: options.logger,
    operate: options.operate,
  });
  const legacy = createLegacyMasterEndpoints({
    // Read-only views: they change nothing, so they need not queue behind writes.
    operate: (call) => core.operate(call, options.now()).result,
    counters: () => countersView(core.state),
    now: options.now,
    logger: options.logger,
  });
  const hook: HttpHook = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req);
    if (path === "/api/v1/scheduler") return scheduler.handle(req, res).then(() => true);
    if (path === "/api/v1" || path === "/api/v1/") return operator.handle(req, res).then(() => true);
    return legacy(req, res, path);
  };
  return { hook };
}
