/**
 * Mesos' JSON models for its read-only endpoints (/master/state and
 * friends), which are not protobuf JSON: resources become an object of
 * totals (`{"cpus": 1, "mem": 128, "ports": "[31000-31005]"}`), ids become
 * plain strings, times become seconds, and agents are "slaves". Built from
 * the v1 operator `Response` messages, so the endpoints show exactly what
 * GET_STATE shows.
 */
import { clone, create, isFieldSet } from "@bufbuild/protobuf";
import type {
  Response_GetAgents_Agent,
  Response_GetFrameworks_Framework,
} from "../../gen/mesos/v1/master/master_pb.js";
import {
  type AgentInfo,
  AgentInfo_Capability_Type,
  type Attribute,
  DomainInfoSchema,
  type ExecutorInfo,
  ExecutorInfoSchema,
  FrameworkInfo_Capability_Type,
  FrameworkInfoSchema,
  type Labels,
  LabelsSchema,
  type Resource,
  Resource_ReservationInfo_Type,
  Resource_ReservationInfoSchema,
  ResourceSchema,
  type Task,
  TaskSchema,
  TaskState,
  type TaskStatus,
  TaskStatusSchema,
  type TimeInfo,
  Value_Type,
} from "../../gen/mesos/v1/mesos_pb.js";
import { addResources, reservationRole } from "../core/resources/index.js";
import { type JsonObject, type JsonValue, toMesosJson } from "./json.js";
import { lazyList, RawJson, StreamedObject } from "./json-stream.js";

/** `[31000-31005, 31007-31007]`, as Mesos prints Value.Ranges. */
function rangesText(resource: Resource): string {
  const ranges = (resource.ranges?.range ?? []).map((r) => `${r.begin}-${r.end}`);
  return `[${ranges.join(", ")}]`;
}

/** Totals by resource name; cpus, gpus, mem and disk always present. */
export function resourcesModel(resources: Resource[]): JsonObject {
  const out: JsonObject = { cpus: 0, gpus: 0, mem: 0, disk: 0 };
  for (const r of addResources([], resources)) {
    const name = r.revocable !== undefined ? `${r.name}_revocable` : r.name;
    if (r.type === Value_Type.SCALAR)
      out[name] = round(((out[name] as number | undefined) ?? 0) + (r.scalar?.value ?? 0));
    else if (r.type === Value_Type.RANGES) out[name] = rangesText(r);
    else if (r.type === Value_Type.SET) out[name] = `{${(r.set?.item ?? []).join(", ")}}`;
  }
  return out;
}

/**
 * Mesos' Resources::reservations(): the reserved resources grouped by the
 * role of their innermost reservation, in the order the roles first appear.
 */
function reservationsByRole(resources: Resource[]): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of resources) {
    const role = reservationRole(r);
    if (role !== "*") out.set(role, [...(out.get(role) ?? []), r]);
  }
  return out;
}

const unreserved = (resources: Resource[]): Resource[] => resources.filter((r) => reservationRole(r) === "*");

/** `reserved_resources`: role to totals. */
export function reservedModel(resources: Resource[]): JsonObject {
  const out: JsonObject = {};
  for (const [role, list] of reservationsByRole(resources)) out[role] = resourcesModel(list);
  return out;
}

/** `unreserved_resources`: the totals of what no role holds. */
export const unreservedModel = (resources: Resource[]): JsonObject => resourcesModel(unreserved(resources));

/**
 * One resource as Mesos' `*_full` fields write it (its ENDPOINT format): the
 * protobuf JSON, with the pre-refinement `role` (and, for a dynamic
 * reservation, `reservation`) filled in beside `reservations` when there is
 * at most one reservation, so tools written before refinement still read it.
 */
export function resourceFullModel(resource: Resource): JsonObject {
  const copy = clone(ResourceSchema, resource);
  const [only, ...more] = copy.reservations;
  if (only === undefined) copy.role = copy.role || "*";
  else if (more.length === 0) {
    copy.role = only.role;
    if (only.type === Resource_ReservationInfo_Type.DYNAMIC)
      copy.reservation = create(Resource_ReservationInfoSchema, {
        principal: isFieldSet(only, Resource_ReservationInfoSchema.field.principal) ? only.principal : undefined,
        labels: only.labels,
      });
  }
  return toMesosJson(ResourceSchema, copy);
}

/** `reserved_resources_full`: role to the full resources reserved for it. */
export function reservedFullModel(resources: Resource[]): JsonObject {
  const out: JsonObject = {};
  for (const [role, list] of reservationsByRole(resources)) out[role] = list.map(resourceFullModel);
  return out;
}

/** `unreserved_resources_full`. */
export const unreservedFullModel = (resources: Resource[]): JsonValue[] => unreserved(resources).map(resourceFullModel);

/** Mesos rounds scalars to three decimals; so do we, to hide float noise. */
const round = (n: number): number => Math.round(n * 1000) / 1000;

export function attributesModel(attributes: Attribute[]): JsonObject {
  const out: JsonObject = {};
  for (const a of attributes) {
    if (a.type === Value_Type.SCALAR) out[a.name] = a.scalar?.value ?? 0;
    else if (a.type === Value_Type.RANGES)
      out[a.name] = `[${(a.ranges?.range ?? []).map((r) => `${r.begin}-${r.end}`).join(", ")}]`;
    else if (a.type === Value_Type.SET) out[a.name] = `{${(a.set?.item ?? []).join(", ")}}`;
    else out[a.name] = a.text?.value ?? "";
  }
  return out;
}

export const seconds = (time: TimeInfo | undefined): number =>
  time === undefined ? 0 : Number(time.nanoseconds) / 1e9;

function statusModel(status: TaskStatus): JsonObject {
  const out: JsonObject = { state: TaskState[status.state] ?? String(status.state), timestamp: status.timestamp };
  if (status.labels !== undefined) out.labels = labelsModel(status.labels);
  if (isFieldSet(status, TaskStatusSchema.field.healthy)) out.healthy = status.healthy;
  return out;
}

/** Mesos writes Labels as the bare list of {key, value}. */
function labelsModel(labels: Labels): JsonValue {
  return toMesosJson(LabelsSchema, labels).labels ?? [];
}

export function taskModel(task: Task, role: string): JsonObject {
  const out: JsonObject = {
    id: task.taskId?.value ?? "",
    name: task.name,
    framework_id: task.frameworkId?.value ?? "",
    executor_id: task.executorId?.value ?? "",
    slave_id: task.agentId?.value ?? "",
    state: TaskState[task.state] ?? String(task.state),
    resources: resourcesModel(task.resources),
    role: task.resources[0]?.allocationInfo?.role ?? role,
    statuses: task.statuses.map(statusModel),
  };
  if (isFieldSet(task, TaskSchema.field.user)) out.user = task.user;
  if (task.labels !== undefined) out.labels = labelsModel(task.labels);
  return out;
}

/** A task's JSON as last written, with what it was written from. */
interface WrittenTask {
  statuses: TaskStatus[];
  state: TaskState;
  role: string;
  json: RawJson;
}

/**
 * The master changes a task only through its status moves, which set its
 * state and replace its `statuses` list (task-bookkeeping.ts): while both
 * are as they were, so is its JSON. Held as long as the task is.
 */
const writtenTasks = new WeakMap<Task, WrittenTask>();

/**
 * taskModel's JSON text, kept per task: a large cluster's /master/state is
 * mostly tasks that did not change since the last read (every completed
 * one), and writing each anew was most of the read's time.
 */
export function taskJson(task: Task, role: string): RawJson {
  const written = writtenTasks.get(task);
  if (written?.statuses === task.statuses && written.state === task.state && written.role === role) return written.json;
  const json = new RawJson(JSON.stringify(taskModel(task, role)));
  writtenTasks.set(task, { statuses: task.statuses, state: task.state, role, json });
  return json;
}

/** What /master/state says about an agent (Mesos' SlaveWriter). */
export function agentModel(agent: Response_GetAgents_Agent, used: Resource[]): JsonObject {
  const info = agent.agentInfo;
  const out: JsonObject = {
    id: info?.id?.value ?? "",
    hostname: info?.hostname ?? "",
    port: info?.port ?? 0,
    attributes: attributesModel(info?.attributes ?? []),
    pid: agent.pid ?? "",
    registered_time: seconds(agent.registeredTime),
  };
  if (agent.reregisteredTime !== undefined) out.reregistered_time = seconds(agent.reregisteredTime);
  Object.assign(out, {
    resources: resourcesModel(agent.totalResources),
    used_resources: resourcesModel(used),
    offered_resources: resourcesModel(agent.offeredResources),
    reserved_resources: reservedModel(agent.totalResources),
    unreserved_resources: unreservedModel(agent.totalResources),
    active: agent.active ?? false,
    deactivated: agent.deactivated ?? false,
    version: agent.version ?? "",
    capabilities: agent.capabilities.map((c) => AgentInfo_Capability_Type[c.type] ?? String(c.type)),
  });
  return out;
}

/** An agent the master knows only from its registry, not re-registered yet (Mesos' `json(SlaveInfo)`). */
export function recoveredAgentModel(info: AgentInfo): JsonObject {
  const out: JsonObject = {
    id: info.id?.value ?? "",
    hostname: info.hostname,
    port: info.port,
    attributes: attributesModel(info.attributes),
  };
  if (info.domain !== undefined) out.domain = toMesosJson(DomainInfoSchema, info.domain);
  return out;
}

/**
 * What /master/slaves says about an agent (Mesos' SlavesWriter): the
 * /master/state model plus the full resources, which tools copy into
 * UNRESERVE and DESTROY_VOLUMES calls.
 */
export function agentFullModel(agent: Response_GetAgents_Agent, used: Resource[]): JsonObject {
  return {
    ...agentModel(agent, used),
    reserved_resources_full: reservedFullModel(agent.totalResources),
    unreserved_resources_full: unreservedFullModel(agent.totalResources),
    used_resources_full: used.map(resourceFullModel),
    offered_resources_full: agent.offeredResources.map(resourceFullModel),
  };
}

/** The tasks of one framework, for its model. */
export interface FrameworkTasks {
  tasks: Task[];
  /** On agents marked unreachable: they may come back. */
  unreachable: Task[];
  completed: Task[];
  executors: { info: ExecutorInfo; agentId: string }[];
}

/** Mesos' summary of a framework (state-summary, and the head of the full model). */
export function frameworkSummary(framework: Response_GetFrameworks_Framework, used: Resource[]): JsonObject {
  const info = framework.frameworkInfo;
  return {
    id: info?.id?.value ?? "",
    name: info?.name ?? "",
    used_resources: resourcesModel(used),
    offered_resources: resourcesModel(framework.offeredResources),
    capabilities: (info?.capabilities ?? []).map((c) => capabilityName(c.type)),
    hostname: info?.hostname ?? "",
    webui_url: info?.webuiUrl ?? "",
    active: framework.active ?? false,
    connected: framework.connected ?? false,
    recovered: framework.recovered ?? false,
  };
}

const capabilityName = (type: number): string => FrameworkInfo_Capability_Type[type] ?? String(type);

/**
 * What /master/state and /master/frameworks say about a framework (Mesos'
 * FullFrameworkWriter), with its task lists made while written: a framework
 * can hold hundreds of thousands of tasks.
 */
export function frameworkModel(framework: Response_GetFrameworks_Framework, tasks: FrameworkTasks): StreamedObject {
  const info = framework.frameworkInfo;
  // What its live tasks use, summed by the core's view (kept there while they do not change).
  const used = framework.allocatedResources;
  const role = info?.role ?? "*";
  const head: JsonObject = {
    ...frameworkSummary(framework, used),
    user: info?.user ?? "",
    failover_timeout: info?.failoverTimeout ?? 0,
    checkpoint: info?.checkpoint ?? false,
    registered_time: seconds(framework.registeredTime),
    unregistered_time: seconds(framework.unregisteredTime),
  };
  if (info !== undefined && isFieldSet(info, FrameworkInfoSchema.field.principal)) head.principal = info.principal;
  head.resources = resourcesModel(addResources(used, framework.offeredResources));
  if (framework.reregisteredTime !== undefined) head.reregistered_time = seconds(framework.reregisteredTime);
  if ((info?.roles.length ?? 0) > 0) head.roles = info?.roles ?? [];
  else head.role = role;
  const task = (t: Task) => taskJson(t, role);
  return new StreamedObject([
    ...Object.entries(head),
    ["tasks", lazyList(tasks.tasks, task)],
    ["unreachable_tasks", lazyList(tasks.unreachable, task)],
    ["completed_tasks", lazyList(tasks.completed, task)],
    [
      "offers",
      framework.offers.map((o) => ({
        id: o.id?.value ?? "",
        framework_id: o.frameworkId?.value ?? "",
        slave_id: o.agentId?.value ?? "",
        resources: resourcesModel(o.resources),
      })),
    ],
    ["executors", tasks.executors.map((e) => ({ ...toMesosJson(ExecutorInfoSchema, e.info), slave_id: e.agentId }))],
    ["labels", info?.labels === undefined ? undefined : labelsModel(info.labels)],
  ]);
}

/**
 * Mesos' version fields (/version, and the head of /master/state and
 * /slave(1)/state). Git fields are left out, as Mesos leaves them out of a
 * build that did not record them.
 */
export function versionModel(
  info: { version?: string; buildDate?: string; buildTime?: number; buildUser?: string } | undefined,
): JsonObject {
  return {
    version: info?.version ?? "",
    build_date: info?.buildDate ?? "",
    build_time: info?.buildTime ?? 0,
    build_user: info?.buildUser ?? "",
  };
}
