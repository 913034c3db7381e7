/**
 * The cluster the state bench reads: simulated agents (one unified agent
 * stream each, shared HTTP/2 connections) that register with tasks of many
 * frameworks and then finish some of them, as a real agent would report
 * tasks that ran and ended. The shape is Mesos' MasterStateQuery benchmark
 * (20,000 agents, 10 running and 10 completed tasks each), with one
 * difference: Mesos' simulated agents hand the master completed frameworks
 * at re-registration, which a Plateau agent never does; here the tasks end
 * through TASK_FINISHED status updates, the road every completed task takes.
 *
 * Frameworks are recovered ones (known only from the agents' reports, no
 * scheduler), so nothing acknowledges the updates: the master keeps each
 * finished task among its framework's completed tasks (the newest
 * --max-completed-tasks-per-framework), which is what the state shows.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  AgentIDSchema,
  AgentInfoSchema,
  type FrameworkInfo,
  FrameworkInfoSchema,
  type Task,
  TaskSchema,
  TaskState,
  TaskStatus_Source,
} from "../gen/mesos/v1/mesos_pb.js";
import { type ConnectRequest, ConnectRequestSchema, type ConnectResponse } from "../gen/mesos/v2/mesos_pb.js";
import { openStream, type UnifiedStream } from "../src/client/stream.js";
import { parseResources } from "../src/core/resources/index.js";
import { SessionPool } from "./session-pool.js";
import { SIM_AGENT_RESOURCES, SIM_TASK_RESOURCES } from "./sim-agents.js";

export interface StateFleetOptions {
  /** "127.0.0.1:port" of one master. */
  master: string;
  agents: number;
  /** Tasks each agent keeps running. */
  runningPerAgent: number;
  /** Tasks each agent reports running and then finishes. */
  finishedPerAgent: number;
  /** Tasks are spread over this many frameworks, round robin. */
  frameworks: number;
}

export interface StateFleet {
  /** Resolves once every agent got Registered and sent its TASK_FINISHED updates. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Streams per HTTP/2 connection: under the master's 1,000 concurrent streams. */
const STREAMS_PER_CONNECTION = 500;

export function frameworkInfos(count: number): FrameworkInfo[] {
  return Array.from({ length: count }, (_, i) =>
    // A week's failover timeout: with no scheduler, a recovered framework is
    // otherwise removed at once, and its tasks killed.
    create(FrameworkInfoSchema, {
      user: "bench",
      name: `state-${i}`,
      id: { value: `fw-state-${i}` },
      failoverTimeout: 7 * 86_400,
    }),
  );
}

export interface Plan {
  tasks: Task[];
  /** The tasks to finish once registered. */
  finishing: Task[];
  frameworks: FrameworkInfo[];
}

/**
 * Agent `a`'s tasks: running ones over frameworks (a·R + t) mod F and
 * finishing ones over (a·C + t) mod F, so every framework gets an equal
 * share of each kind.
 */
export function planOf(a: number, options: StateFleetOptions, frameworks: FrameworkInfo[]): Plan {
  const resources = parseResources(SIM_TASK_RESOURCES);
  const make = (id: string, framework: FrameworkInfo) =>
    create(TaskSchema, {
      name: id,
      taskId: { value: id },
      frameworkId: framework.id,
      state: TaskState.TASK_RUNNING,
      resources,
    });
  const running = Array.from({ length: options.runningPerAgent }, (_, t) =>
    make(`run-${a}-${t}`, frameworks[(a * options.runningPerAgent + t) % frameworks.length] as FrameworkInfo),
  );
  const finishing = Array.from({ length: options.finishedPerAgent }, (_, t) =>
    make(`fin-${a}-${t}`, frameworks[(a * options.finishedPerAgent + t) % frameworks.length] as FrameworkInfo),
  );
  const tasks = [...running, ...finishing];
  const ids = new Set(tasks.map((t) => t.frameworkId?.value));
  return { tasks, finishing, frameworks: frameworks.filter((f) => ids.has(f.id?.value)) };
}

export function registerRequest(a: number, agentId: string, plan: Plan): ConnectRequest {
  const id = create(AgentIDSchema, { value: agentId });
  for (const task of plan.tasks) task.agentId = id;
  return create(ConnectRequestSchema, {
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: create(AgentInfoSchema, {
              hostname: `state-agent-${a}`,
              port: 0,
              resources: parseResources(SIM_AGENT_RESOURCES),
              id,
            }),
            tasks: plan.tasks,
            frameworks: plan.frameworks,
            version: "bench",
          },
        },
      },
    },
  });
}

export function finished(task: Task, agentId: string): ConnectRequest {
  return create(ConnectRequestSchema, {
    call: {
      case: "agent",
      value: {
        call: {
          case: "statusUpdate",
          value: {
            frameworkId: task.frameworkId,
            status: {
              taskId: task.taskId,
              state: TaskState.TASK_FINISHED,
              source: TaskStatus_Source.EXECUTOR,
              agentId: { value: agentId },
              uuid: Buffer.from(randomUUID().replaceAll("-", ""), "hex"),
              timestamp: Date.now() / 1000,
            },
          },
        },
      },
    },
  });
}

const HEARTBEAT = create(ConnectRequestSchema, {
  call: { case: "agent", value: { call: { case: "heartbeat", value: {} } } },
});

/** Starts every agent at once; `ready` resolves when all registered and finished their tasks. */
export function startStateFleet(options: StateFleetOptions): StateFleet {
  const frameworks = frameworkInfos(options.frameworks);
  const sessions = new SessionPool(Math.max(1, Math.ceil(options.agents / STREAMS_PER_CONNECTION)));
  const streams: UnifiedStream[] = [];
  let pending = options.agents;
  let done: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (done = resolve));
  if (pending === 0) done();
  for (let a = 0; a < options.agents; a++) {
    const plan = planOf(a, options, frameworks);
    // Ids chosen here, so the first registration already carries tasks
    // (the master takes tasks only from an agent that names its id).
    const agentId = `state-agent-${a}`;
    let reported = false;
    const stream: UnifiedStream = openStream({
      baseUrl: options.master,
      hello: () => registerRequest(a, agentId, plan),
      onEvent: (response: ConnectResponse) => {
        if (response.event.case !== "agent") return;
        const event = response.event.value.event;
        if (event.case === "heartbeat") stream.send(HEARTBEAT);
        if (event.case !== "registered" || reported) return;
        reported = true;
        const updates = plan.finishing.map((task) => finished(task, agentId));
        // Registered can arrive before the stream counts itself connected
        // (send() then refuses): try again shortly rather than lose updates.
        const sendAll = (): void => {
          while (updates.length > 0 && stream.send(updates[0] as ConnectRequest)) updates.shift();
          if (updates.length > 0) setTimeout(sendAll, 20);
          else if (--pending === 0) done();
        };
        sendAll();
      },
      reconnect: { initialMs: 200, maxMs: 5000 },
      sessionManager: sessions.forStream(a),
      closeGraceMs: 200,
    });
    streams.push(stream);
  }
  return {
    ready,
    async close() {
      await Promise.all(streams.map((s) => s.close()));
      sessions.abort();
    },
  };
}
