/**
 * /metrics/snapshot on masters and agents: the GET_METRICS answer as
 * Mesos' flat JSON object, with Mesos' `timeout` parameter.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Call_GetMetricsSchema } from "../../gen/mesos/v1/master/master_pb.js";
import type { Metric } from "../../gen/mesos/v1/mesos_pb.js";
import { parseDuration } from "../util/system-metrics.js";
import { GatewayError } from "./errors.js";
import type { JsonObject } from "./json.js";

/** GET_METRICS for /metrics/snapshot's `timeout` (Mesos' Duration text); 400 when it does not parse, as in Mesos. */
export function metricsCall(query: URLSearchParams): MessageInitShape<typeof Call_GetMetricsSchema> {
  const text = query.get("timeout");
  if (text === null) return {};
  const ms = parseDuration(text);
  if (typeof ms === "string") throw new GatewayError(400, `Invalid timeout '${text}': ${ms}.`);
  return { timeout: { nanoseconds: BigInt(Math.round(ms * 1e6)) } };
}

/** /metrics/snapshot's object of name to value, from GET_METRICS' list. */
export function metricsModel(metrics: Metric[]): JsonObject {
  const out: JsonObject = {};
  for (const m of metrics) if (m.name !== undefined) out[m.name] = m.value ?? 0;
  return out;
}
