/**
 * The agent's read-only endpoints that Mesos tools read (/slave(1)/state,
 * /slave(1)/flags, /metrics/snapshot, /monitor/statistics, /version), with
 * Mesos' JSON shapes, from the agent core's bookkeeping.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { isFieldSet } from "@bufbuild/protobuf";
import {
  ExecutorInfo_Type,
  ExecutorInfoSchema,
  type FrameworkInfo,
  FrameworkInfoSchema,
  type Resource,
  TaskState,
} from "../../gen/mesos/v1/mesos_pb.js";
import type { AgentCore, ExecutorRecord, TaskRecord } from "../core/agent/agent-core.js";
import { addResources, scalarOf } from "../core/resources/index.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { BuildInfo } from "../version.js";
import { agentMetrics } from "./agent-metrics.js";
import { GatewayError } from "./errors.js";
import type { JsonObject } from "./json.js";
import { answerJson } from "./json-answer.js";
import {
  attributesModel,
  reservedFullModel,
  reservedModel,
  resourcesModel,
  unreservedFullModel,
  unreservedModel,
  versionModel,
} from "./legacy-model.js";
import { metricsCall } from "./metrics-snapshot.js";

export interface LegacyAgentOptions {
  core: AgentCore;
  flags: Record<string, string>;
  version: string;
  /** When the agent's code was built. */
  build: BuildInfo;
  /** The address the agent serves on, for its pid (`slave(1)@ip:port`). */
  address: () => { ip: string; port: number };
  /** The master's host, as the agent was told. */
  masterHostname: string;
  startedAt: number;
  now(): number;
}

export type LegacyAgentEndpoints = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
) => boolean;

const sum = (lists: Resource[][]): Resource[] => lists.reduce<Resource[]>((acc, r) => addResources(acc, r), []);

export function createLegacyAgentEndpoints(options: LegacyAgentOptions): LegacyAgentEndpoints {
  const { core } = options;
  const versionOf = (): JsonObject =>
    versionModel({ version: options.version, buildTime: options.build.time, buildDate: options.build.date });
  const tasksOf = (executor: ExecutorRecord): TaskRecord[] =>
    [...executor.tasks].flatMap((id) => {
      const task = core.state.tasks.get(`${executor.frameworkId}/${id}`);
      return task === undefined ? [] : [task];
    });

  const taskModel = (task: TaskRecord): JsonObject => ({
    id: task.info.taskId?.value ?? "",
    name: task.info.name,
    framework_id: task.frameworkId,
    executor_id: task.executorId,
    slave_id: core.state.agentId ?? "",
    state: TaskState[task.state] ?? String(task.state),
    resources: resourcesModel(task.info.resources),
    role: task.info.resources[0]?.allocationInfo?.role ?? "*",
    statuses: [],
  });

  const executorModel = (executor: ExecutorRecord): JsonObject => {
    const held = tasksOf(executor);
    // As Mesos' agent shows them: ended tasks awaiting acknowledgement are completed already.
    const tasks = held.filter((t) => !isTerminalState(t.state));
    const ended = held.filter((t) => isTerminalState(t.state));
    const queued = new Set(executor.queued.map((t) => t.taskId?.value ?? ""));
    return {
      id: executor.executorId,
      name: executor.info.name,
      source: executor.info.source,
      container: executor.containerId,
      directory: executor.sandbox,
      resources: resourcesModel(sum([executor.info.resources, ...tasks.map((t) => t.info.resources)])),
      ...(isFieldSet(executor.info, ExecutorInfoSchema.field.type)
        ? { type: ExecutorInfo_Type[executor.info.type] ?? "UNKNOWN" }
        : {}),
      tasks: tasks.filter((t) => !queued.has(t.info.taskId?.value ?? "")).map(taskModel),
      queued_tasks: executor.queued.map((info) => ({
        id: info.taskId?.value ?? "",
        name: info.name,
        slave_id: core.state.agentId ?? "",
        resources: resourcesModel(info.resources),
      })),
      completed_tasks: [...executor.completedTasks, ...ended].map(taskModel),
    };
  };

  const frameworkModel = (
    id: string,
    framework: FrameworkInfo,
    executors: JsonObject[],
    completed: ExecutorRecord[],
  ) => ({
    id,
    name: framework.name,
    user: framework.user,
    failover_timeout: framework.failoverTimeout,
    checkpoint: framework.checkpoint,
    hostname: framework.hostname,
    ...(isFieldSet(framework, FrameworkInfoSchema.field.principal) ? { principal: framework.principal } : {}),
    ...(framework.roles.length > 0 ? { roles: framework.roles } : { role: framework.role }),
    executors,
    completed_executors: completed.map(executorModel),
  });

  const state = (): JsonObject => {
    const info = core.state.options.agentInfo;
    const { ip, port } = options.address();
    const executors = [...core.state.executors.values()];
    const { history } = core.state;
    // What the agent's executors and their tasks hold (Mesos: each framework's allocatedResources()).
    const allocated = sum(executors.flatMap((e) => [e.info.resources, ...tasksOf(e).map((t) => t.info.resources)]));
    return {
      ...versionOf(),
      start_time: options.startedAt / 1000,
      id: core.state.agentId ?? "",
      pid: `slave(1)@${ip}:${port}`,
      hostname: info.hostname,
      capabilities: [],
      // The total with the operator's and frameworks' reservations and volumes applied, as Mesos' agent shows it.
      resources: resourcesModel(core.state.total),
      reserved_resources: reservedModel(core.state.total),
      unreserved_resources: unreservedModel(core.state.total),
      reserved_resources_full: reservedFullModel(core.state.total),
      unreserved_resources_full: unreservedFullModel(core.state.total),
      reserved_resources_allocated: reservedModel(allocated),
      unreserved_resources_allocated: unreservedModel(allocated),
      attributes: attributesModel(info.attributes),
      master_hostname: options.masterHostname,
      flags: options.flags,
      frameworks: [...core.state.frameworks.entries()].map(([id, framework]) =>
        frameworkModel(
          id,
          framework,
          executors.filter((e) => e.frameworkId === id).map(executorModel),
          history.completedExecutors.get(id) ?? [],
        ),
      ),
      completed_frameworks: history.completedFrameworks.map((f) =>
        frameworkModel(f.info.id?.value ?? "", f.info, [], f.completedExecutors),
      ),
    };
  };

  /** Mesos' ResourceStatistics per executor; Plateau has no usage samples yet, only the limits. */
  const statistics = (): JsonObject[] =>
    [...core.state.executors.values()].map((executor) => {
      const resources = sum([executor.info.resources, ...tasksOf(executor).map((t) => t.info.resources)]);
      return {
        executor_id: executor.executorId,
        executor_name: executor.info.name,
        framework_id: executor.frameworkId,
        source: executor.info.source,
        statistics: {
          timestamp: options.now() / 1000,
          cpus_limit: scalarOf(resources, "cpus"),
          mem_limit_bytes: Math.round(scalarOf(resources, "mem") * 1024 * 1024),
        },
      };
    });

  const routes: Record<string, (query: URLSearchParams) => JsonObject | JsonObject[]> = {
    "/slave(1)/state": state,
    "/metrics/snapshot": (query) => {
      // Parsed for its refusal only: every number is at hand, so any timeout is met.
      metricsCall(query);
      return agentMetrics(core, options.startedAt, options.now());
    },
    "/slave(1)/flags": () => ({ flags: options.flags }),
    "/monitor/statistics": statistics,
    "/version": versionOf,
  };
  const aliases: Record<string, string> = {
    "/slave(1)/state.json": "/slave(1)/state",
    "/state": "/slave(1)/state",
    "/state.json": "/slave(1)/state",
    "/flags": "/slave(1)/flags",
    "/monitor/statistics.json": "/monitor/statistics",
  };

  return (req, res, path, query) => {
    const model = routes[aliases[path] ?? path];
    if (model === undefined) return false;
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new GatewayError(405, `Expecting one of { 'GET' }, but received '${req.method ?? ""}'`, { allow: "GET" });
    answerJson(res, model(query), query.get("jsonp"));
    return true;
  };
}
