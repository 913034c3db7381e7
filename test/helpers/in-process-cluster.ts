/**
 * A whole cluster in one process, with no sockets and on fake timers, in
 * the spirit of connect-es' createRouterTransport: the real master core, the
 * real agent shell (core, master link, effects, executor sessions) over a
 * containerizer twin and an in-memory work dir, and schedulers that are
 * plain recorders. Streams are in-memory wires: every message takes
 * `latencyMs` of fake time and arrives in the order it was sent, on a later
 * turn than the one that sent it, as over a socket.
 *
 *   scheduler ──wire──► master core ──effects──► send ──wire──► scheduler / agent link
 *                                               ├─ end ──wire──► the session's owner
 *                                               ├─ persist ──► in-memory registry
 *                                               └─ (allocationRequested) ──► one early pass
 *   agent shell ──channel.send──wire──► master core
 *
 * Nothing moves until the test calls `settle()` (everything due now, until
 * quiet) or `advance(ms)`. Agents reconnect only when told (`connect()`);
 * a real agent redials with backoff.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { ConnectRequestSchema, type ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { createAgentShell, type AgentShell } from "../../src/agent/agent-shell.js";
import { createContainerizerTwin, type ContainerizerTwin, type TwinScript } from "../../src/agent/containerizer-twin.js";
import type { MasterChannel } from "../../src/agent/master-link.js";
import { createWorkDirTwin, type WorkDirTwin } from "../../src/agent/work-dir-twin.js";
import type { HostedLaunch } from "../../src/executor/protocol.js";
import { createAllocator } from "../../src/core/allocator/index.js";
import { createAgentCore } from "../../src/core/agent/agent-core.js";
import { createCounterIds } from "../../src/core/clock.js";
import type { CallError } from "../../src/core/master/events.js";
import { createMasterCore, type Effect, type MasterCore } from "../../src/core/master/master-core.js";
import { applyRegistryOperation, emptyRegistry, type Registry } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";
import { silentLogger } from "../../src/log.js";
import { createFakeTimers, type FakeTimers } from "../../src/util/timers.js";
import { createScheduler, type ClusterScheduler } from "./in-process-scheduler.js";

export type { ClusterScheduler };

export interface InProcessClusterOptions {
  /** Time each message spends on a wire; default 0 (still a later turn). */
  latencyMs?: number;
  /** The master's allocation interval; default 1000. */
  allocationIntervalMs?: number;
  heartbeatIntervalSeconds?: number;
  agentPingTimeoutSeconds?: number;
  maxAgentPingTimeouts?: number;
}

/** One agent of the cluster. */
export interface ClusterAgent {
  readonly name: string;
  readonly shell: AgentShell;
  readonly twin: ContainerizerTwin;
  readonly workDir: WorkDirTwin;
  /** The master session of its current stream; undefined while disconnected. */
  readonly session: string | undefined;
  /** Its stream drops: both ends hear of it now; messages on the wire are lost. */
  disconnect(): void;
  /** Opens a new stream; Register goes out first. */
  connect(): void;
}

export interface InProcessCluster {
  readonly timers: FakeTimers;
  readonly master: MasterCore;
  /** What the master has stored so far. */
  readonly registry: Registry;
  addAgent(name: string, options?: { resources?: string; script?: (launch: HostedLaunch, kind: "command" | "custom") => Partial<TwinScript> }): ClusterAgent;
  /** A scheduler whose SUBSCRIBE is on the wire (FrameworkInfo fields; user and name default). */
  addScheduler(name: string, info?: Record<string, unknown>): ClusterScheduler;
  /** Runs everything due now, until nothing is. */
  settle(): void;
  /** Moves time forward, running what falls due on the way. */
  advance(ms: number): void;
  /** Stops the agents (their executors exit) and the master's timers, then drains the wires. */
  close(): Promise<void>;
}

/** One end of a master session: how its responses and its end arrive. */
interface SessionEnd {
  deliver(response: ConnectResponse): void;
  end(error: CallError | undefined): void;
}

export function createInProcessCluster(options: InProcessClusterOptions = {}): InProcessCluster {
  const timers = createFakeTimers();
  const latency = options.latencyMs ?? 0;
  const wire = (deliver: () => void): void => void timers.setTimeout(deliver, latency);
  let registry = emptyRegistry();
  const master = createMasterCore({
    allocator: createAllocator({}),
    ids: createCounterIds("master"),
    now: timers.now(),
    registry,
    options: {
      info: { $typeName: "mesos.v1.MasterInfo", id: "master", ip: 0, port: 5050, pid: "master@in-process", hostname: "master", version: "test", capabilities: [] },
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds ?? 15,
      agentReregisterTimeoutSeconds: 600,
      agentPingTimeoutSeconds: options.agentPingTimeoutSeconds ?? 15,
      maxAgentPingTimeouts: options.maxAgentPingTimeouts ?? 5,
      flags: {},
      version: "test",
    },
  });
  const sessions = new Map<string, SessionEnd>();
  const agents: Array<{ shell: AgentShell }> = [];

  let allocationQueued = false;
  /**
   * Early allocation passes: when a batch leaves the core's
   * `allocationRequested` flag set, one pass over the agents that changed
   * runs on a later turn, shared by every batch that asked meanwhile (as
   * src/master/term.ts does).
   */
  const requestAllocation = (): void => {
    if (allocationQueued || !master.allocationRequested) return;
    allocationQueued = true;
    timers.setTimeout(() => {
      allocationQueued = false;
      applyMaster(master.allocateChanged(timers.now()));
    }, 0);
  };

  /** Carries out the master core's effects, in order. */
  const applyMaster = (effects: Effect[]): void => {
    for (const effect of effects) {
      switch (effect.kind) {
        case "send": {
          const to = sessions.get(effect.session);
          if (to !== undefined) wire(() => to.deliver(effect.response));
          break;
        }
        case "end": {
          const to = sessions.get(effect.session);
          sessions.delete(effect.session);
          if (to !== undefined) wire(() => to.end(effect.error));
          break;
        }
        case "persist":
          registry = applyRegistryOperation(registry, effect.operation).registry;
          break;
      }
    }
    requestAllocation();
  };

  /** A request on the wire to the master; dropped if its session is gone by the time it arrives. */
  const toMaster = (session: string, request: MessageInitShape<typeof ConnectRequestSchema>): void => {
    const message = create(ConnectRequestSchema, request);
    wire(() => {
      if (sessions.has(session)) applyMaster(master.request(session, message, timers.now()));
    });
  };

  const masterTimers = [
    timers.setInterval(() => applyMaster(master.allocate(timers.now())), options.allocationIntervalMs ?? 1000),
    timers.setInterval(() => applyMaster(master.heartbeat(timers.now())), (options.heartbeatIntervalSeconds ?? 15) * 1000),
    timers.setInterval(() => applyMaster(master.pingAgents(timers.now())), (options.agentPingTimeoutSeconds ?? 15) * 1000),
    timers.setInterval(() => applyMaster(master.expire(timers.now())), 1000),
  ];

  const addAgent: InProcessCluster["addAgent"] = (name, agentOptions = {}) => {
    const workDir = createWorkDirTwin(`/agents/${name}`);
    const core = createAgentCore(
      {
        workDir: workDir.path,
        agentInfo: create(AgentInfoSchema, { hostname: name, port: 5051, resources: parseResources(agentOptions.resources ?? "cpus:4;mem:4096;disk:10000;ports:[31000-32000]") }),
        version: "test",
        ids: createCounterIds(name),
        uuid: counterUuids(),
      },
      workDir.agentId(),
    );
    let twin: ContainerizerTwin | undefined;
    const shell = createAgentShell({
      core,
      workDir,
      containerizer: (hooks) => (twin = createContainerizerTwin(hooks, { timers, script: agentOptions.script })),
      timers,
      logger: silentLogger(),
      ip: "127.0.0.1",
      master: "in-process",
      endpoint: () => `${name}:5051`,
    });
    agents.push({ shell });
    let session: string | undefined;
    let streams = 0;
    const drop = (): void => {
      if (session === undefined) return;
      sessions.delete(session);
      applyMaster(master.sessionClosed(session, timers.now()));
      session = undefined;
    };
    const channel: MasterChannel = {
      send(request) {
        if (session === undefined) return false;
        toMaster(session, request);
        return true;
      },
      close: async () => drop(),
    };
    shell.link.attach(channel);
    const agent: ClusterAgent = {
      name,
      shell,
      get twin() {
        if (twin === undefined) throw new Error("the agent shell made no containerizer");
        return twin;
      },
      workDir,
      get session() {
        return session;
      },
      disconnect() {
        drop();
        shell.link.onDisconnected(new Error("in-process stream dropped"));
      },
      connect() {
        if (session !== undefined) return;
        const current = `${name}-stream-${++streams}`;
        session = current;
        sessions.set(current, {
          deliver: (response) => {
            if (session === current) shell.link.onEvent(response);
          },
          end: () => {
            if (session !== current) return;
            session = undefined;
            shell.link.onDisconnected(undefined);
          },
        });
        channel.send(shell.link.hello());
      },
    };
    agent.connect();
    return agent;
  };

  let schedulers = 0;
  const addScheduler: InProcessCluster["addScheduler"] = (name, info = {}) => {
    const session = `${name}-${++schedulers}`;
    const scheduler = createScheduler(session, (request) => toMaster(session, request));
    sessions.set(session, scheduler.end);
    scheduler.call({ type: SchedulerCallType.SUBSCRIBE, subscribe: { frameworkInfo: { user: "test", name, ...info } } });
    return scheduler;
  };

  const settle = (): void => timers.advance(0);
  return {
    timers,
    master,
    get registry() {
      return registry;
    },
    addAgent,
    addScheduler,
    settle,
    advance: (ms) => timers.advance(ms),
    async close() {
      for (const { shell } of agents) await shell.close();
      masterTimers.forEach((t) => timers.clearInterval(t));
      settle();
    },
  };
}

/** Deterministic 16-byte uuids for the updates an agent generates. */
function counterUuids(): () => Uint8Array {
  let n = 0;
  return () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(12, ++n);
    bytes[0] = 0xa9;
    return bytes;
  };
}
