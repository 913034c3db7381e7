/**
 * A whole cluster in one process, on simulated time, driven by one seed:
 * candidate masters (one leads per term, on a fenced registry), agents with
 * their executors, and schedulers that keep it full. A fault phase breaks
 * things (streams reset, nodes partitioned, agents, schedulers and masters
 * crashed and restarted, leaders deposed, registry writes failing); a quiet
 * phase then heals everything and lets the cluster settle, and the checker
 * (invariants.ts) runs after every step and once at the end.
 *
 * Clients find the leader as they would through its etcd key: each learns
 * of a new leader a moment after the election, and until then dials the
 * one it knew (perhaps deposed and not yet aware of it).
 */
import { type AgentNode, createAgentNode } from "./agent-node.js";
import { createEventQueue, type EventQueue } from "./event-queue.js";
import { createFrameworkNode, type FrameworkNode } from "./framework-node.js";
import { type Checker, createChecker, Violation, type World } from "./invariants.js";
import { createMasterNode, type MasterNode } from "./master-node.js";
import { createNetwork, type Network } from "./network.js";
import { createSimRegistry, type SimRegistry } from "./registry.js";
import { createRng, type Rng } from "./rng.js";

export interface SimOptions {
  seed: number;
  /** Steps (events) in the fault phase. */
  steps: number;
  agents?: number;
  frameworks?: number;
  /** Simulated time the quiet phase lasts. */
  quietMs?: number;
  /** Steps kept for the trace of a failure (default 30). */
  traceLength?: number;
  /** Called after every step with what the checker sees (for debugging a seed). */
  inspect?: (world: World, step: number) => void;
}

export interface SimResult {
  seed: number;
  /** Steps run in all. */
  steps: number;
  /** Simulated time at the end. */
  simulatedMs: number;
  tasksLaunched: number;
  elections: number;
  messages: number;
  /** The first invariant broken, if any. */
  failure?: { step: number; invariant: string; message: string; trace: string[] };
}

const CANDIDATES = ["m1", "m2", "m3"];
const START = 1_700_000_000_000;
/** Events in the quiet phase beyond which a run counts as one that never settles. */
const QUIET_STEP_LIMIT = 2_000_000;

interface Sim {
  queue: EventQueue;
  rng: Rng;
  net: Network;
  registry: SimRegistry;
  checker: Checker;
  world: World;
  masters: MasterNode[];
  leader: MasterNode | undefined;
  /** The leader each client dials now. */
  known: Map<string, MasterNode | undefined>;
  agents: AgentNode[];
  frameworks: FrameworkNode[];
  faults: boolean;
  launches: number;
  elections: number;
  /** An election is already on its way. */
  electing: boolean;
}

export function runSimulation(options: SimOptions): SimResult {
  const sim = createSim(options);
  const trace: string[] = [];
  let step = 0;
  const fail = (err: unknown): SimResult => {
    const violation =
      err instanceof Violation
        ? err
        : new Violation("no exception", err instanceof Error ? (err.stack ?? err.message) : String(err));
    return {
      ...summary(sim, options.seed, step),
      failure: { step, invariant: violation.invariant, message: violation.message, trace },
    };
  };
  const runOne = (): boolean => {
    const event = sim.queue.pop();
    if (event === undefined) return false;
    step++;
    trace.push(`${event.at - START}ms ${event.label}`);
    if (trace.length > (options.traceLength ?? 30)) trace.shift();
    event.run();
    sim.checker.step();
    options.inspect?.(sim.world, step);
    return true;
  };
  try {
    while (step < options.steps && runOne());
    quiet(sim);
    const until = sim.queue.now + (options.quietMs ?? 100_000);
    const limit = step + QUIET_STEP_LIMIT;
    // Settling is "eventually": the run ends at the first moment it holds
    // (looked for every 2 s of simulated time), or fails at the deadline.
    let nextLook = sim.queue.now + 2_000;
    while (sim.queue.now < until && step < limit && runOne()) {
      if (sim.queue.now < nextLook) continue;
      nextLook = sim.queue.now + 2_000;
      if (hasSettled(sim.checker)) return summary(sim, options.seed, step);
    }
    if (step >= limit) throw new Violation("settled", "the quiet phase never ends (an event loop without end?)");
    sim.checker.settled();
  } catch (err) {
    return fail(err);
  }
  return summary(sim, options.seed, step);
}

function hasSettled(checker: Checker): boolean {
  try {
    checker.settled();
    return true;
  } catch (err) {
    if (err instanceof Violation) return false;
    throw err;
  }
}

function summary(sim: Sim, seed: number, steps: number): SimResult {
  return {
    seed,
    steps,
    simulatedMs: sim.queue.now - START,
    tasksLaunched: sim.launches,
    elections: sim.elections,
    messages: sim.net.carried,
  };
}

function createSim(options: SimOptions): Sim {
  const rng = createRng(options.seed);
  const queue = createEventQueue(START);
  const net = createNetwork(queue, rng);
  const registry = createSimRegistry(queue, rng);
  const agents: AgentNode[] = [];
  const frameworks: FrameworkNode[] = [];
  const world: World = {
    masters: () => sim.masters,
    leader: () => sim.leader,
    agents,
    frameworks: () => sim.frameworks,
    registry,
  };
  const sim: Sim = {
    queue,
    rng,
    net,
    registry,
    checker: createChecker(world),
    world,
    masters: [],
    leader: undefined,
    known: new Map(),
    agents,
    frameworks,
    faults: true,
    launches: 0,
    elections: 0,
    electing: false,
  };
  const bug = (message: string): void => {
    throw new Violation("no exception", message);
  };
  const observer = {
    launched: (agent: string, frameworkId: string, taskId: string) => {
      sim.launches++;
      sim.checker.launched(agent, frameworkId, taskId);
    },
    updateTaken: sim.checker.updateTaken,
  };
  for (let i = 1; i <= (options.agents ?? 5); i++) {
    const name = `a${i}`;
    sim.agents.push(
      createAgentNode({ name, ip: `10.0.0.${i}`, queue, rng, net, leader: () => sim.known.get(name), observer, bug }),
    );
  }
  net.faulty = true;
  registry.failureRate = 0.01;
  elect(sim, CANDIDATES[0] as string, bug);
  for (const agent of sim.agents) agent.start();
  for (let i = 0; i < (options.frameworks ?? 2); i++) addFramework(sim);
  scheduleFault(sim, bug);
  return sim;
}

function addFramework(sim: Sim): void {
  const name = `f${sim.frameworks.length + 1}`;
  const framework = createFrameworkNode({
    name,
    queue: sim.queue,
    rng: sim.rng,
    net: sim.net,
    leader: () => sim.known.get(name),
    observer: { updated: sim.checker.updated },
  });
  sim.frameworks.push(framework);
  sim.known.set(name, sim.leader);
  framework.start();
}

/** A new term on `candidate`: the registry's leader changes now; clients hear of it a moment later. */
function elect(sim: Sim, candidate: string, bug: (message: string) => void): void {
  sim.electing = false;
  const node = createMasterNode({
    name: candidate,
    queue: sim.queue,
    registry: sim.registry,
    bug,
    onStopped: (stopped) => {
      // A master whose write failed steps down and campaigns again.
      if (stopped === sim.leader) electSoon(sim, bug);
    },
  });
  sim.elections++;
  sim.masters = [...sim.masters.filter((m) => m.serving), node];
  sim.leader = node;
  const clients = [...sim.agents.map((a) => a.name), ...sim.frameworks.map((f) => f.name)];
  for (const client of clients) {
    if (!sim.known.has(client)) {
      sim.known.set(client, node);
      continue;
    }
    sim.queue.after(sim.rng.int(10, 2_000), `${client} learns ${candidate} (epoch ${node.epoch}) leads`, () => {
      if (sim.leader !== node) return;
      sim.known.set(client, node);
      sim.agents.find((a) => a.name === client)?.leaderChanged();
      sim.frameworks.find((f) => f.name === client)?.leaderChanged();
    });
  }
}

function electSoon(sim: Sim, bug: (message: string) => void): void {
  if (sim.electing) return;
  sim.electing = true;
  sim.queue.after(sim.rng.int(200, 3_000), "election", () => elect(sim, sim.rng.pick(CANDIDATES), bug));
}

/** The fault phase: one fault every few seconds of simulated time, chosen by the seed. */
function scheduleFault(sim: Sim, bug: (message: string) => void): void {
  sim.queue.after(sim.rng.int(100, 3_000), "fault", () => {
    if (!sim.faults) return;
    injectFault(sim, bug);
    scheduleFault(sim, bug);
  });
}

function injectFault(sim: Sim, bug: (message: string) => void): void {
  const { rng, queue, net } = sim;
  const roll = rng.next();
  if (roll < 0.25) return net.breakOne();
  if (roll < 0.4) {
    const nodes = [...sim.agents.map((a) => a.name), ...sim.frameworks.map((f) => f.name), ...CANDIDATES];
    return net.isolate(rng.pick(nodes), queue.now + rng.int(500, 15_000));
  }
  if (roll < 0.55) {
    const agent = rng.pick(sim.agents);
    const wiped = rng.chance(0.1);
    agent.crash();
    queue.after(rng.int(500, 20_000), `${agent.name} restarts${wiped ? " wiped" : ""}`, () => agent.restart(wiped));
    return;
  }
  if (roll < 0.65) {
    const framework = rng.pick(sim.frameworks);
    framework.crash();
    queue.after(rng.int(500, 20_000), `${framework.name} restarts`, () => framework.restart());
    if (framework.done && sim.frameworks.filter((f) => !f.done).length < 3) addFramework(sim);
    return;
  }
  if (roll < 0.73) {
    // The leader's process dies: its streams reset, a standby wins the next election.
    sim.leader?.stop("crashed", false);
    return electSoon(sim, bug);
  }
  if (roll < 0.8) {
    // The leader lost its lease (a long pause, a partition from etcd): another is
    // elected at once, and the old one learns it lost only when its lease check runs.
    const old = sim.leader;
    elect(sim, rng.pick(CANDIDATES), bug);
    if (old !== undefined)
      queue.after(rng.int(100, 5_000), `${old.name} (epoch ${old.epoch}) learns it lost the lead`, () =>
        old.stop("deposed", true),
      );
  }
}

/** Faults stop: partitions heal, crashed nodes come back, and schedulers stop launching. */
function quiet(sim: Sim): void {
  sim.faults = false;
  sim.net.faulty = false;
  sim.net.healAll();
  sim.registry.failureRate = 0;
  for (const agent of sim.agents) agent.restart(false);
  for (const framework of sim.frameworks) {
    framework.quiet = true;
    framework.restart();
  }
  const bug = (message: string): void => {
    throw new Violation("no exception", message);
  };
  if (sim.leader === undefined || !sim.leader.serving) electSoon(sim, bug);
}
