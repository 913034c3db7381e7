/**
 * Allocator benchmarks beyond DeclineOffers: a mixed workload (weighted
 * roles, quotas, reservations, tasks starting and ending) and Mesos' quota
 * benchmark shape (BENCHMARK_HierarchicalAllocator_WithQuotaParam
 * .LargeAndSmallQuota). Pure allocator, time passed in, seeded randomness.
 */
import type { Resource } from "../gen/mesos/v1/mesos_pb.js";
import { type Allocation, createAllocator } from "../src/core/allocator/index.js";
import {
  allocateTo,
  containsResources,
  parseResources,
  subtractResources,
  unallocated,
} from "../src/core/resources/index.js";
import { AGENT_SHAPE } from "./allocator-bench.js";

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MixFigures {
  agents: number;
  frameworks: number;
  cycles: number;
  /** Mean wall time of the measured cycles, and their CPU time. */
  cycleMs: number;
  cycleCpuMs: number;
  offersPerCycle: number;
  tasksRunning: number;
  tasksLaunched: number;
  tasksFinished: number;
}

export const MIX_ROLES = 10;
const MIX_FRAMEWORKS_PER_ROLE = 10;
const MIX_WARMUP = 3;
const MIX_CYCLES = 10;
const TASK_SHAPES = ["cpus:1;mem:2048", "cpus:2;mem:4096", "cpus:0.5;mem:1024", "cpus:4;mem:8192"].map((t) =>
  parseResources(t),
);

/**
 * 10 roles weighted 1 to 3; r0 and r1 guaranteed 10% of the cluster's cpus
 * and mem each (limited to 20%), r2 limited to 5%; one agent in ten
 * statically reserves half of itself to r3 or r4. Ten frameworks per role
 * launch tasks from each offer (a random shape, as many as fit up to four)
 * and decline the rest for 5 s; each cycle one running task in five ends.
 * Times each allocation cycle after a few warm-up cycles.
 */
export function runMixCase(agents: number): MixFigures {
  const random = seeded(42);
  const allocator = createAllocator({ random: seeded(7) });
  const reserved = parseResources("cpus:8;mem:32768;disk:524288;ports:[31000-32000]");
  for (let i = 0; i < agents; i++) {
    const role = i % 20 === 0 ? "r3" : i % 20 === 10 ? "r4" : undefined;
    const total =
      role === undefined
        ? parseResources(AGENT_SHAPE)
        : [...reserved, ...parseResources(`cpus(${role}):8;mem(${role}):32768;disk(${role}):524288`)];
    allocator.addAgent(`agent-${i}`, total);
  }
  for (let r = 0; r < MIX_ROLES; r++) allocator.setWeight(`r${r}`, 1 + (r % 3));
  const cpus = agents * 16;
  const mem = agents * 65536;
  for (const role of ["r0", "r1"]) {
    allocator.setQuota(role, {
      guarantees: new Map([
        ["cpus", cpus * 0.1],
        ["mem", mem * 0.1],
      ]),
      limits: new Map([
        ["cpus", cpus * 0.2],
        ["mem", mem * 0.2],
      ]),
    });
  }
  allocator.setLimits("r2", new Map([["cpus", cpus * 0.05]]));
  const frameworks: string[] = [];
  for (let r = 0; r < MIX_ROLES; r++) {
    for (let f = 0; f < MIX_FRAMEWORKS_PER_ROLE; f++) {
      const id = `framework-r${r}-${f}`;
      frameworks.push(id);
      allocator.addFramework(id, { roles: [`r${r}`] });
    }
  }

  const running: Array<{ frameworkId: string; agentId: string; resources: Resource[] }> = [];
  let launched = 0;
  let finished = 0;
  let now = 0;
  const accept = (offer: Allocation): void => {
    let left = unallocated(offer.resources);
    const shape = TASK_SHAPES[Math.floor(random() * TASK_SHAPES.length)] as Resource[];
    for (let n = 0; n < 4 && containsResources(left, shape); n++) {
      running.push({
        frameworkId: offer.frameworkId,
        agentId: offer.agentId,
        resources: allocateTo(shape, offer.role),
      });
      left = subtractResources(left, shape);
      launched++;
    }
    allocator.recoverResources(offer.frameworkId, offer.agentId, allocateTo(left, offer.role), {
      refuseSeconds: 5,
      now,
    });
  };
  const finishSome = (): void => {
    for (let i = running.length - 1; i >= 0; i--) {
      if (random() >= 0.2) continue;
      const task = running[i] as (typeof running)[number];
      running[i] = running[running.length - 1] as (typeof running)[number];
      running.pop();
      allocator.recoverResources(task.frameworkId, task.agentId, task.resources);
      finished++;
    }
  };

  let ms = 0;
  let cpuMs = 0;
  let offers = 0;
  for (let c = 0; c < MIX_WARMUP + MIX_CYCLES; c++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const batch = allocator.allocate(now);
    const used = process.cpuUsage(cpu);
    if (c >= MIX_WARMUP) {
      ms += performance.now() - start;
      cpuMs += (used.user + used.system) / 1000;
      offers += batch.length;
    }
    for (const offer of batch) accept(offer);
    finishSome();
    now += 1000;
  }
  return {
    agents,
    frameworks: frameworks.length,
    cycles: MIX_CYCLES,
    cycleMs: ms / MIX_CYCLES,
    cycleCpuMs: cpuMs / MIX_CYCLES,
    offersPerCycle: Math.round(offers / MIX_CYCLES),
    tasksRunning: running.length,
    tasksLaunched: launched,
    tasksFinished: finished,
  };
}

export interface QuotaFigures {
  agents: number;
  roles: number;
  frameworks: number;
  allocations: number;
  firstCycleMs: number;
  /** The next cycle, when everything is allocated: nothing to offer. */
  secondCycleMs: number;
  /** Roles whose guarantee was met by the first cycle. */
  rolesSatisfied: number;
}

/**
 * Mesos' LargeAndSmallQuota at its largest: 2,500 roles guaranteed
 * `cpus:1;mem:1024;disk:1024` and 500 guaranteed `cpus:4;mem:4096;disk:4096`
 * (limits equal to guarantees, as Mesos' createQuota sets them), one
 * framework each, on 3,000 agents of `cpus:2;mem:2048;disk:2048`. One cycle
 * meets every guarantee.
 */
export function runQuotaCase(small = 2_500, large = 500): QuotaFigures {
  const allocator = createAllocator();
  const agents = small / 5 + large * 5;
  const agentTotal = parseResources("cpus:2;mem:2048;disk:2048");
  for (let i = 0; i < agents; i++) allocator.addAgent(`agent-${i}`, agentTotal);
  const roles: Array<[string, Map<string, number>]> = [];
  for (let i = 0; i < small; i++)
    roles.push([
      `smallQuotaRole${i}`,
      new Map([
        ["cpus", 1],
        ["mem", 1024],
        ["disk", 1024],
      ]),
    ]);
  for (let i = 0; i < large; i++)
    roles.push([
      `largeQuotaRole${i}`,
      new Map([
        ["cpus", 4],
        ["mem", 4096],
        ["disk", 4096],
      ]),
    ]);
  for (const [role] of roles) allocator.addFramework(`framework-${role}`, { roles: [role] });
  for (const [role, quota] of roles) allocator.setQuota(role, { guarantees: quota, limits: quota });

  let start = performance.now();
  const first = allocator.allocate(0);
  const firstCycleMs = performance.now() - start;
  start = performance.now();
  const second = allocator.allocate(1000);
  const secondCycleMs = performance.now() - start;
  if (second.length > 0)
    throw new Error(`the second cycle made ${second.length} allocations; the first should have offered everything`);

  const cpusByRole = new Map<string, number>();
  for (const o of first) {
    for (const r of o.resources)
      if (r.name === "cpus") cpusByRole.set(o.role, (cpusByRole.get(o.role) ?? 0) + (r.scalar?.value ?? 0));
  }
  const rolesSatisfied = roles.filter(
    ([role, quota]) => (cpusByRole.get(role) ?? 0) >= (quota.get("cpus") ?? 0),
  ).length;
  return {
    agents,
    roles: roles.length,
    frameworks: roles.length,
    allocations: first.length,
    firstCycleMs,
    secondCycleMs,
    rolesSatisfied,
  };
}

export interface NestedFigures {
  agents: number;
  roles: number;
  cycleMs: number;
  cycleCpuMs: number;
  offersPerCycle: number;
}

/**
 * DeclineOffers over a role tree: 100 frameworks, each in its own role
 * `teamT/svcS` under 10 parents, so hierarchical DRF re-orders the tree
 * after every offer. Mean of the cycles after the first.
 */
export function runNestedCase(agents = 10_000, roles = 100): NestedFigures {
  const allocator = createAllocator();
  const total = parseResources(AGENT_SHAPE);
  for (let i = 0; i < agents; i++) allocator.addAgent(`agent-${i}`, total);
  for (let r = 0; r < roles; r++) allocator.addFramework(`framework-${r}`, { roles: [`team${r % 10}/svc${r}`] });
  let ms = 0;
  let cpuMs = 0;
  let offers = 0;
  const cycles = 4;
  for (let c = 0; c <= cycles; c++) {
    const now = c * 1000;
    const start = performance.now();
    const cpu = process.cpuUsage();
    const batch = allocator.allocate(now);
    const used = process.cpuUsage(cpu);
    if (c > 0) {
      ms += performance.now() - start;
      cpuMs += (used.user + used.system) / 1000;
      offers += batch.length;
    }
    for (const o of batch)
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuseSeconds: 1_000_000, now });
  }
  return {
    agents,
    roles,
    cycleMs: ms / cycles,
    cycleCpuMs: cpuMs / cycles,
    offersPerCycle: Math.round(offers / cycles),
  };
}
