import type { ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CallError, ErrorCode } from "../core/master/events.js";

/**
 * An HTTP answer other than success, with Mesos' status and a plain-text
 * message. Thrown inside the gateway and turned into a response once, at the
 * endpoint's edge (`answerError`).
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

/**
 * The HTTP status of a call the core refused. Mesos rejects malformed and
 * invalid calls with 400 before they reach the master actor; a call that is
 * not served is 501 as in Mesos' NotImplemented.
 */
export function statusOf(error: CallError): number {
  switch (error.code) {
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.NOT_FOUND:
      return 400;
    case ErrorCode.FAILED_PRECONDITION:
      return 403;
    case ErrorCode.UNIMPLEMENTED:
      return 501;
    case ErrorCode.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

/** Answers with an error status and a plain-text body, unless the answer has begun. */
export function answerError(res: ServerResponse, error: GatewayError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(error.message, "utf8");
  res.writeHead(error.status, {
    ...error.headers,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.byteLength),
  });
  res.end(body);
}

/**
 * The answer to a call whose outcome never came because the master stopped
 * leading (or could not store a change) first: 503, so the client retries
 * with the leader. Anything else is a bug and is rethrown, for the
 * transport to answer 500 and log.
 */
export function notServed(error: unknown): GatewayError {
  if (error instanceof ConnectError && error.code === Code.Unavailable) return new GatewayError(503, error.rawMessage);
  throw error;
}
