/**
 * A standby's watch over the leader's process, so that a leader whose
 * process died is replaced at once rather than after its lease runs out.
 *
 *   announced leader ──connect, GET_MASTER names it──► watching (one idle HTTP/2 connection)
 *                                                          │ connection closed
 *                                                          ▼
 *                  port keeps accepting ◄──── probe: TCP connect to its address
 *                  (watch again)                    │ refused, 3 times in a row
 *                                                   ▼
 *                                        revoke the leader's lease
 *
 * Only refused connections count, and only to an address this standby has
 * seen that very master answer at, right after the connection to it
 * closed: the process is gone, not slow or cut off. A paused or
 * partitioned leader keeps its socket (or gives timeouts, not refusals) and
 * its lease until the TTL runs out; so does one whose host died, and one
 * that died before this standby reached it. What could still refuse a live
 * leader is a firewall rule added to REJECT it, or a listen queue
 * overflowing with tcp_abort_on_overflow set: the repeated probe rules out
 * the second, and either way fencing keeps the registry safe: the deposed
 * master only loses the lead and campaigns again.
 */
import * as http2 from "node:http2";
import { connect as tcpConnect } from "node:net";
import type { Etcd3 } from "etcd3";
import type { MasterInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import type { AnnouncedLeader, LeaderWatch } from "../../etcd/leader-watch.js";
import type { Logger } from "../../log.js";
import { masterEndpoint } from "../../wire/masters.js";

/** How long to wait for the leader to confirm who it is. */
const IDENTIFY_TIMEOUT_MS = 5_000;
/** After the leader turned out alive (or could not be asked), before watching it again; doubled up to the max. */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 5_000;
/** Refusals in a row, this far apart, that make the process gone. */
const PROBES = 3;
const PROBE_INTERVAL_MS = 100;
/**
 * Accepted probes after which the leader counts as alive. Not one: a
 * process being killed may close its connections while its listening
 * socket still accepts for a moment.
 */
const ACCEPTS_BEFORE_ALIVE = 10;

export interface LeaderLivenessOptions {
  readonly client: Etcd3;
  /** This master's id: it never watches itself. */
  readonly selfId: string;
  readonly logger: Logger;
  /** Reports the announced leader now and at each change (see watchAnnouncedLeader). */
  readonly follow: (onChange: (leader: AnnouncedLeader | undefined) => void) => LeaderWatch;
}

/** Watches whichever master is announced as leader until closed. */
export function watchLeaderLiveness(options: LeaderLivenessOptions): LeaderWatch {
  let current: LeaderProcessWatch | undefined;
  const follow = options.follow((leader) => {
    if (current !== undefined && current.leader.info.id === leader?.info.id && current.leader.lease === leader.lease)
      return;
    current?.close();
    current =
      leader === undefined || leader.info.id === options.selfId ? undefined : new LeaderProcessWatch(leader, options);
  });
  return {
    close() {
      follow.close();
      current?.close();
      current = undefined;
    },
  };
}

function addressOf(info: MasterInfo): { host: string; port: number } | undefined {
  const endpoint = masterEndpoint(info);
  return endpoint.host === "" || endpoint.port === 0 ? undefined : endpoint;
}

class LeaderProcessWatch {
  private closed = false;
  private session: http2.ClientHttp2Session | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MS;

  constructor(
    readonly leader: AnnouncedLeader,
    private readonly options: LeaderLivenessOptions,
  ) {
    this.watch();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.session?.destroy();
    this.session = undefined;
  }

  private later(what: () => void, ms = this.nextRetry()): void {
    clearTimeout(this.timer);
    if (!this.closed) this.timer = setTimeout(what, ms);
  }

  private nextRetry(): number {
    const ms = this.retryMs;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    return ms;
  }

  private watch(): void {
    const address = addressOf(this.leader.info);
    if (this.closed || address === undefined) return;
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(
        `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`,
      );
    } catch (err) {
      // Another master's MasterInfo with an address Node cannot dial: nothing to watch.
      this.options.logger.warn(
        { leader: this.leader.info.id, error: String(err) },
        "cannot dial the leading master's address; not watching its process",
      );
      return;
    }
    this.session = session;
    let identified = false;
    session.on("error", () => undefined);
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
      if (this.closed) return;
      this.options.logger.debug(
        { leader: this.leader.info.id, identified },
        "the connection to the leading master closed",
      );
      if (identified) this.probe(address, PROBES, ACCEPTS_BEFORE_ALIVE);
      else this.later(() => this.watch());
    });
    void identify(session).then((id) => {
      if (this.closed || this.session !== session) return;
      if (id === this.leader.info.id) {
        identified = true;
        this.retryMs = RETRY_MS;
        this.options.logger.info(
          { leader: this.leader.info.id, address: `${address.host}:${address.port}` },
          "watching the leading master's process",
        );
        // Only the close of this connection matters now: keep the process alive without it.
        session.unref();
        return;
      }
      this.options.logger.debug(
        { leader: this.leader.info.id, answered: id ?? "nothing" },
        "the announced leader's address does not answer as that master; not watching its process",
      );
      session.destroy();
    });
  }

  /** The connection to a leader that had answered closed: is anything still listening there? */
  private probe(address: { host: string; port: number }, refusalsNeeded: number, acceptsLeft: number): void {
    const socket = tcpConnect({ host: address.host, port: address.port });
    // Anything but a refusal (accepted, reset, timed out) leaves the question open for a while.
    const notRefused = (what: string): void => {
      if (this.closed) return;
      if (acceptsLeft > 1) return this.later(() => this.probe(address, PROBES, acceptsLeft - 1), PROBE_INTERVAL_MS);
      this.options.logger.debug({ leader: this.leader.info.id, last: what }, "the leading master's port still answers");
      this.later(() => this.watch());
    };
    socket.once("connect", () => {
      socket.destroy();
      notRefused("accepted");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (this.closed) return;
      if (error.code !== "ECONNREFUSED") return notRefused(error.code ?? error.message);
      if (refusalsNeeded > 1)
        return this.later(() => this.probe(address, refusalsNeeded - 1, acceptsLeft), PROBE_INTERVAL_MS);
      this.options.logger.warn(
        { leader: this.leader.info.id, address: `${address.host}:${address.port}` },
        "the leading master's port refuses connections (its process is gone): revoking its lease rather than waiting out the TTL",
      );
      this.options.client.leaseClient.leaseRevoke({ ID: this.leader.lease }).catch((err: unknown) => {
        // Already expired or revoked: the election has moved on either way.
        this.options.logger.debug({ error: String(err) }, "revoking the dead leader's lease failed");
      });
    });
  }
}

/** The master id the server at the other end of `session` answers GET_MASTER with (Connect protocol, JSON). */
function identify(session: http2.ClientHttp2Session): Promise<string | undefined> {
  return new Promise((resolve) => {
    let request: http2.ClientHttp2Stream;
    try {
      request = session.request({
        ":method": "POST",
        ":path": "/mesos.v2.MesosService/Operate",
        "content-type": "application/json",
        "connect-protocol-version": "1",
      });
    } catch {
      return resolve(undefined);
    }
    const timer = setTimeout(() => request.close(http2.constants.NGHTTP2_CANCEL), IDENTIFY_TIMEOUT_MS);
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("error", () => undefined);
    request.on("close", () => {
      clearTimeout(timer);
      try {
        const answer = JSON.parse(body) as { response?: { getMaster?: { masterInfo?: { id?: unknown } } } };
        const id = answer.response?.getMaster?.masterInfo?.id;
        resolve(typeof id === "string" ? id : undefined);
      } catch {
        resolve(undefined);
      }
    });
    request.end(JSON.stringify({ call: { type: "GET_MASTER" } }));
  });
}
