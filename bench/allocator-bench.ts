/**
 * The allocator on its own (the pure module, time passed in), in the shape of
 * Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers: N agents of
 * `cpus:16;mem:64GB;disk:1TB;ports:[31000-32000]`, M frameworks in one role,
 * each declining everything it is offered with a long filter. Times each
 * allocation cycle, the reaction to one task ending, and heap per agent.
 */
import { createAllocator } from "../src/core/allocator/index.js";
import { parseResources } from "../src/core/resources/index.js";

export const AGENT_SHAPE = "cpus:16;mem:65536;disk:1048576;ports:[31000-32000]";

/** Agents × frameworks, as Mesos' benchmark reports them. */
export const ALLOCATOR_SIZES: ReadonlyArray<readonly [number, number]> = [
  [1_000, 100],
  [10_000, 1_000],
  [20_000, 2_000],
  [40_000, 4_000],
];

export interface AllocatorFigures {
  agents: number;
  frameworks: number;
  /** The first cycle, when every agent is still unfiltered. */
  firstCycleMs: number;
  /** Mean of the cycles after it, where frameworks decline and others get the agents. */
  declineCycleMs: number;
  /**
   * The same cycles in CPU time of this process (all its threads, so GC
   * helpers count too): steadier than wall time on a machine shared with
   * other work, where wall time also counts waiting for a core.
   */
  declineCycleCpuMs: number;
  offersPerCycle: number;
  /** One task's resources come back on one agent; time to the next allocation (median of a few). */
  reactMs: number;
  /** The same reactions' CPU time: a batch of them over their number. */
  reactCpuMs: number;
  /** Heap growth while adding the agents, per agent. */
  heapPerAgentBytes: number;
  /** Heap per agent once each also holds a task (held ledgers, shares), from the same baseline. */
  heapPerBusyAgentBytes: number;
  /**
   * The allocator's whole heap after the decline cycles (every agent, the
   * frameworks and the filters their declines left), from the same baseline.
   */
  heapAfterCyclesBytes: number;
}

const DECLINE_CYCLES = 4;
const LONG_FILTER_SECONDS = 1_000_000;
const REACTIONS = 200;

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export function runAllocatorCase(agents: number, frameworks: number): AllocatorFigures {
  const total = parseResources(AGENT_SHAPE);
  const before = heapUsed();
  const allocator = createAllocator();
  for (let i = 0; i < agents; i++) allocator.addAgent(`agent-${i}`, total);
  const heapPerAgentBytes = (heapUsed() - before) / agents;
  for (let f = 0; f < frameworks; f++) allocator.addFramework(`framework-${f}`, { roles: ["*"] });

  let now = 0;
  const cycle = (): { ms: number; cpuMs: number; offers: number } => {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const offers = allocator.allocate(now);
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    for (const o of offers)
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuseSeconds: LONG_FILTER_SECONDS, now });
    now += 1000;
    return { ms, cpuMs, offers: offers.length };
  };
  const first = cycle();
  const declines = Array.from({ length: DECLINE_CYCLES }, cycle);
  const heapAfterCyclesBytes = heapUsed() - before;

  // A framework holds a task on each of a few agents; the tasks end one
  // at a time, each followed by an event-driven pass. Wall time per
  // reaction is the median (one slow sample on a busy machine does not
  // decide it); CPU time is the whole batch's over its reactions, since
  // process.cpuUsage over one reaction of tens of microseconds is mostly
  // noise (it counts the compiler's and GC's threads too).
  const task = parseResources("cpus:1;mem:128");
  const reacting = Math.min(REACTIONS, agents);
  for (let i = 0; i < reacting; i++) allocator.addAllocated("framework-0", `agent-${i}`, task);
  // Settle what the setup above changed, so only the tasks' ends are measured.
  allocator.allocateChanged(now);
  const reactions: number[] = [];
  const batchCpu = process.cpuUsage();
  for (let i = 0; i < reacting; i++) {
    const start = performance.now();
    allocator.recoverResources("framework-0", `agent-${i}`, task);
    allocator.allocateChanged(now);
    reactions.push(performance.now() - start);
  }
  const batchUsed = process.cpuUsage(batchCpu);
  const reactCpuMs = (batchUsed.user + batchUsed.system) / 1000 / reacting;
  const reactMs = reactions.sort((a, b) => a - b)[Math.floor(reactions.length / 2)] as number;

  for (let i = 0; i < agents; i++) allocator.addAllocated(`framework-${i % frameworks}`, `agent-${i}`, task);
  const heapPerBusyAgentBytes = (heapUsed() - before) / agents;

  return {
    agents,
    frameworks,
    firstCycleMs: first.ms,
    declineCycleMs: declines.reduce((sum, c) => sum + c.ms, 0) / declines.length,
    declineCycleCpuMs: declines.reduce((sum, c) => sum + c.cpuMs, 0) / declines.length,
    offersPerCycle: Math.round(declines.reduce((sum, c) => sum + c.offers, 0) / declines.length),
    reactMs,
    reactCpuMs,
    heapPerAgentBytes,
    heapPerBusyAgentBytes,
    heapAfterCyclesBytes,
  };
}

/** Every size in turn; a size that throws is reported and the rest still run. */
export async function runAllocatorBench(
  sizes = ALLOCATOR_SIZES,
): Promise<Array<AllocatorFigures | { agents: number; frameworks: number; error: string }>> {
  const out: Array<AllocatorFigures | { agents: number; frameworks: number; error: string }> = [];
  for (const [agents, frameworks] of sizes) {
    process.stderr.write(`bench: allocator ${agents} agents x ${frameworks} frameworks...\n`);
    try {
      out.push(runAllocatorCase(agents, frameworks));
    } catch (err) {
      out.push({ agents, frameworks, error: err instanceof Error ? err.message : String(err) });
    }
    // Let the event loop breathe between sizes (and stderr flush).
    await new Promise((r) => setImmediate(r));
  }
  return out;
}
