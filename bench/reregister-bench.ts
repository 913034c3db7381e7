/**
 * What a new leader spends per agent taking a fleet back, without sockets
 * or other processes: a master core recovered from a registry of N agents
 * (each with `tasksPerAgent` running tasks of one framework), then N
 * Register calls as encoded bytes, decoded and handed to the core as the
 * master's session table does, effects applied to an in-memory registry
 * book. Separates the master's own cost per re-registration from the
 * transport's and the simulated fleet's, which the failover bench
 * (ha-bench.ts) measures together on the same two cores.
 *
 * Run alone: `node --expose-gc --import tsx bench/reregister-bench.ts [agents] [tasks per agent]`
 * (prints JSON); `--cpu-prof` profiles the re-registration part only if
 * started with PROBE_PROFILE_FROM_START unset (the build-up is short).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Call_Type as SchedulerCallType } from "../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type ConnectRequest, ConnectRequestSchema } from "../gen/mesos/v2/mesos_pb.js";
import type { Effect, MasterCore } from "../src/core/master/master-core.js";
import { emptyRegistry } from "../src/core/registry/registry.js";
import { createRegistryBook } from "../src/core/registry/registry-book.js";
import { parseResources } from "../src/core/resources/index.js";
import { testMasterCore } from "../test/helpers/master-harness.js";
import { SIM_AGENT_RESOURCES, SIM_TASK_RESOURCES } from "./sim-agents.js";

export interface ReregisterResult {
  agents: number;
  tasks: number;
  /** Recovering the core from the registry (what a new leader does before serving). */
  recoverMs: number;
  /** Decoding every Register call. */
  decodeMs: number;
  /** The core handling every Register, its registry writes applied to the book. */
  coreMs: number;
  /** Per agent, decode + core. */
  perAgentUs: number;
  /** The allocation pass once all are back. */
  allocateMs: number;
  /** The new leader's core once every agent is back, heap bytes (after a full GC; needs --expose-gc). */
  coreHeapBytes: number | undefined;
}

function registerCall(index: number, agentId: string, frameworkId: string, tasksPerAgent: number): ConnectRequest {
  const agentIdMsg = agentId === "" ? undefined : { value: agentId };
  const taskResources = parseResources(SIM_TASK_RESOURCES);
  return create(ConnectRequestSchema, {
    id: `r${index}`,
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              hostname: `sim-agent-${index}`,
              port: 0,
              resources: parseResources(SIM_AGENT_RESOURCES),
              id: agentIdMsg,
            },
            tasks: Array.from({ length: tasksPerAgent }, (_, t) => ({
              name: `sim-${index}-${t}`,
              taskId: { value: `sim-${index}-${t}` },
              frameworkId: { value: frameworkId },
              agentId: agentIdMsg,
              state: 1, // TASK_RUNNING
              resources: taskResources,
            })),
            frameworks: [{ id: { value: frameworkId }, user: "bench", name: "bench" }],
            version: "sim",
          },
        },
      },
    },
  });
}

const sends = (effects: Effect[]) => effects.filter((e) => e.kind === "send");

/** A registry of `agents` admitted agents and one framework, as the old leader left it. */
function buildRegistry(agents: number, tasksPerAgent: number) {
  const book = createRegistryBook(emptyRegistry());
  const core = testMasterCore(0);
  const apply = (effects: Effect[]): void => {
    for (const e of effects) if (e.kind === "persist") book.apply(e.operation);
  };
  const subscribe = create(ConnectRequestSchema, {
    id: "s",
    call: {
      case: "scheduler",
      value: {
        type: SchedulerCallType.SUBSCRIBE,
        subscribe: { frameworkInfo: { user: "bench", name: "bench", failoverTimeout: 3600 } },
      },
    },
  });
  const subscribed = core.request("sched", subscribe, 0);
  apply(subscribed);
  const frameworkId = [...core.state.frameworks.keys()][0] ?? "";
  const ids: string[] = [];
  for (let i = 0; i < agents; i++) {
    const effects = core.request(`agent-${i}`, registerCall(i, "", frameworkId, tasksPerAgent), 0);
    apply(effects);
    ids.push([...core.state.agents.values()].at(-1)?.id ?? "");
  }
  return { registry: book.snapshot(), frameworkId, ids };
}

export function runReregisterBench(agents = 10_000, tasksPerAgent = 10): ReregisterResult {
  const { registry, frameworkId, ids } = buildRegistry(agents, tasksPerAgent);
  const bytes = ids.map((id, i) => toBinary(ConnectRequestSchema, registerCall(i, id, frameworkId, tasksPerAgent)));
  const heapBefore = heapAfterGc();

  const recoverStart = performance.now();
  const core: MasterCore = testMasterCore(1_000, { registry });
  const recoverMs = performance.now() - recoverStart;
  const book = createRegistryBook(registry);

  const decodeStart = performance.now();
  const requests = bytes.map((b) => fromBinary(ConnectRequestSchema, b));
  const decodeMs = performance.now() - decodeStart;

  let registered = 0;
  const coreStart = performance.now();
  for (const [i, request] of requests.entries()) {
    const effects = core.request(`new-${i}`, request, 2_000);
    for (const e of effects) if (e.kind === "persist") book.apply(e.operation);
    for (const e of sends(effects))
      if (e.kind === "send" && e.response.event.case === "agent" && e.response.event.value.event.case === "registered")
        registered++;
  }
  const coreMs = performance.now() - coreStart;
  if (registered !== agents) throw new Error(`only ${registered} of ${agents} agents got Registered`);

  const allocateStart = performance.now();
  core.allocateChanged(3_000);
  const allocateMs = performance.now() - allocateStart;
  requests.length = 0;
  const heapAfter = heapAfterGc();
  // Keeps the core (and what it holds) alive until measured.
  if (core.state.agents.size !== agents) throw new Error("the core lost agents");
  return {
    agents,
    tasks: agents * tasksPerAgent,
    recoverMs,
    decodeMs,
    coreMs,
    perAgentUs: ((decodeMs + coreMs) / agents) * 1000,
    allocateMs,
    coreHeapBytes: heapBefore === undefined || heapAfter === undefined ? undefined : heapAfter - heapBefore,
  };
}

function heapAfterGc(): number | undefined {
  if (globalThis.gc === undefined) return undefined;
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** The new leader's heap per agent and per task: the core at `agents` with no tasks, then with `tasksPerAgent`. */
export function leaderMemory(agents = 10_000, tasksPerAgent = 10): { perAgentBytes: number; perTaskBytes: number } {
  const bare = runReregisterBench(agents, 0).coreHeapBytes;
  const full = runReregisterBench(agents, tasksPerAgent).coreHeapBytes;
  if (bare === undefined || full === undefined) throw new Error("run node with --expose-gc to measure memory");
  return { perAgentBytes: bare / agents, perTaskBytes: (full - bare) / (agents * tasksPerAgent) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [agents = 10_000, tasks = 10] = process.argv.slice(2).map(Number);
  const run = runReregisterBench(agents, tasks);
  const memory = globalThis.gc === undefined ? undefined : leaderMemory(agents, tasks);
  process.stdout.write(`${JSON.stringify({ ...run, memory }, null, 2)}\n`);
}
