import { randomUUID } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import { file_mesos_v2_mesos, MesosService } from "../../gen/mesos/v2/mesos_pb.js";
import { parseEtcdUrl } from "../etcd/url.js";
import { createLogger, type Logger } from "../log.js";
import type { GrpcStreamRoute } from "../transport/grpc-stream.js";
import type { HttpHook } from "../transport/handler.js";
import { createServer } from "../transport/server.js";
import { systemMetrics } from "../util/system-metrics.js";
import { systemTimers, type TimerHandle, type Timers } from "../util/timers.js";
import { VERSION } from "../version.js";
import { operateAnswer, operateStreamAnswers, wantsJson } from "./answer-pieces.js";
import { createEmbeddedElection, type Election, type Term } from "./election.js";
import { createEtcdCoordinator } from "./etcd/index.js";
import { type Leading, lead } from "./leading.js";
import { bindPort, masterInfoOf } from "./master-info.js";
import type { MasterOptions } from "./options.js";
import { toConnectError } from "./sessions.js";
import { type LeaderView, notLeading, standbyHttp } from "./standby.js";

export interface MasterDaemon {
  readonly port: number;
  /** True while this master holds a term as leader. */
  isLeading(): boolean;
  /**
   * Resolves if this master can never lead (e.g. a registry it cannot
   * accept): it has stopped campaigning; the caller decides how to exit.
   */
  readonly fatal: Promise<Error>;
  close(): Promise<void>;
}

/** What a master works with, for tests to replace. */
export interface MasterDeps {
  /** Replaces the election the options ask for (tests use it to slow or fail registry writes). */
  election?: Election;
  timers?: Timers;
}

/** The election the flags ask for: the embedded one unless --registry names etcd. */
function createElection(options: MasterOptions, logger: Logger): Election {
  if (options.registry === undefined) return createEmbeddedElection(options.workDir);
  const { endpoints, prefix } = parseEtcdUrl(options.registry);
  return createEtcdCoordinator({
    endpoints,
    prefix,
    electionTtlSeconds: options.electionTtlSeconds,
    tls: options.etcdTls,
    logger,
  });
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
  deps: MasterDeps = {},
): Promise<MasterDaemon> {
  const masterId = randomUUID();
  const info = masterInfoOf(masterId, options);
  const election = deps.election ?? createElection(options, logger);
  const timers = deps.timers ?? systemTimers();
  let leading: Leading | undefined;
  let recovering = false;
  let leader: MasterInfo | undefined;
  let closed = false;
  const abort = new AbortController();

  const view: LeaderView = {
    leader: () => leader,
    // Elected (etcd names this master) but still reading the registry.
    recovering: () => recovering || leader?.id === info.id,
  };
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      connect: (requests, context) => {
        if (leading === undefined) throw notLeading(view);
        return leading.sessions.serve(requests, context);
      },
      operate: async (request, context) => {
        if (request.call === undefined) throw new ConnectError("Expecting 'call' to be present", Code.InvalidArgument);
        if (leading === undefined) throw notLeading(view);
        const result = await leading.runner.operate(request.call);
        if ("code" in result) throw toConnectError(result);
        return operateAnswer(result, wantsJson(context.requestHeader.get("content-type")));
      },
      operateStream: async function* (request, context) {
        if (request.call === undefined) throw new ConnectError("Expecting 'call' to be present", Code.InvalidArgument);
        if (leading === undefined) throw notLeading(view);
        const result = await leading.runner.operate(request.call);
        if ("code" in result) throw toConnectError(result);
        yield* operateStreamAnswers(result, wantsJson(context.requestHeader.get("content-type")));
      },
    });
  const startedAt = timers.now();
  const standby = standbyHttp(view, () => ({
    "master/uptime_secs": (timers.now() - startedAt) / 1000,
    ...systemMetrics(),
  }));
  const http: HttpHook = (req, res) => (leading === undefined ? standby(req, res) : leading.gateway.hook(req, res));
  // An agent fleet opens its streams again all at once when a new master
  // leads: plain gRPC streams skip connect-node's per-stream cost. Until this
  // master leads, Connect answers them with the usual refusal.
  const streams = new Map<string, GrpcStreamRoute>([
    [`/${MesosService.typeName}/${MesosService.method.connect.name}`, (stream) => leading?.sessions.serveGrpc(stream)],
  ]);
  const server = createServer({
    host: options.ip,
    port: options.port,
    routes,
    streams,
    http,
    logger,
    reflection: [file_mesos_v2_mesos],
  });
  const bound = await server.listen();
  bindPort(info, options.ip, bound.port);
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const watch = election.watchLeader((current) => {
    leader = current;
    if (current !== undefined && current.id !== info.id) settle();
  });

  /** Waits `ms`, or less if the master is closed meanwhile. */
  const pause = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        timers.clearTimeout(timer);
        abort.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = timers.setTimeout(done, ms);
      abort.signal.addEventListener("abort", done, { once: true });
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
        await pause(1000);
        continue;
      }
      recovering = true;
      // Each term ends through its own resolver, so nothing late from an
      // earlier term can end a later one.
      let endTerm: (error: Error) => void = () => undefined;
      const ended = new Promise<Error>((resolve) => (endTerm = resolve));
      stepDown = endTerm;
      const current = lead({
        options,
        info,
        term,
        timers,
        logger,
        onRegistryFailure: (err) => {
          // A master that cannot store a change stops leading rather than go on
          // with state it could lose (the client got an error, not an answer);
          // it campaigns again and the next term starts from what is stored.
          logger.error(
            { registry: term.registry.location, error: String(err) },
            "cannot write the registry; stepping down",
          );
          endTerm(err instanceof Error ? err : new Error(String(err)));
        },
      });
      leading = current;
      leader = info;
      recovering = false;
      settle();
      logger.info({ epoch: String(term.epoch), registry: term.registry.location }, "leading");
      // Only now do clients following the election come: a leader they
      // could find while it still read its registry would turn them away.
      term
        .announce()
        .catch((err: unknown) =>
          logger.warn({ error: String(err) }, "could not announce leadership; the term is ending"),
        );
      const reason = await Promise.race([term.lost, ended]);
      leading = undefined;
      if (leader?.id === info.id) leader = undefined;
      await current.stop(
        new ConnectError(
          closed ? "Master is shutting down" : `This master no longer leads: ${reason.message}`,
          Code.Unavailable,
        ),
      );
      // A term this master ended itself (a registry write failed) still holds
      // its campaign key and announcement: give them up, or its next campaign
      // would wait behind its own key and clients would still be sent here.
      await term.resign().catch(() => undefined);
      if (closed) return;
      logger.warn({ reason: reason.message }, "lost the lead; stopped serving, campaigning again");
    }
  };
  let failed: (error: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => (failed = resolve));
  const terms = serveTerms().catch((err: unknown) => {
    // A term that cannot even start (e.g. a registry this master cannot
    // accept) is a configuration problem: say so and stop, rather than loop.
    logger.fatal({ error: String(err) }, "cannot lead with this registry");
    failed(err instanceof Error ? err : new Error(String(err)));
  });
  // Report "listening" once this master leads or knows who does (a standby),
  // or after a few seconds without either (etcd slow or leaderless).
  let waited: TimerHandle | undefined;
  await Promise.race([settled, new Promise<void>((resolve) => (waited = timers.setTimeout(resolve, 3000)))]);
  timers.clearTimeout(waited);
  logger.info({ port: bound.port, id: masterId, version: VERSION, leading: leading !== undefined }, "master listening");

  return {
    port: bound.port,
    isLeading: () => leading !== undefined,
    fatal,
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
