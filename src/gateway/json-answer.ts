import type { ServerResponse } from "node:http";
import type { JsonValue } from "./json.js";
import { APPLICATION_JSON } from "./media.js";

/** A JSONP callback name Mesos' endpoints would take; anything else is ignored rather than echoed. */
const CALLBACK = /^[A-Za-z_$][\w$.]*$/;

/**
 * Answers a GET endpoint with JSON (Content-Type exactly application/json),
 * or JSONP (`callback(json);`, text/javascript) when `?jsonp=callback` is given.
 */
export function answerJson(res: ServerResponse, body: JsonValue, jsonp: string | null): void {
  const text = JSON.stringify(body);
  const padded = jsonp !== null && CALLBACK.test(jsonp);
  const payload = Buffer.from(padded ? `${jsonp}(${text});` : text, "utf8");
  res.writeHead(200, {
    "content-type": padded ? "text/javascript" : APPLICATION_JSON,
    "content-length": String(payload.byteLength),
  });
  res.end(res.req.method === "HEAD" ? undefined : payload);
}
