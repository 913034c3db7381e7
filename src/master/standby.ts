/**
 * A master that does not lead (a standby, or one still reading its
 * registry) answers clients with where to go: v2 calls get UNAVAILABLE
 * naming the leader in the `plateau-leader` trailer, v1 clients a 307 to
 * it, as Mesos redirects them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import { answerError, GatewayError } from "../gateway/errors.js";
import { answerJson } from "../gateway/json-answer.js";
import { metricsCall } from "../gateway/metrics-snapshot.js";
import type { HttpHook } from "../transport/handler.js";
import { LEADER_HEADER } from "../wire/masters.js";
import { masterAddress } from "./master-info.js";

export interface LeaderView {
  /** The announced leader, if any. */
  leader(): MasterInfo | undefined;
  /** Elected (etcd names this master) but still reading the registry. */
  recovering(): boolean;
}

/** The v2 refusal of a call to a master that does not lead. */
export function notLeading(view: LeaderView): ConnectError {
  const leader = view.leader();
  if (view.recovering()) return new ConnectError("Master has not finished recovery", Code.Unavailable);
  if (leader === undefined) return new ConnectError("No leading master elected yet", Code.Unavailable);
  const error = new ConnectError(`Not the leading master; the leader is ${masterAddress(leader)}`, Code.Unavailable);
  error.metadata.set(LEADER_HEADER, masterAddress(leader));
  return error;
}

/**
 * Answers plain HTTP on a master that does not lead. /metrics/snapshot is
 * its own (`master/elected: 0`): scrapers poll every master, and a redirect
 * would report the leader's numbers twice and never this master's.
 * `metrics` gives the numbers a standby can tell (uptime, the host's).
 */
export function standbyHttp(view: LeaderView, metrics: () => Record<string, number>): HttpHook {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/health") return false;
    if (path === "/metrics/snapshot" || path === "/metrics/snapshot/") {
      standbyMetrics(req, res, metrics);
      return true;
    }
    const current = view.leader();
    if (view.recovering() || current === undefined) {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end(view.recovering() ? "Master has not finished recovery" : "No leading master elected yet");
      return true;
    }
    const target = path === "/master/redirect" || path === "/redirect" ? "" : (req.url ?? "");
    res.writeHead(307, { location: `//${masterAddress(current)}${target}` });
    res.end();
    return true;
  };
}

function standbyMetrics(req: IncomingMessage, res: ServerResponse, metrics: () => Record<string, number>): void {
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  try {
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new GatewayError(405, `Expecting one of { 'GET' }, but received '${req.method ?? ""}'`, { allow: "GET" });
    // Parsed for its refusal only: a standby's numbers are all at hand, so any timeout is met.
    metricsCall(query);
    answerJson(res, { ...metrics(), "master/elected": 0 }, query.get("jsonp"));
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    answerError(res, err);
  }
}
