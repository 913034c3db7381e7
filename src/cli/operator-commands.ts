/**
 * Read-only operator commands: `plateau agents|frameworks|tasks|roles|state`.
 * Tables for people, `--json` (Mesos v1 field names) for scripts.
 */
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Call_Type,
  type Response,
  type Response_GetAgents,
  type Response_GetFrameworks,
  type Response_GetRoles,
  type Response_GetTasks,
  ResponseSchema,
} from "../../gen/mesos/v1/master/master_pb.js";
import type { Resource, Task } from "../../gen/mesos/v1/mesos_pb.js";
import { createOperator } from "../client/operator.js";
import { addResources, formatResources } from "../core/resources/index.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import { type CliIo, type Command, commonFlags } from "./command.js";
import { formatNumber, formatTable, taskStateName } from "./format.js";

/** Sum of the scalar resources called `name`. */
export function scalarSum(resources: Resource[], name: string): number {
  return resources.reduce((sum, r) => (r.name === name ? sum + (r.scalar?.value ?? 0) : sum), 0);
}

/** Rows of `plateau tasks`: running tasks first, then unreachable, then completed. */
export function tasksTable(tasks: Response_GetTasks): string {
  const all: Task[] = [...tasks.tasks, ...tasks.unreachableTasks, ...tasks.completedTasks];
  const rows = all.map((t) => [
    t.taskId?.value ?? "",
    t.name,
    t.frameworkId?.value ?? "",
    t.agentId?.value ?? "",
    taskStateName(t.state),
  ]);
  return formatTable(["ID", "NAME", "FRAMEWORK", "AGENT", "STATE"], rows);
}

/** Rows of `plateau agents`. */
export function agentsTable(agents: Response_GetAgents): string {
  const rows = agents.agents.map((a) => {
    const total = a.totalResources.length > 0 ? a.totalResources : (a.agentInfo?.resources ?? []);
    return [
      a.agentInfo?.id?.value ?? "",
      `${a.agentInfo?.hostname ?? ""}:${a.agentInfo?.port ?? ""}`,
      formatNumber(scalarSum(total, "cpus")),
      formatNumber(scalarSum(total, "mem")),
      formatNumber(scalarSum(total, "disk")),
      formatNumber(scalarSum(a.allocatedResources, "cpus")),
      formatNumber(scalarSum(a.allocatedResources, "mem")),
      a.active ? "yes" : "no",
    ];
  });
  return formatTable(["ID", "HOSTNAME", "CPUS", "MEM(MB)", "DISK(MB)", "ALLOC CPUS", "ALLOC MEM", "ACTIVE"], rows);
}

/** Rows of `plateau frameworks`; TASKS counts non-terminal tasks from `tasks`. */
export function frameworksTable(frameworks: Response_GetFrameworks, tasks: Task[]): string {
  const live = new Map<string, number>();
  for (const t of tasks) {
    if (isTerminalState(t.state)) continue;
    const id = t.frameworkId?.value ?? "";
    live.set(id, (live.get(id) ?? 0) + 1);
  }
  const rows = frameworks.frameworks.map((fw) => {
    const info = fw.frameworkInfo;
    const id = info?.id?.value ?? "";
    const roles = info === undefined ? "" : info.roles.length > 0 ? info.roles.join(",") : info.role;
    return [id, info?.name ?? "", roles, fw.active ? "yes" : "no", String(live.get(id) ?? 0)];
  });
  return formatTable(["ID", "NAME", "ROLES", "ACTIVE", "TASKS"], rows);
}

/** Rows of `plateau roles`: weight, frameworks, what is allocated, reserved and the quota limits. */
export function rolesTable(roles: Response_GetRoles): string {
  const rows = roles.roles.map((r) => [
    r.name,
    formatNumber(r.weight),
    String(r.frameworks.length),
    r.allocated.length > 0 ? formatResources(addResources([], r.allocated)) : "-",
    r.reserved.length > 0 ? formatResources(addResources([], r.reserved)) : "-",
    Object.keys(r.quotaLimits).length > 0
      ? Object.entries(r.quotaLimits)
          .map(([name, v]) => `${name}:${formatNumber(v.value)}`)
          .join("; ")
      : "-",
  ]);
  return formatTable(["ROLE", "WEIGHT", "FRAMEWORKS", "ALLOCATED", "RESERVED", "QUOTA LIMITS"], rows);
}

/** What each read command asks and how it renders the answer. */
const reads: Record<string, { summary: string; call: Call_Type; render: (r: Response) => string }> = {
  agents: {
    summary: "List agents and their resources.",
    call: Call_Type.GET_AGENTS,
    render: (r) => (r.getAgents ? agentsTable(r.getAgents) : ""),
  },
  frameworks: {
    summary: "List frameworks.",
    call: Call_Type.GET_STATE,
    render: (r) =>
      r.getState?.getFrameworks ? frameworksTable(r.getState.getFrameworks, r.getState.getTasks?.tasks ?? []) : "",
  },
  tasks: {
    summary: "List tasks (running, unreachable, completed).",
    call: Call_Type.GET_TASKS,
    render: (r) => (r.getTasks ? tasksTable(r.getTasks) : ""),
  },
  roles: {
    summary: "List roles: weight, frameworks, allocated and reserved resources, quota.",
    call: Call_Type.GET_ROLES,
    render: (r) => (r.getRoles ? rolesTable(r.getRoles) : ""),
  },
  state: {
    summary: "Show the whole cluster state: agents, frameworks and tasks.",
    call: Call_Type.GET_STATE,
    render: (r) => {
      const s = r.getState;
      if (s === undefined) return "";
      return [
        "AGENTS",
        s.getAgents ? agentsTable(s.getAgents) : "",
        "FRAMEWORKS",
        s.getFrameworks ? frameworksTable(s.getFrameworks, s.getTasks?.tasks ?? []) : "",
        "TASKS",
        s.getTasks ? tasksTable(s.getTasks) : "",
      ].join("\n");
    },
  },
};

/** A one-line message for a failed operator call, naming the master. */
export function describeCallError(master: string, err: unknown): string {
  const e = ConnectError.from(err);
  if (e.code === Code.Unavailable || e.code === Code.DeadlineExceeded) {
    return `cannot reach the master at ${master}: ${e.rawMessage}`;
  }
  return `master at ${master}: ${e.rawMessage}`;
}

async function runRead(name: string, master: string, json: boolean, io: CliIo): Promise<number> {
  const read = reads[name];
  if (read === undefined) throw new Error(`bug: no read command ${name}`);
  const operator = createOperator({ master });
  try {
    const response = await operator.call({ type: read.call });
    if (json) io.out(`${JSON.stringify(toJson(ResponseSchema, response, { useProtoFieldName: true }), null, 2)}\n`);
    else io.out(read.render(response));
    return 0;
  } catch (err) {
    io.err(`plateau ${name}: ${describeCallError(master, err)}\n`);
    return 1;
  } finally {
    await operator.close();
  }
}

/** `plateau agents`, `plateau frameworks`, `plateau tasks`, `plateau roles`, `plateau state`. */
export const operatorCommands: Command[] = Object.entries(reads).map(([name, read]) => ({
  name,
  summary: read.summary,
  usage: `plateau ${name} [--master 127.0.0.1:5050] [--json]`,
  flags: [commonFlags.master(), commonFlags.json],
  run: (flags, io) => runRead(name, flags.string("master") ?? "127.0.0.1:5050", flags.boolean("json"), io),
}));
