import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { MasterInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { Call as OperatorCall } from "../../gen/mesos/v1/master/master_pb.js";
import { MesosService, OperateResponseSchema, file_mesos_v2_mesos } from "../../gen/mesos/v2/mesos_pb.js";
import { createAllocator, parseMinAllocatable, parseWeights } from "../core/allocator/index.js";
import type { IdSource } from "../core/clock.js";
import { createMasterCore, type Effect, type MasterCore } from "../core/master/master-core.js";
import { createMasterGateway } from "../gateway/master-gateway.js";
import { createLogger, type Logger } from "../log.js";
import { createServer } from "../transport/server.js";
import { VERSION } from "../version.js";
import type { MasterOptions } from "./options.js";
import { openEmbeddedRegistry } from "./registry.js";
import { createSessionTable, toConnectError } from "./sessions.js";

export interface MasterDaemon {
  readonly port: number;
  readonly core: MasterCore;
  close(): Promise<void>;
}

/** Mesos encodes MasterInfo.ip as an IPv4 address in network byte order. */
function ipToUint32(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return 0;
  const [a = 0, b = 0, c = 0, d = 0] = parts;
  return ((d << 24) | (c << 16) | (b << 8) | a) >>> 0;
}

/** Ids shaped like Mesos' (`<master>-0001`, `<master>-S1`, `<master>-O1`). */
function masterIds(masterId: string): IdSource {
  const counters = new Map<string, number>();
  const prefix: Record<string, string> = { framework: "", agent: "S", offer: "O" };
  return {
    next(kind) {
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      const p = prefix[kind] ?? `${kind}-`;
      return `${masterId}-${p}${p === "" ? String(n).padStart(4, "0") : n}`;
    },
  };
}

function flagsOf(options: MasterOptions): Record<string, string> {
  return {
    ip: options.ip,
    port: String(options.port),
    hostname: options.hostname,
    work_dir: options.workDir ?? "",
    allocation_interval: `${options.allocationIntervalSeconds}secs`,
    heartbeat_interval: `${options.heartbeatIntervalSeconds}secs`,
    agent_reregister_timeout: `${options.agentReregisterTimeoutSeconds}secs`,
    agent_ping_timeout: `${options.agentPingTimeoutSeconds}secs`,
    max_agent_ping_timeouts: String(options.maxAgentPingTimeouts),
    offer_timeout: options.offerTimeoutSeconds === undefined ? "" : `${options.offerTimeoutSeconds}secs`,
    min_allocatable_resources: options.minAllocatableResources ?? "cpus:0.01|mem:32",
    weights: options.weights ?? "",
    log_level: options.logLevel,
  };
}

/**
 * Starts a master: the pure core behind one port, with the timers that drive
 * allocation, heartbeats and timeouts.
 */
export async function startMaster(options: MasterOptions, logger: Logger = createLogger("master", options.logLevel)): Promise<MasterDaemon> {
  const masterId = randomUUID();
  const info = create(MasterInfoSchema, {
    id: masterId,
    ip: ipToUint32(options.ip),
    port: options.port,
    hostname: options.hostname,
    version: VERSION,
    pid: `master@${options.ip}:${options.port}`,
    address: { hostname: options.hostname, ip: options.ip, port: options.port },
  });
  const allocator = createAllocator({
    minAllocatable: options.minAllocatableResources === undefined ? undefined : parseMinAllocatable(options.minAllocatableResources),
  });
  for (const [role, weight] of parseWeights(options.weights ?? "")) allocator.setWeight(role, weight);
  const registry = openEmbeddedRegistry(options.workDir);
  const core = createMasterCore({
    allocator,
    ids: masterIds(masterId),
    now: Date.now(),
    registry: registry.current,
    options: {
      info,
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds,
      agentReregisterTimeoutSeconds: options.agentReregisterTimeoutSeconds,
      agentPingTimeoutSeconds: options.agentPingTimeoutSeconds,
      maxAgentPingTimeouts: options.maxAgentPingTimeouts,
      offerTimeoutSeconds: options.offerTimeoutSeconds,
      flags: flagsOf(options),
      version: VERSION,
    },
  });
  // Allocation requests from a burst of events share one pass on the next
  // turn of the event loop.
  let allocationQueued: NodeJS.Immediate | undefined;
  const allocateSoon = () => {
    allocationQueued ??= setImmediate(() => {
      allocationQueued = undefined;
      void submit(core.allocateChanged(Date.now()));
    });
  };
  const sessions = createSessionTable(
    {
      request: (session, request) => {
        void submit(core.request(session, request, Date.now()));
        return [];
      },
      closed: (session) => {
        void submit(core.sessionClosed(session, Date.now()));
        return [];
      },
      allocateSoon,
    },
    logger,
  );

  // Effects wait behind registry writes in flight, in order, so no answer
  // or event gets ahead of a change that is not stored yet.
  let writes: Promise<void> = Promise.resolve();
  let batchesWaiting = 0;
  const submit = (effects: Effect[]): Promise<void> => {
    if (batchesWaiting === 0 && !effects.some((e) => e.kind === "persist")) {
      sessions.apply(effects);
      return Promise.resolve();
    }
    batchesWaiting++;
    const done = writes.then(async () => {
      for (const effect of effects) if (effect.kind === "persist") await registry.apply(effect.operation);
      sessions.apply(effects);
    });
    writes = done.then(
      () => {
        batchesWaiting--;
      },
      (err: unknown) => registryFailed(err),
    );
    return done;
  };
  // As in Mesos: a master that cannot store a change stops rather than go
  // on with state it could lose; the client got an error, not an answer.
  const registryFailed = (err: unknown): never => {
    logger.fatal({ registry: registry.location, error: String(err) }, "cannot write the registry; exiting");
    process.exit(1);
  };
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      connect: (requests, context) => sessions.serve(requests, context),
      operate: async (request) => {
        if (request.call === undefined) throw new ConnectError("Expecting 'call' to be present", Code.InvalidArgument);
        const { result, effects } = core.operate(request.call, Date.now());
        await submit(effects);
        if ("code" in result) throw toConnectError(result);
        return create(OperateResponseSchema, { response: result });
      },
    });
  const operate = async (call: OperatorCall) => {
    const { result, effects } = core.operate(call, Date.now());
    await submit(effects);
    return result;
  };
  const gateway = createMasterGateway({ core, sessions, operate, logger });
  const server = createServer({ host: options.ip, port: options.port, routes, http: gateway.hook, logger, reflection: [file_mesos_v2_mesos] });
  const bound = await server.listen();
  // The port may have been 0: tell clients the one actually bound.
  info.port = bound.port;
  info.pid = `master@${options.ip}:${bound.port}`;
  if (info.address !== undefined) info.address.port = bound.port;

  const timers = [
    setInterval(() => void submit(core.allocate(Date.now())), options.allocationIntervalSeconds * 1000),
    setInterval(() => void submit(core.heartbeat(Date.now())), options.heartbeatIntervalSeconds * 1000),
    setInterval(() => void submit(core.pingAgents(Date.now())), options.agentPingTimeoutSeconds * 1000),
    setInterval(() => void submit(core.expire(Date.now())), 1000),
  ];
  logger.info({ port: bound.port, id: masterId, version: VERSION, registry: registry.location }, "master listening");

  return {
    port: bound.port,
    core,
    async close() {
      timers.forEach(clearInterval);
      if (allocationQueued !== undefined) clearImmediate(allocationQueued);
      sessions.endAll(new ConnectError("Master is shutting down", Code.Unavailable));
      await server.close();
      logger.info("master stopped");
    },
  };
}
