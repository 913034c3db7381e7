/**
 * Failover at scale: a throwaway etcd, three `plateau master` processes
 * (--election-ttl 2), one framework (src/client/scheduler.ts) and a fleet of
 * simulated agents (sim-agents.ts) holding its tasks, all through etcd://.
 * Each round SIGKILLs the leader (a standby sees its port refuse
 * connections and revokes its lease), then a last round SIGSTOPs it (the
 * frozen leader keeps its lease until the TTL runs out), and times, from
 * the signal:
 *
 *   (a) an operator GET_MASTER through etcd:// answers with another master
 *   (b) every simulated agent got Registered from the new leader's epoch
 *   (c) the framework saw SUBSCRIBED again
 *
 * then starts a replacement master (or resumes the frozen one, which steps
 * down) so the next round has three again.
 * Run alone: `node --import tsx bench/ha-bench.ts [agents] [kill rounds]
 * [pause rounds] [max agent backoff ms]` (prints JSON, writes nothing).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Call_Type as OperatorCallType } from "../gen/mesos/v1/master/master_pb.js";
import { FrameworkInfoSchema, type MasterInfo } from "../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator, type OperatorClient } from "../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../src/client/scheduler.js";
import { EtcdServer } from "../test/helpers/etcd.js";
import { type Daemon, ProcessScope } from "../test/helpers/processes.js";
import { cpuTicks, ticksPerSecond } from "./cpu.js";
import { SessionPool } from "./session-pool.js";
import { AGENT_RECONNECT, type SimFleet, startSimFleet } from "./sim-agents.js";

export const HA_SHAPE = {
  agents: 1_000,
  tasksPerAgent: 10,
  rounds: 3,
  pausedRounds: 1,
  sessions: 8,
  electionTtl: 2,
  agentReconnect: AGENT_RECONNECT,
};

/** How a round takes the leader down. */
export type Failure = "SIGKILL" | "SIGSTOP";
const PREFIX = "/plateau";
const POLL_MS = 20;
const ROUND_TIMEOUT_MS = 60_000;

export interface FailoverRound {
  failure: Failure;
  /** Kill → GET_MASTER through etcd:// names another master. */
  leaderServingMs: number;
  /** Kill → the last agent's Registered from the new epoch. */
  agentsReregisteredMs: number;
  firstAgentMs: number;
  medianAgentMs: number;
  /** Kill → SUBSCRIBED. */
  frameworkResubscribedMs: number;
  /** After (b): GET_AGENTS active count and GET_TASKS count from the new leader. */
  activeAgents: number;
  tasks: number;
  /** CPU of the bench process and of the new leader over kill → last of (a)-(c), % of one core. */
  benchCpuPct: number;
  leaderCpuPct: number | undefined;
  /** "leadership lost" lines the masters logged from the kill until the next round (the kill itself logs none). */
  leadershipLosses: number;
}

export interface FailoverResult {
  agents: number;
  tasks: number;
  /** Fleet start → every agent registered once (first registrations, all registry writes). */
  setupMs: number;
  setupBenchCpuPct: number;
  /** "leadership lost" lines logged while the fleet first registered: a leader starved past its TTL. */
  setupLeadershipLosses: number;
  /** The leader's resident memory once the fleet registered (the largest master's: standbys hold no cluster), kB. */
  leaderRssKb: number | undefined;
  rounds: FailoverRound[];
  problems: string[];
}

/** How often the masters logged losing the lead (lease not confirmed in time, ...). */
const leadershipLosses = (rig: Rig): number =>
  rig.started.reduce((n, m) => n + (m.logs().match(/"leadership lost"/g)?.length ?? 0), 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string | (() => string),
  timeoutMs = ROUND_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${typeof what === "string" ? what : what()}`);
    await sleep(POLL_MS);
  }
}

const masterArgs = (registry: string): string[] => [
  "master",
  "--port",
  "0",
  "--registry",
  registry,
  "--election-ttl",
  String(HA_SHAPE.electionTtl),
];
/** HA_BENCH_LOG_DIR keeps every master's log there. HA_BENCH_MASTER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) go to the masters' node. */
const masterNodeArgs = (): string[] => process.env.HA_BENCH_MASTER_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? [];

/** Everything one run owns, so `finally` can take it all down. */
interface Rig {
  etcd?: EtcdServer;
  scope: ProcessScope;
  /** Every master started, the killed ones too (for HA_BENCH_LOG_DIR). */
  started: Daemon[];
  sessions?: SessionPool;
  operator?: OperatorClient;
  scheduler?: SchedulerClient;
  fleet?: SimFleet;
}

async function teardown(rig: Rig): Promise<void> {
  const logDir = process.env.HA_BENCH_LOG_DIR;
  if (logDir !== undefined)
    for (const m of rig.started) writeFileSync(join(logDir, `master-${m.process.pid}.log`), m.logs());
  await rig.fleet?.close().catch(() => undefined);
  await rig.scheduler?.close().catch(() => undefined);
  await rig.operator?.close().catch(() => undefined);
  rig.sessions?.abort();
  await rig.scope.cleanup().catch(() => undefined);
  await rig.etcd?.cleanup().catch(() => undefined);
}

async function currentMaster(operator: OperatorClient): Promise<MasterInfo | undefined> {
  const response = await operator.call({ type: OperatorCallType.GET_MASTER }).catch(() => undefined);
  return response?.getMaster?.masterInfo;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

export async function runFailoverBench(shape = HA_SHAPE): Promise<FailoverResult> {
  const rig: Rig = { scope: new ProcessScope(), started: [] };
  const problems: string[] = [];
  try {
    rig.etcd = await EtcdServer.start();
    const registry = `etcd://${rig.etcd.endpoint}${PREFIX}`;
    const masters: Daemon[] = [];
    const startMaster = async (): Promise<void> => {
      const master = await rig.scope.start(masterArgs(registry), "master listening", {}, masterNodeArgs());
      masters.push(master);
      rig.started.push(master);
    };
    for (let i = 0; i < 3; i++) await startMaster();
    // GET_TASKS of 100,000 tasks comes in pieces and takes a while on a busy leader.
    rig.operator = createOperator({ master: registry, timeoutMs: 60_000 });

    const subscribedAt: number[] = [];
    const framework = { user: "bench", name: "ha-bench", failoverTimeout: 300 };
    const scheduler = createScheduler({
      master: registry,
      framework,
      onEvent: (e) => {
        if (e.type === Event_Type.SUBSCRIBED) subscribedAt.push(performance.now());
        // Offers are part of a real failover's load; decline them for an hour.
        if (e.type === Event_Type.OFFERS)
          scheduler.decline(
            (e.offers?.offers ?? []).flatMap((o) => (o.id ? [o.id] : [])),
            3600,
          );
      },
    });
    rig.scheduler = scheduler;
    const frameworkId = await until(() => scheduler.frameworkId, "the framework to subscribe");
    const frameworkInfo = create(FrameworkInfoSchema, { ...framework, id: { value: frameworkId } });

    rig.sessions = SessionPool.forFleet(shape.agents, shape.sessions);
    const setupStart = performance.now();
    const setupCpu = process.cpuUsage();
    const fleet = startSimFleet({
      master: registry,
      agents: shape.agents,
      tasksPerAgent: shape.tasksPerAgent,
      framework: frameworkInfo,
      sessions: rig.sessions,
      reconnect: shape.agentReconnect,
    });
    rig.fleet = fleet;
    await until(
      () => (fleet.registeredSince(0n) === shape.agents ? true : undefined),
      `${shape.agents} agents to register`,
      300_000,
    );
    const setupMs = performance.now() - setupStart;
    process.stderr.write(`ha-bench: ${shape.agents} agents registered in ${Math.round(setupMs)} ms\n`);
    const setupLeadershipLosses = leadershipLosses(rig);
    const setupBenchCpuPct = cpuPct(process.cpuUsage(setupCpu), setupMs);
    const rss = masters.flatMap((m) => (m.process.pid === undefined ? [] : [rssKbOf(m.process.pid) ?? 0]));
    const leaderRssKb = rss.length === 0 ? undefined : Math.max(...rss);

    const rounds: FailoverRound[] = [];
    const failures: Failure[] = [
      ...Array<Failure>(shape.rounds).fill("SIGKILL"),
      ...Array<Failure>(shape.pausedRounds).fill("SIGSTOP"),
    ];
    for (const [round, failure] of failures.entries()) {
      const losses = leadershipLosses(rig);
      const figures = await failOver(rig, masters, shape, subscribedAt, failure);
      if (failure === "SIGKILL") await startMaster();
      // Let the replacement (or the resumed master) settle as a standby before the next round.
      await sleep(2_000);
      rounds.push({ ...figures, leadershipLosses: leadershipLosses(rig) - losses });
      if (figures.activeAgents !== shape.agents)
        problems.push(
          `round ${round + 1}: GET_AGENTS showed ${figures.activeAgents} active agents, not ${shape.agents}`,
        );
      if (figures.tasks !== shape.agents * shape.tasksPerAgent)
        problems.push(
          `round ${round + 1}: GET_TASKS showed ${figures.tasks} tasks, not ${shape.agents * shape.tasksPerAgent}`,
        );
      process.stderr.write(`ha-bench: round ${round + 1}: ${JSON.stringify(rounds.at(-1))}\n`);
    }
    return {
      agents: shape.agents,
      tasks: shape.agents * shape.tasksPerAgent,
      setupMs,
      setupBenchCpuPct,
      setupLeadershipLosses,
      leaderRssKb,
      rounds,
      problems,
    };
  } finally {
    await teardown(rig);
  }
}

function rssKbOf(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

const cpuPct = (usage: NodeJS.CpuUsage, wallMs: number): number => ((usage.user + usage.system) / 1000 / wallMs) * 100;

async function failOver(
  rig: Rig,
  masters: Daemon[],
  shape: typeof HA_SHAPE,
  subscribedAt: number[],
  failure: Failure,
): Promise<Omit<FailoverRound, "leadershipLosses">> {
  const operator = rig.operator as OperatorClient;
  const fleet = rig.fleet as SimFleet;
  const old = await until(() => currentMaster(operator), "the current leader");
  const victim = masters.find((m) => m.port === old.address?.port);
  if (victim === undefined)
    throw new Error(`the leader ${old.address?.ip}:${old.address?.port} is none of our masters`);
  const oldEpoch = fleet.highestEpoch();
  const subscriptionsBefore = subscribedAt.length;
  const standbys = masters.filter((m) => m !== victim);
  const ticksBefore = standbys.map((m) => cpuTicks(m.process.pid));

  const cpu = process.cpuUsage();
  const killedAt = performance.now();
  if (failure === "SIGKILL") {
    const exited = new Promise((r) => victim.process.once("exit", r));
    victim.process.kill("SIGKILL");
    await exited;
    masters.splice(masters.indexOf(victim), 1);
  } else {
    victim.process.kill("SIGSTOP");
  }
  try {
    return {
      failure,
      ...(await measureFailover(
        rig,
        shape,
        subscribedAt,
        old,
        oldEpoch,
        subscriptionsBefore,
        standbys,
        ticksBefore,
        cpu,
        killedAt,
      )),
    };
  } finally {
    if (failure === "SIGSTOP") victim.process.kill("SIGCONT");
  }
}

async function measureFailover(
  rig: Rig,
  shape: typeof HA_SHAPE,
  subscribedAt: number[],
  old: MasterInfo,
  oldEpoch: bigint,
  subscriptionsBefore: number,
  standbys: Daemon[],
  ticksBefore: (number | undefined)[],
  cpu: NodeJS.CpuUsage,
  killedAt: number,
): Promise<Omit<FailoverRound, "leadershipLosses" | "failure">> {
  const operator = rig.operator as OperatorClient;
  const fleet = rig.fleet as SimFleet;

  const serving = until(async () => {
    const now = await currentMaster(operator);
    return now !== undefined && now.id !== old.id ? performance.now() : undefined;
  }, "a new leader to answer GET_MASTER");
  const reregistered = until(
    () => (fleet.registeredSince(oldEpoch + 1n) === shape.agents ? performance.now() : undefined),
    () => `every agent to re-register (${fleet.registeredSince(oldEpoch + 1n)} of ${shape.agents} did)`,
  );
  const resubscribed = until(() => subscribedAt[subscriptionsBefore], "the framework to resubscribe");
  const [servingAt, , resubscribedAt] = await Promise.all([serving, reregistered, resubscribed]);

  // Exact times from the agents' own timestamps rather than the poll.
  const agentMs = fleet.registrations.map((regs) => (regs.find((r) => r.epoch > oldEpoch)?.at ?? NaN) - killedAt);
  const endMs = Math.max(servingAt - killedAt, ...agentMs, resubscribedAt - killedAt);
  const benchCpuPct = cpuPct(process.cpuUsage(cpu), endMs);
  const newLeader = await until(() => currentMaster(operator), "the new leader");
  const leaderIndex = standbys.findIndex((m) => m.port === newLeader.address?.port);
  const leaderTicks = leaderIndex < 0 ? undefined : cpuTicks(standbys[leaderIndex]?.process.pid);
  const before = leaderIndex < 0 ? undefined : ticksBefore[leaderIndex];
  const leaderCpuPct =
    leaderTicks === undefined || before === undefined
      ? undefined
      : ((leaderTicks - before) / ticksPerSecond() / (endMs / 1000)) * 100;

  // The leader may still be busy with the fleet: one more try rather than losing the round's figures.
  const agents = await operator.getAgents().catch(() => operator.getAgents());
  const tasks = await operator.getTasks().catch(() => operator.getTasks());
  return {
    leaderServingMs: servingAt - killedAt,
    agentsReregisteredMs: Math.max(...agentMs),
    firstAgentMs: Math.min(...agentMs),
    medianAgentMs: median(agentMs),
    frameworkResubscribedMs: resubscribedAt - killedAt,
    activeAgents: agents.agents.filter((a) => a.active).length,
    tasks: tasks.tasks.length,
    benchCpuPct,
    leaderCpuPct,
  };
}

// Run alone: prints the figures as JSON; optional arguments: agents, kill rounds, pause rounds, the agents' maximum backoff in ms.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [agents = HA_SHAPE.agents, rounds = HA_SHAPE.rounds, pausedRounds = HA_SHAPE.pausedRounds, maxBackoffMs] =
    process.argv.slice(2).map(Number);
  const agentReconnect =
    maxBackoffMs === undefined
      ? AGENT_RECONNECT
      : { initialMs: Math.min(AGENT_RECONNECT.initialMs, maxBackoffMs), maxMs: maxBackoffMs };
  runFailoverBench({ ...HA_SHAPE, agents, rounds, pausedRounds, agentReconnect }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ha-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
