import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { MasterInfoSchema, type MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { Call as OperatorCall, Response } from "../../gen/mesos/v1/master/master_pb.js";
import { MesosService, OperateResponseSchema, file_mesos_v2_mesos } from "../../gen/mesos/v2/mesos_pb.js";
import { createAllocator, parseMinAllocatable, parseWeights } from "../core/allocator/index.js";
import type { IdSource } from "../core/clock.js";
import { createMasterCore, type Effect, type MasterCore } from "../core/master/master-core.js";
import type { CallError } from "../core/master/events.js";
import { createMasterGateway, type MasterGateway } from "../gateway/master-gateway.js";
import type { HttpHook } from "../transport/handler.js";
import { LEADER_HEADER, masterEndpoint } from "../wire/masters.js";
import { createLogger, type Logger } from "../log.js";
import { createServer } from "../transport/server.js";
import { VERSION } from "../version.js";
import type { MasterOptions } from "./options.js";
import { createEmbeddedElection, type Election, type Term } from "./election.js";
import { parseEtcdUrl } from "../etcd/url.js";
import { createEtcdCoordinator } from "./etcd/index.js";
import { createSessionTable, toConnectError, type SessionTable } from "./sessions.js";

export interface MasterDaemon {
  readonly port: number;
  /** True while this master holds a term as leader. */
  isLeading(): boolean;
  close(): Promise<void>;
}

/** The election the flags ask for: the embedded one unless --registry names etcd. */
function createElection(options: MasterOptions, logger: Logger): Election {
  if (options.registry === undefined) return createEmbeddedElection(options.workDir);
  const { endpoints, prefix } = parseEtcdUrl(options.registry);
  return createEtcdCoordinator({ endpoints, prefix, electionTtlSeconds: options.electionTtlSeconds, tls: options.etcdTls, logger });
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
    registry: options.registry ?? "embedded",
    election_ttl: `${options.electionTtlSeconds}secs`,
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

/** host:port of a master, as clients dial it. */
export function masterAddress(info: MasterInfo): string {
  const { host, port } = masterEndpoint(info);
  return `${host}:${port}`;
}


/**
 * One term as leader: the core, the streams, the timers and the v1 gateway.
 * All of it is made when the term starts and dropped when it ends, so a
 * master that lost the lead keeps nothing a later term could trip over.
 */
interface Leading {
  readonly core: MasterCore;
  readonly sessions: SessionTable;
  readonly gateway: MasterGateway;
  operate(call: OperatorCall): Promise<Response | CallError>;
  /** Stops serving as leader: timers cleared, every stream ended with `error`. */
  stop(error: ConnectError): void;
}

function lead(options: MasterOptions, info: MasterInfo, term: Term, logger: Logger, onRegistryFailure: (err: unknown) => void): Leading {
  const allocator = createAllocator({
    minAllocatable: options.minAllocatableResources === undefined ? undefined : parseMinAllocatable(options.minAllocatableResources),
  });
  for (const [role, weight] of parseWeights(options.weights ?? "")) allocator.setWeight(role, weight);
  const core = createMasterCore({
    allocator,
    ids: masterIds(`${info.id}-${term.epoch}`),
    now: Date.now(),
    registry: term.registry.current,
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
  let stopped = false;
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

  /** Agents drop orders from an older epoch than one they have seen. */
  const stamp = (effects: Effect[]): Effect[] => {
    for (const e of effects) if (e.kind === "send" && e.response.event.case === "agent") e.response.event.value.leaderEpoch = term.epoch;
    return effects;
  };

  // Effects wait behind registry writes in flight, in order, so no answer
  // or event gets ahead of a change that is not stored yet.
  let writes: Promise<void> = Promise.resolve();
  let batchesWaiting = 0;
  /** The first registry write of this term that failed; the term is over then. */
  let failure: unknown;
  const submit = (effects: Effect[]): Promise<void> => {
    if (stopped || failure !== undefined) return Promise.reject(new ConnectError("This master no longer leads", Code.Unavailable));
    if (batchesWaiting === 0 && !effects.some((e) => e.kind === "persist")) {
      sessions.apply(stamp(effects));
      return Promise.resolve();
    }
    batchesWaiting++;
    const done = writes.then(async () => {
      // Once a write failed (or the term ended), nothing queued behind it may
      // be written or sent: it could depend on the change that was not stored.
      for (const effect of effects) {
        if (stopped || failure !== undefined) throw failure ?? new ConnectError("This master no longer leads", Code.Unavailable);
        if (effect.kind === "persist") await term.registry.apply(effect.operation);
      }
      if (stopped || failure !== undefined) throw failure ?? new ConnectError("This master no longer leads", Code.Unavailable);
      sessions.apply(stamp(effects));
    });
    writes = done.then(
      () => {
        batchesWaiting--;
      },
      (err: unknown) => {
        batchesWaiting--;
        if (failure !== undefined || stopped) return;
        failure = err;
        onRegistryFailure(err);
      },
    );
    return done;
  };
  const operate = async (call: OperatorCall): Promise<Response | CallError> => {
    const { result, effects } = core.operate(call, Date.now());
    await submit(effects);
    return result;
  };
  const gateway = createMasterGateway({ core, sessions, operate, logger });
  const timers = [
    setInterval(() => void submit(core.allocate(Date.now())).catch(() => undefined), options.allocationIntervalSeconds * 1000),
    setInterval(() => void submit(core.heartbeat(Date.now())).catch(() => undefined), options.heartbeatIntervalSeconds * 1000),
    setInterval(() => void submit(core.pingAgents(Date.now())).catch(() => undefined), options.agentPingTimeoutSeconds * 1000),
    setInterval(() => void submit(core.expire(Date.now())).catch(() => undefined), 1000),
  ];
  return {
    core,
    sessions,
    gateway,
    operate,
    stop(error) {
      stopped = true;
      timers.forEach(clearInterval);
      if (allocationQueued !== undefined) clearImmediate(allocationQueued);
      sessions.endAll(error);
    },
  };
}

/** Answers plain HTTP on a master that does not lead: v1 clients are sent to the leader, as Mesos does. */
function standbyHttp(leader: () => MasterInfo | undefined, recovering: () => boolean): HttpHook {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/health") return false;
    const current = leader();
    if (recovering() || current === undefined) {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end(recovering() ? "Master has not finished recovery" : "No leading master elected yet");
      return true;
    }
    const target = path === "/master/redirect" || path === "/redirect" ? "" : (req.url ?? "");
    res.writeHead(307, { location: `//${masterAddress(current)}${target}` });
    res.end();
    return true;
  };
}

/**
 * Starts a master: it listens at once, campaigns (with the embedded
 * election it leads at once), and serves as leader for each term it wins.
 * Until then, and after it loses the lead, stream clients get UNAVAILABLE
 * naming the leader and v1 clients a 307 to it.
 *
 *   listening ──campaign──► recovering (registry read, core built) ──► leading
 *       ▲                                                               │ term lost
 *       └──────────────────── streams ended, campaign again ◄───────────┘
 */
export async function startMaster(
  options: MasterOptions,
  logger: Logger = createLogger("master", options.logLevel),
  /** Replaces the election the options ask for (tests use it to slow or fail registry writes). */
  overrides: { election?: Election } = {},
): Promise<MasterDaemon> {
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
  const election = overrides.election ?? createElection(options, logger);
  let leading: Leading | undefined;
  let recovering = false;
  let leader: MasterInfo | undefined;
  let closed = false;
  const abort = new AbortController();

  const notLeading = (): ConnectError => {
    // Elected (etcd names this master) but still reading the registry.
    if (recovering || leader?.id === info.id) return new ConnectError("Master has not finished recovery", Code.Unavailable);
    if (leader === undefined) return new ConnectError("No leading master elected yet", Code.Unavailable);
    const error = new ConnectError(`Not the leading master; the leader is ${masterAddress(leader)}`, Code.Unavailable);
    error.metadata.set(LEADER_HEADER, masterAddress(leader));
    return error;
  };
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      connect: (requests, context) => {
        if (leading === undefined) throw notLeading();
        return leading.sessions.serve(requests, context);
      },
      operate: async (request) => {
        if (request.call === undefined) throw new ConnectError("Expecting 'call' to be present", Code.InvalidArgument);
        if (leading === undefined) throw notLeading();
        const result = await leading.operate(request.call);
        if ("code" in result) throw toConnectError(result);
        return create(OperateResponseSchema, { response: result });
      },
    });
  const standby = standbyHttp(
    () => leader,
    () => recovering || leader?.id === info.id,
  );
  const http: HttpHook = (req, res) => (leading === undefined ? standby(req, res) : leading.gateway.hook(req, res));
  const server = createServer({ host: options.ip, port: options.port, routes, http, logger, reflection: [file_mesos_v2_mesos] });
  const bound = await server.listen();
  // The port may have been 0: tell clients the one actually bound.
  info.port = bound.port;
  info.pid = `master@${options.ip}:${bound.port}`;
  if (info.address !== undefined) info.address.port = bound.port;
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const watch = election.watchLeader((current) => {
    leader = current;
    if (current !== undefined && current.id !== info.id) settle();
  });

  let stepDown: (error: Error) => void = () => undefined;
  const serveTerms = async (): Promise<void> => {
    while (!closed) {
      let term: Term;
      try {
        term = await election.campaign(info, abort.signal);
      } catch (err) {
        if (closed) return;
        logger.warn({ error: String(err) }, "campaign failed; trying again");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      recovering = true;
      // Each term ends through its own resolver, so nothing late from an
      // earlier term can end a later one.
      let endTerm: (error: Error) => void = () => undefined;
      const ended = new Promise<Error>((resolve) => (endTerm = resolve));
      stepDown = endTerm;
      const current = lead(options, info, term, logger, (err) => {
        // A master that cannot store a change stops leading rather than go on
        // with state it could lose (the client got an error, not an answer);
        // it campaigns again and the next term starts from what is stored.
        logger.error({ registry: term.registry.location, error: String(err) }, "cannot write the registry; stepping down");
        endTerm(err instanceof Error ? err : new Error(String(err)));
      });
      leading = current;
      leader = info;
      recovering = false;
      settle();
      logger.info({ epoch: String(term.epoch), registry: term.registry.location }, "leading");
      // Only now do clients following the election come: a leader they
      // could find while it still read its registry would turn them away.
      term.announce().catch((err: unknown) => logger.warn({ error: String(err) }, "could not announce leadership; the term is ending"));
      const reason = await Promise.race([term.lost, ended]);
      leading = undefined;
      if (leader?.id === info.id) leader = undefined;
      current.stop(new ConnectError(closed ? "Master is shutting down" : `This master no longer leads: ${reason.message}`, Code.Unavailable));
      // A term this master ended itself (a registry write failed) still holds
      // its campaign key and announcement: give them up, or its next campaign
      // would wait behind its own key and clients would still be sent here.
      await term.resign().catch(() => undefined);
      if (closed) return;
      logger.warn({ reason: reason.message }, "lost the lead; stopped serving, campaigning again");
    }
  };
  const terms = serveTerms().catch((err: unknown) => {
    // A term that cannot even start (e.g. a registry this master cannot
    // accept) is a configuration problem: say so and stop, rather than loop.
    logger.fatal({ error: String(err) }, "cannot lead with this registry; exiting");
    process.exit(1);
  });
  // Report "listening" once this master leads or knows who does (a standby),
  // or after a few seconds without either (etcd slow or leaderless).
  await Promise.race([settled, new Promise<void>((resolve) => setTimeout(resolve, 3000).unref())]);
  logger.info({ port: bound.port, id: masterId, version: VERSION, leading: leading !== undefined }, "master listening");

  return {
    port: bound.port,
    isLeading: () => leading !== undefined,
    async close() {
      closed = true;
      abort.abort();
      stepDown(new Error("Master is shutting down"));
      watch.close();
      await terms;
      await election.close();
      await server.close();
      logger.info("master stopped");
    },
  };
}
