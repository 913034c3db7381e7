/**
 * The master's read-only endpoints that Mesos tools and dashboards read
 * (/master/state, /metrics/snapshot, ...), with Mesos' JSON shapes. Every
 * answer is computed from the same operator calls (GET_STATE, GET_MASTER,
 * GET_FLAGS, GET_ROLES) that the v1 and v2 operator APIs serve.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import { type Call, Call_Type, CallSchema, type Response } from "../../gen/mesos/v1/master/master_pb.js";
import { type Resource, type Task, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import type { CallError } from "../core/master/events.js";
import { SUMMARY_STATES } from "../core/master/metrics.js";
import type { MasterCounters } from "../core/master/views.js";
import { addResources, isAncestorOrSelf, subtractResources } from "../core/resources/index.js";
import type { Logger } from "../log.js";
import { answerError, GatewayError } from "./errors.js";
import type { JsonObject, JsonValue } from "./json.js";
import { answerJson } from "./json-answer.js";
import { createJsonBroadcast } from "./json-broadcast.js";
import { materialize } from "./json-stream.js";
import { frameworkSummary, resourcesModel, taskModel, versionModel } from "./legacy-model.js";
import {
  agentModels,
  groupBy,
  knownTasks,
  liveTasks,
  recoveredAgentModels,
  type Snapshot,
  stateDocument,
} from "./legacy-state.js";
import { metricsCall, metricsModel } from "./metrics-snapshot.js";

export interface LegacyMasterOptions {
  /** A read-only operator call (the same entry point as the v2 Operate RPC). */
  operate(call: Call): Response | CallError;
  /** What the metrics need beyond the operator calls (unreachable agents, ended task counters). */
  counters(): MasterCounters;
  now(): number;
  logger: Logger;
}

/** Answers a request if its path is one of the legacy endpoints; returns false otherwise. */
export type LegacyEndpoints = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export function createLegacyMasterEndpoints(options: LegacyMasterOptions): LegacyEndpoints {
  const read = (type: Call_Type): Response => {
    const result = options.operate(create(CallSchema, { type }));
    if ("code" in result) throw new GatewayError(500, result.message);
    return result;
  };
  const snapshot = (): Snapshot => {
    const flags: JsonObject = {};
    for (const f of read(Call_Type.GET_FLAGS).getFlags?.flags ?? []) flags[f.name] = f.value ?? "";
    return {
      state: need(read(Call_Type.GET_STATE).getState, "GET_STATE"),
      master: need(read(Call_Type.GET_MASTER).getMaster, "GET_MASTER"),
      flags,
      roles: need(read(Call_Type.GET_ROLES).getRoles, "GET_ROLES"),
      version: versionModel(read(Call_Type.GET_VERSION).getVersion?.versionInfo),
      counters: options.counters(),
    };
  };

  // The one endpoint too large to build whole: streamed, one rendering per batch of readers.
  const state = createJsonBroadcast(() => stateDocument(snapshot()), options.logger);
  const json: Record<string, (query: URLSearchParams) => JsonObject> = {
    "/master/state-summary": () => stateSummary(snapshot()),
    "/master/frameworks": (query) => {
      const m = materialize(stateDocument(snapshot())) as JsonObject;
      const wanted = matching(query, "framework_id");
      return {
        frameworks: wanted(m.frameworks),
        completed_frameworks: wanted(m.completed_frameworks),
        unregistered_frameworks: [],
      };
    },
    "/master/slaves": (query) => {
      const s = snapshot();
      return {
        slaves: matching(query, "slave_id")(materialize(agentModels(s, true))),
        recovered_slaves: matching(query, "slave_id")(recoveredAgentModels(s)),
      };
    },
    "/master/tasks": (query) => tasksModel(snapshot(), query),
    "/master/roles": () => rolesModel(snapshot()),
    "/master/flags": () => ({ flags: snapshot().flags }),
    "/metrics/snapshot": (query) => {
      const result = options.operate(
        create(CallSchema, { type: Call_Type.GET_METRICS, getMetrics: metricsCall(query) }),
      );
      if ("code" in result) throw new GatewayError(500, result.message);
      return metricsModel(result.getMetrics?.metrics ?? []);
    },
    "/version": () => snapshot().version,
  };
  const aliases: Record<string, string> = {
    "/master/state.json": "/master/state",
    "/state": "/master/state",
    "/state.json": "/master/state",
    "/master/frameworks/": "/master/frameworks",
    "/frameworks": "/master/frameworks",
    "/master/slaves/": "/master/slaves",
    "/slaves": "/master/slaves",
    "/master/tasks.json": "/master/tasks",
    "/tasks": "/master/tasks",
    "/master/roles.json": "/master/roles",
    "/roles": "/master/roles",
    "/flags": "/master/flags",
    "/state-summary": "/master/state-summary",
    "/metrics/snapshot/": "/metrics/snapshot",
    "/version/": "/version",
  };

  return (req, res, path) => {
    const route = aliases[path] ?? path;
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    try {
      if (route === "/master/health") {
        onlyGet(req);
        res.writeHead(200, { "content-length": "0" });
        res.end();
        return true;
      }
      if (route === "/master/redirect") {
        onlyGet(req);
        // With one master, the leader is this master (HA brings the real lookup).
        const info = snapshot().master.masterInfo;
        res.writeHead(307, {
          location: `//${info?.hostname ?? "localhost"}:${info?.port ?? 0}`,
          "content-length": "0",
        });
        res.end();
        return true;
      }
      if (route === "/master/state") {
        onlyGet(req);
        if (req.method === "HEAD") answerJson(res, {}, query.get("jsonp"));
        else void state.serve(res, query.get("jsonp"));
        return true;
      }
      const model = json[route];
      if (model === undefined) return false;
      onlyGet(req);
      answerJson(res, model(query), query.get("jsonp"));
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      answerError(res, err);
    }
    return true;
  };
}

/** A read call that answers without its body is a bug in the core. */
function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new GatewayError(500, `${what} answered without a body`);
  return value;
}

function onlyGet(req: IncomingMessage): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new GatewayError(405, `Expecting one of { 'GET' }, but received '${req.method ?? ""}'`, { allow: "GET" });
  }
}

const sum = (lists: Resource[][]): Resource[] => lists.reduce<Resource[]>((acc, r) => addResources(acc, r), []);

function stateCounts(tasks: Task[]): JsonObject {
  const out: JsonObject = {};
  for (const state of SUMMARY_STATES) out[TaskState[state]] = tasks.filter((t) => t.state === state).length;
  return out;
}

function stateSummary(s: Snapshot): JsonObject {
  // Grouped once: a filter per agent and per framework cost agents × tasks.
  const all = knownTasks(s);
  const byAgent = groupBy(all, (t) => t.agentId?.value ?? "");
  const byFramework = groupBy(all, (t) => t.frameworkId?.value ?? "");
  const liveByFramework = groupBy(liveTasks(s), (t) => t.frameworkId?.value ?? "");
  const agents = s.state.getAgents?.agents ?? [];
  const frameworks = s.state.getFrameworks?.frameworks ?? [];
  return {
    hostname: s.master.masterInfo?.hostname ?? "",
    slaves: (materialize(agentModels(s)) as JsonObject[]).map((model, i) => {
      const id = agents[i]?.agentInfo?.id?.value ?? "";
      const here = byAgent.get(id) ?? [];
      const {
        used_resources,
        offered_resources,
        resources,
        reserved_resources,
        unreserved_resources,
        attributes,
        pid,
        hostname,
        port,
        registered_time,
        active,
        version,
      } = model;
      return {
        id,
        pid,
        hostname,
        port,
        attributes,
        registered_time,
        resources,
        used_resources,
        offered_resources,
        reserved_resources,
        unreserved_resources,
        active,
        version,
        ...stateCounts(here),
        framework_ids: [...new Set(here.map((t) => t.frameworkId?.value ?? ""))],
      } as JsonObject;
    }),
    frameworks: frameworks.map((f) => {
      const id = f.frameworkInfo?.id?.value ?? "";
      const mine = byFramework.get(id) ?? [];
      const used = sum((liveByFramework.get(id) ?? []).map((t) => t.resources));
      return {
        ...frameworkSummary(f, used),
        ...stateCounts(mine),
        slave_ids: [...new Set(mine.map((t) => t.agentId?.value ?? ""))],
      };
    }),
  };
}

/**
 * /master/tasks: live, unreachable and completed tasks, newest first unless order=asc,
 * paged by offset and limit (default 100), filtered by framework_id and task_id.
 */
function tasksModel(s: Snapshot, query: URLSearchParams): JsonObject {
  const limit = intParam(query, "limit", 100);
  const offset = intParam(query, "offset", 0);
  const ascending = query.get("order") === "asc";
  const started = (t: Task) => t.statuses[0]?.timestamp ?? 0;
  const frameworkId = query.get("framework_id");
  const taskId = query.get("task_id");
  const all = knownTasks(s)
    .filter(
      (t) =>
        (frameworkId === null || t.frameworkId?.value === frameworkId) &&
        (taskId === null || t.taskId?.value === taskId),
    )
    .sort((a, b) => (ascending ? started(a) - started(b) : started(b) - started(a)));
  const roleOf = new Map(
    (s.state.getFrameworks?.frameworks ?? []).map((f) => [
      f.frameworkInfo?.id?.value ?? "",
      f.frameworkInfo?.role ?? "*",
    ]),
  );
  return {
    tasks: all.slice(offset, offset + limit).map((t) => taskModel(t, roleOf.get(t.frameworkId?.value ?? "") ?? "*")),
  };
}

/** Mesos' `?framework_id=` / `?slave_id=` filters: keep the models whose `id` matches, all when absent. */
function matching(query: URLSearchParams, name: string): (models: JsonValue | undefined) => JsonValue[] {
  const id = query.get(name);
  return (models) =>
    (Array.isArray(models) ? models : []).filter(
      (m) => id === null || (m !== null && typeof m === "object" && !Array.isArray(m) && m.id === id),
    );
}

/**
 * Mesos reads `limit` and `offset` as C ints (numify<int>) into size_t: a
 * value that is not an integer falls back to the default, and a negative one
 * wraps to a huge number, so `limit=-1` (what Mesos' own CLI sends) means no
 * limit and a negative offset skips every task.
 */
function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name) ?? "";
  if (!/^[+-]?\d+$/.test(raw)) return fallback;
  const n = Number(raw);
  if (n > 2 ** 31 - 1 || n < -(2 ** 31)) return fallback;
  return n < 0 ? Number.POSITIVE_INFINITY : n;
}

/**
 * /master/roles as Mesos' RoleResourceBreakdown: `allocated` is what tasks
 * use, `offered` what sits in offers, `resources` both, and `reserved` what
 * is reserved for the role or any of its sub-roles on any agent (GET_ROLES
 * lists each role's own reservations, and every role that has one).
 */
function rolesModel(s: Snapshot): JsonObject {
  const roles = s.roles.roles;
  return {
    roles: roles.map((r) => ({
      name: r.name,
      weight: r.weight ?? 1,
      resources: resourcesModel(r.allocated),
      allocated: resourcesModel(subtractResources(r.allocated, r.offered)),
      offered: resourcesModel(r.offered),
      reserved: resourcesModel(sum(roles.filter((o) => isAncestorOrSelf(r.name, o.name)).map((o) => o.reserved))),
      frameworks: r.frameworks.map((f) => f.value ?? ""),
    })),
  };
}
