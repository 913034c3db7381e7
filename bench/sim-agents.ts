/**
 * Simulated agents, thousands from one process: each is what a `plateau
 * agent` says to the master and nothing more. It holds one unified stream
 * (agent role) to the master (host:port or `etcd://...`), registers with
 * its AgentInfo, attributes and the tasks it "runs" (never started
 * anywhere), re-registers with the id the master gave it after any drop,
 * and answers each Heartbeat. Tasks the master sends it run at once
 * (TASK_RUNNING), finish after `taskDurationMs` if given (TASK_FINISHED)
 * and end when killed (TASK_KILLED); like a real agent it sends a task's
 * next update only once the previous one is acknowledged, and resends what
 * is unacknowledged when it registers again. Its reconnect policy is the
 * real agent's (src/agent/master-link.ts), since that policy decides how
 * fast a fleet comes back after a failover.
 *
 * Faults on command: `crash(i)` (the agent dies, its stream ends),
 * `restart(i)` (it comes back under its id with its tasks),
 * `partition(i)` (it goes silent: ignores every event and answers no
 * heartbeat, and once the master ends its stream it cannot reconnect) and
 * `heal(i)`.
 *
 * Every Registered is timestamped with the leader epoch it came from, so
 * the benchmarks can tell re-registration with a new leader from the rest.
 *
 * The fleet is cheap so that the benchmarks measure the masters: its
 * streams are bare gRPC on shared HTTP/2 connections (fleet-streams.ts),
 * one leader lookup serves every agent, and what an agent writes is
 * encoded once where it does not change (sim-messages.ts). On connect-node
 * clients, this process took a whole core for ~10 s of a 3,000-agent
 * failover (per-stream async iterables, AbortSignals, an error object per
 * agent per failed reconnect, GC).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { type FrameworkInfo, type Task, TaskSchema, TaskState } from "../gen/mesos/v1/mesos_pb.js";
import { type AgentEvent, ConnectResponseSchema } from "../gen/mesos/v2/mesos_pb.js";
import { AGENT_RECONNECT } from "../src/agent/master-link.js";
import type { ReconnectPolicy } from "../src/client/backoff.js";
import { parseResources } from "../src/core/resources/index.js";
import { type FleetStreams, openFleetStreams } from "./fleet-streams.js";
import type { SessionPool } from "./session-pool.js";
import {
  HEARTBEAT_FRAME,
  isTerminal,
  nextUuid,
  registerBody,
  registerFrame,
  SIM_TASK_RESOURCES,
  statusUpdateFrame,
} from "./sim-messages.js";

export { SIM_AGENT_RESOURCES, SIM_TASK_RESOURCES } from "./sim-messages.js";
/** The real agent's policy, so a change to it shows in the failover figures. */
export { AGENT_RECONNECT };

export interface SimFleetOptions {
  /** `host:port`, a list, or `etcd://host:port/prefix`. */
  master: string;
  agents: number;
  /** Tasks each agent reports as running when it first registers. */
  tasksPerAgent: number;
  /** The framework owning those tasks (its id set). */
  framework: FrameworkInfo;
  /** Shared HTTP/2 connections: agent i uses slot i of the pool. */
  sessions: SessionPool;
  /** The real agent's policy unless given (to see how much of a failover is backoff). */
  reconnect?: ReconnectPolicy;
  /** Agent i's attributes in Mesos' text form (`rack:r1;zone:a`); none by default. */
  attributes?: (index: number) => string;
  /** Launched tasks finish this long after they start; undefined: they run until killed. */
  taskDurationMs?: number;
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
  /** Agent i's id, once the master gave it one. */
  agentId(index: number): string;
  /** Tasks running on the fleet (reported at registration or launched since). */
  running(): number;
  /** Tasks the master launched on the fleet, and how many of them ended. */
  readonly counts: { launched: number; ended: number };
  /** Agent i dies: its stream ends and it stays away until `restart`. */
  crash(index: number): Promise<void>;
  /** Agent i comes back under its id, with the tasks it was running. */
  restart(index: number): void;
  /** Agent i is cut off: it ignores every event, answers no heartbeat, and cannot reconnect until healed. */
  partition(index: number): void;
  heal(index: number): void;
  close(): Promise<void>;
}

/** A task on a simulated agent, with its status updates not yet acknowledged. */
interface SimTask {
  task: Task;
  frameworkId: string;
  /** Oldest first; the head is in flight. */
  unacknowledged: { frame: Uint8Array; uuid: Uint8Array }[];
  finishTimer?: NodeJS.Timeout;
}

interface SimAgent {
  index: number;
  agentId: string;
  tasks: Map<string, SimTask>;
  frameworks: Map<string, FrameworkInfo>;
  /** Its Register without the call id, until its tasks, frameworks or id change. */
  registerBody: Uint8Array | undefined;
  heartbeatSeconds: number | undefined;
  registrations: Registration[];
  /** Partitioned: it hears nothing and says nothing, and once its stream ends it stays away until healed. */
  silent: boolean;
  crashed: boolean;
}

/** Shared by every initial task: only ever encoded, never changed. */
const taskResources = parseResources(SIM_TASK_RESOURCES);

function initialTasks(agent: SimAgent, options: SimFleetOptions): void {
  const frameworkId = options.framework.id?.value ?? "";
  if (options.tasksPerAgent > 0) agent.frameworks.set(frameworkId, options.framework);
  for (let t = 0; t < options.tasksPerAgent; t++) {
    const id = `sim-${agent.index}-${t}`;
    const task = create(TaskSchema, {
      name: id,
      taskId: { value: id },
      frameworkId: options.framework.id,
      state: TaskState.TASK_RUNNING,
      resources: taskResources,
    });
    agent.tasks.set(`${frameworkId}/${id}`, { task, frameworkId, unacknowledged: [] });
  }
}

/**
 * How many agents' latest Registered came from each epoch: benchmarks poll
 * `registeredSince` every few ms, which should not walk 10,000 agents.
 */
function epochCounter() {
  const agentsAt = new Map<bigint, number>();
  return {
    count(from: bigint | undefined, to: bigint): void {
      if (from !== undefined) {
        const left = (agentsAt.get(from) ?? 1) - 1;
        if (left === 0) agentsAt.delete(from);
        else agentsAt.set(from, left);
      }
      agentsAt.set(to, (agentsAt.get(to) ?? 0) + 1);
    },
    since(epoch: bigint): number {
      let n = 0;
      for (const [at, count] of agentsAt) if (at >= epoch) n += count;
      return n;
    },
    highest(): bigint {
      let max = 0n;
      for (const at of agentsAt.keys()) if (at > max) max = at;
      return max;
    },
  };
}

const taskKey = (frameworkId: string | undefined, taskId: string | undefined): string =>
  `${frameworkId ?? ""}/${taskId ?? ""}`;

export function startSimFleet(options: SimFleetOptions): SimFleet {
  const counts = { launched: 0, ended: 0 };
  const agents: SimAgent[] = [];

  const epochs = epochCounter();
  const bodyOf = (agent: SimAgent): Uint8Array =>
    registerBody({
      index: agent.index,
      agentId: agent.agentId,
      tasks: [...agent.tasks.values()].map((sim) => sim.task),
      frameworks: agent.frameworks.values(),
      attributes: options.attributes?.(agent.index),
    });
  const hello = (index: number): Uint8Array => {
    const agent = agents[index] as SimAgent;
    agent.registerBody ??= bodyOf(agent);
    return registerFrame(agent.registerBody);
  };

  const streams: FleetStreams = openFleetStreams({
    master: options.master,
    size: options.agents,
    sessions: options.sessions,
    reconnect: options.reconnect ?? AGENT_RECONNECT,
    hello,
    onMessage(index, bytes) {
      const agent = agents[index] as SimAgent;
      // Cut off, it hears nothing: not even worth decoding.
      if (agent.silent) return;
      const response = fromBinary(ConnectResponseSchema, bytes);
      if (response.event.case !== "agent") return;
      onAgentEvent(agent, response.event.value.event, response.event.value.leaderEpoch);
    },
    // Cut off, it cannot reach the master again until healed.
    onDisconnected: (index) => !(agents[index] as SimAgent).silent,
    heartbeatTimeoutMs(index) {
      const seconds = (agents[index] as SimAgent).heartbeatSeconds;
      return seconds === undefined ? undefined : (seconds * 3 + 5) * 1000;
    },
  });

  /** Queues an update; it goes out now if nothing of the task's is in flight. */
  const report = (agent: SimAgent, sim: SimTask, state: TaskState): void => {
    sim.task.state = state;
    agent.registerBody = undefined;
    const uuid = nextUuid();
    const frame = statusUpdateFrame(agent.agentId, sim.frameworkId, sim.task, state, uuid);
    sim.unacknowledged.push({ frame, uuid });
    if (sim.unacknowledged.length === 1) streams.send(agent.index, frame);
  };

  /** Its terminal update; the task is forgotten once that is acknowledged. */
  const end = (agent: SimAgent, sim: SimTask, state: TaskState): void => {
    clearTimeout(sim.finishTimer);
    if (isTerminal(sim.task.state)) return;
    counts.ended++;
    report(agent, sim, state);
  };

  const addTask = (agent: SimAgent, key: string, sim: SimTask): void => {
    agent.tasks.set(key, sim);
    agent.registerBody = undefined;
  };

  const onAgentEvent = (agent: SimAgent, event: AgentEvent["event"], epoch: bigint): void => {
    switch (event.case) {
      case "registered": {
        const id = event.value.agentId?.value ?? agent.agentId;
        const renamed = id !== agent.agentId;
        agent.agentId = id;
        // Encoded now, while the master is up, rather than when a failover
        // has the whole fleet re-register at once.
        if (renamed) agent.registerBody = bodyOf(agent);
        agent.heartbeatSeconds = event.value.heartbeatIntervalSeconds || undefined;
        epochs.count(agent.registrations.at(-1)?.epoch, epoch);
        agent.registrations.push({ at: performance.now(), epoch });
        // What the master may not have acknowledged goes again, one per task.
        for (const sim of agent.tasks.values()) {
          const head = sim.unacknowledged[0];
          if (head !== undefined) streams.send(agent.index, head.frame);
        }
        return;
      }
      case "heartbeat":
        streams.send(agent.index, HEARTBEAT_FRAME);
        return;
      case "runTask": {
        const { task, frameworkInfo } = event.value;
        const frameworkId = frameworkInfo?.id?.value ?? "";
        if (task === undefined) return;
        if (frameworkInfo !== undefined) agent.frameworks.set(frameworkId, frameworkInfo);
        const sim: SimTask = {
          task: create(TaskSchema, {
            name: task.name,
            taskId: task.taskId,
            frameworkId: { value: frameworkId },
            resources: task.resources,
            state: TaskState.TASK_STAGING,
          }),
          frameworkId,
          unacknowledged: [],
        };
        addTask(agent, taskKey(frameworkId, task.taskId?.value), sim);
        counts.launched++;
        report(agent, sim, TaskState.TASK_RUNNING);
        if (options.taskDurationMs !== undefined)
          sim.finishTimer = setTimeout(() => end(agent, sim, TaskState.TASK_FINISHED), options.taskDurationMs);
        return;
      }
      case "killTask": {
        const sim = agent.tasks.get(taskKey(event.value.frameworkId?.value, event.value.taskId?.value));
        if (sim !== undefined) end(agent, sim, TaskState.TASK_KILLED);
        return;
      }
      case "acknowledge": {
        const key = taskKey(event.value.frameworkId?.value, event.value.taskId?.value);
        const sim = agent.tasks.get(key);
        const head = sim?.unacknowledged[0];
        if (sim === undefined || head === undefined || Buffer.compare(head.uuid, event.value.uuid) !== 0) return;
        sim.unacknowledged.shift();
        const next = sim.unacknowledged[0];
        if (next !== undefined) streams.send(agent.index, next.frame);
        else if (isTerminal(sim.task.state)) {
          agent.tasks.delete(key);
          agent.registerBody = undefined;
        }
        return;
      }
      case "shutdownFramework": {
        const frameworkId = event.value.frameworkId?.value ?? "";
        for (const sim of agent.tasks.values())
          if (sim.frameworkId === frameworkId) end(agent, sim, TaskState.TASK_KILLED);
        return;
      }
      case "reconcileTasks": {
        // Tasks the master holds that this agent does not know: dropped.
        const frameworkId = event.value.frameworkInfo?.id?.value ?? "";
        for (const taskId of event.value.taskIds) {
          const key = taskKey(frameworkId, taskId.value);
          if (agent.tasks.has(key)) continue;
          const sim: SimTask = {
            task: create(TaskSchema, { taskId, frameworkId: { value: frameworkId }, state: TaskState.TASK_STAGING }),
            frameworkId,
            unacknowledged: [],
          };
          addTask(agent, key, sim);
          report(agent, sim, TaskState.TASK_DROPPED);
        }
        return;
      }
      default:
        return;
    }
  };

  for (let i = 0; i < options.agents; i++) {
    const agent: SimAgent = {
      index: i,
      agentId: "",
      tasks: new Map(),
      frameworks: new Map(),
      registerBody: undefined,
      heartbeatSeconds: undefined,
      registrations: [],
      silent: false,
      crashed: false,
    };
    initialTasks(agent, options);
    agents.push(agent);
  }
  for (let i = 0; i < options.agents; i++) streams.start(i);

  const at = (index: number): SimAgent => {
    const agent = agents[index];
    if (agent === undefined) throw new Error(`no simulated agent ${index} (the fleet has ${agents.length})`);
    return agent;
  };
  return {
    registrations: agents.map((a) => a.registrations),
    registeredSince: (epoch) => epochs.since(epoch),
    highestEpoch: () => epochs.highest(),
    agentId: (index) => at(index).agentId,
    running: () =>
      agents.reduce(
        (n, a) => n + [...a.tasks.values()].filter((t) => t.task.state === TaskState.TASK_RUNNING).length,
        0,
      ),
    counts,
    async crash(index) {
      const agent = at(index);
      agent.crashed = true;
      for (const sim of agent.tasks.values()) clearTimeout(sim.finishTimer);
      streams.stop(index);
    },
    restart(index) {
      const agent = at(index);
      if (!agent.crashed) throw new Error(`simulated agent ${index} is running; crash it first`);
      agent.crashed = false;
      agent.silent = false;
      streams.start(index);
    },
    partition(index) {
      at(index).silent = true;
    },
    heal(index) {
      const agent = at(index);
      agent.silent = false;
      if (!agent.crashed) streams.start(index);
    },
    async close() {
      for (const agent of agents) for (const sim of agent.tasks.values()) clearTimeout(sim.finishTimer);
      await streams.close();
    },
  };
}
