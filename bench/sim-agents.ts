/**
 * Simulated agents for the HA benchmark: each is what a `plateau agent`
 * says to the master and nothing more. It holds one unified stream (agent
 * role) to `etcd://...`, registers with its AgentInfo and the tasks it
 * "runs" (TASK_RUNNING, never started anywhere), re-registers with the id
 * the master gave it after any drop, and answers each Heartbeat. Its
 * reconnect policy is the real agent's (src/agent/master-link.ts), since that
 * policy decides how fast a fleet comes back after a failover.
 *
 * Every Registered is timestamped with the leader epoch it came from, so
 * the benchmark can tell re-registration with a new leader from the rest.
 */
import { create } from "@bufbuild/protobuf";
import { AgentInfoSchema, type FrameworkInfo, type Task, TaskSchema, TaskState } from "../gen/mesos/v1/mesos_pb.js";
import { type ConnectRequest, ConnectRequestSchema, type ConnectResponse } from "../gen/mesos/v2/mesos_pb.js";
import { AGENT_RECONNECT } from "../src/agent/master-link.js";
import { newCallId, openStream, type ReconnectPolicy, type UnifiedStream } from "../src/client/stream.js";
import { parseResources } from "../src/core/resources/index.js";
import type { SessionPool } from "./session-pool.js";

export const SIM_AGENT_RESOURCES = "cpus:16;mem:65536;disk:100000;ports:[31000-32000]";
export const SIM_TASK_RESOURCES = "cpus:0.1;mem:32";
/** The real agent's policy, so a change to it shows in the failover figures. */
export { AGENT_RECONNECT };

export interface SimFleetOptions {
  /** `etcd://host:port/prefix`. */
  master: string;
  agents: number;
  tasksPerAgent: number;
  /** The framework owning every task (its id set). */
  framework: FrameworkInfo;
  /** Shared HTTP/2 connections: agent i uses slot i of the pool. */
  sessions: SessionPool;
  /** The real agent's policy unless given (to see how much of a failover is backoff). */
  reconnect?: ReconnectPolicy;
}

/** One registration as an agent saw it. */
export interface Registration {
  at: number;
  epoch: bigint;
}

export interface SimFleet {
  /** Registered events per agent, in order. */
  readonly registrations: ReadonlyArray<readonly Registration[]>;
  /** Agents whose latest Registered came from `epoch` or a newer one. */
  registeredSince(epoch: bigint): number;
  /** The highest leader epoch any agent has seen. */
  highestEpoch(): bigint;
  close(): Promise<void>;
}

interface SimAgent {
  agentId: string;
  /** The tasks it reports, built once per agent id: a real agent keeps them too. */
  tasks?: { agentId: string; list: Task[] };
  stream: UnifiedStream;
  heartbeatSeconds: number | undefined;
  registrations: Registration[];
}

function tasksOf(index: number, count: number, framework: FrameworkInfo, agentId: string): Task[] {
  const resources = parseResources(SIM_TASK_RESOURCES);
  return Array.from({ length: count }, (_, t) =>
    create(TaskSchema, {
      name: `sim-${index}-${t}`,
      taskId: { value: `sim-${index}-${t}` },
      frameworkId: framework.id,
      agentId: agentId === "" ? undefined : { value: agentId },
      state: TaskState.TASK_RUNNING,
      resources,
    }),
  );
}

function reportedTasks(index: number, agent: SimAgent, options: SimFleetOptions): Task[] {
  if (agent.tasks?.agentId !== agent.agentId)
    agent.tasks = {
      agentId: agent.agentId,
      list: tasksOf(index, options.tasksPerAgent, options.framework, agent.agentId),
    };
  return agent.tasks.list;
}

function registerRequest(index: number, agent: SimAgent, options: SimFleetOptions): ConnectRequest {
  const info = create(AgentInfoSchema, {
    hostname: `sim-agent-${index}`,
    // Never dialled: the simulated agent serves no executors.
    port: 0,
    resources: parseResources(SIM_AGENT_RESOURCES),
    id: agent.agentId === "" ? undefined : { value: agent.agentId },
  });
  return create(ConnectRequestSchema, {
    id: newCallId(),
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: info,
            tasks: reportedTasks(index, agent, options),
            frameworks: [options.framework],
            version: "bench",
          },
        },
      },
    },
  });
}

const HEARTBEAT = create(ConnectRequestSchema, {
  call: { case: "agent", value: { call: { case: "heartbeat", value: {} } } },
});

/** Opens every agent's stream at once; they register in the background. */
export function startSimFleet(options: SimFleetOptions): SimFleet {
  const agents: SimAgent[] = [];
  for (let i = 0; i < options.agents; i++) {
    const agent: SimAgent = {
      agentId: "",
      heartbeatSeconds: undefined,
      registrations: [],
      stream: undefined as unknown as UnifiedStream,
    };
    const onEvent = (response: ConnectResponse): void => {
      if (response.event.case !== "agent") return;
      const event = response.event.value.event;
      if (event.case === "registered") {
        agent.agentId = event.value.agentId?.value ?? agent.agentId;
        agent.heartbeatSeconds = event.value.heartbeatIntervalSeconds || undefined;
        agent.registrations.push({ at: performance.now(), epoch: response.event.value.leaderEpoch });
      } else if (event.case === "heartbeat") {
        agent.stream.send(HEARTBEAT);
      }
    };
    agent.stream = openStream({
      baseUrl: options.master,
      hello: () => registerRequest(i, agent, options),
      onEvent,
      heartbeatTimeoutMs: () =>
        agent.heartbeatSeconds === undefined ? undefined : (agent.heartbeatSeconds * 3 + 5) * 1000,
      reconnect: options.reconnect ?? AGENT_RECONNECT,
      sessionManager: options.sessions.forStream(i),
      closeGraceMs: 200,
    });
    agents.push(agent);
  }
  const latest = (a: SimAgent): Registration | undefined => a.registrations.at(-1);
  return {
    registrations: agents.map((a) => a.registrations),
    registeredSince: (epoch) => agents.filter((a) => (latest(a)?.epoch ?? -1n) >= epoch).length,
    highestEpoch: () =>
      agents.reduce((max, a) => ((latest(a)?.epoch ?? 0n) > max ? (latest(a)?.epoch ?? 0n) : max), 0n),
    async close() {
      await Promise.all(agents.map((a) => a.stream.close()));
    },
  };
}
