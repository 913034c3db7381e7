/**
 * Several masters on a real etcd: one leads, the others stand by; killing
 * the leader hands the cluster to another without losing a task.
 */
import { existsSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { type Offer, TaskInfoSchema, TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { MesosService } from "../../gen/mesos/v2/mesos_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { LEADER_HEADER } from "../../src/wire/masters.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";

/** The directories of every run of `taskId` under an agent work dir (one per launch). */
function runsOf(workDir: string, taskId: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (p.endsWith(`/executors/${taskId}/runs`)) out.push(...readdirSync(p).map((r) => join(p, r)));
      else walk(p);
    }
  };
  walk(workDir);
  return out;
}

function httpGet(port: number, path: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * What one master answers an Operate call, through a bare gRPC client (the
 * operator client would follow a standby's hint to the leader).
 */
async function refusalOf(port: number, type: OperatorCallType): Promise<unknown> {
  const url = `http://127.0.0.1:${port}`;
  const sessions = new Http2SessionManager(url);
  const client = createClient(MesosService, createGrpcTransport({ baseUrl: url, sessionManager: sessions }));
  try {
    return await client.operate({ call: { type } }).then(
      () => undefined,
      (err: unknown) => err,
    );
  } finally {
    sessions.abort();
  }
}

describe("high availability on etcd", () => {
  const etcds = new EtcdScope();
  const scope = new ProcessScope();
  let etcd: EtcdServer;
  let registry: string;
  const masters: Daemon[] = [];
  const agentDirs: string[] = [];
  let operator: OperatorClient;
  let scheduler: SchedulerClient;
  const statuses: TaskStatus[] = [];
  const offers: Offer[] = [];
  let subscriptions = 0;

  const leaderPort = async (): Promise<number> => {
    const response = await operator.call({ type: OperatorCallType.GET_MASTER });
    return response.getMaster?.masterInfo?.address?.port ?? 0;
  };

  beforeAll(async () => {
    etcd = await etcds.start();
    registry = `etcd://${etcd.endpoint}/plateau`;
    for (let i = 0; i < 3; i++) {
      masters.push(
        await scope.start(
          [
            "master",
            "--port",
            "0",
            "--registry",
            registry,
            "--election-ttl",
            "2",
            "--allocation-interval",
            "200ms",
            "--agent-reregister-timeout",
            "30secs",
          ],
          "master listening",
        ),
      );
    }
    for (let i = 0; i < 2; i++) {
      const dir = scope.tempDir();
      agentDirs.push(dir);
      await scope.start(
        [
          "agent",
          "--master",
          registry,
          "--port",
          "0",
          "--work-dir",
          dir,
          "--resources",
          "cpus:1;mem:256",
          "--hostname",
          `agent-${i}`,
        ],
        "agent listening",
      );
    }
    operator = createOperator({ master: registry });
    await eventually(
      async () =>
        (await operator.getAgents().catch(() => undefined))?.agents.filter((a) => a.active).length === 2
          ? true
          : undefined,
      "both agents to register",
    );
    scheduler = createScheduler({
      master: registry,
      framework: { user: "test", name: "survivor", failoverTimeout: 300 },
      reconnect: { initialMs: 100, maxMs: 1000 },
      onEvent: (e) => {
        if (e.type === Event_Type.SUBSCRIBED) subscriptions++;
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
        if (e.type === Event_Type.UPDATE && e.update?.status) {
          statuses.push(e.update.status);
          scheduler.acknowledge(e.update.status);
        }
      },
    });
    await eventually(() => (scheduler.subscribed ? true : undefined), "SUBSCRIBED");
  });

  afterAll(async () => {
    await scheduler?.teardown().catch(() => undefined);
    await operator?.close();
    await scope.cleanup();
    await etcds.cleanup();
  });

  it("has one leader; a standby refuses stream calls naming it, and redirects v1 clients to it", async () => {
    const leader = await leaderPort();
    const standby = masters.find((m) => m.port !== leader);
    expect(standby).toBeDefined();
    const refusal = await refusalOf(standby?.port ?? 0, OperatorCallType.GET_STATE);
    expect(refusal).toBeInstanceOf(ConnectError);
    expect((refusal as ConnectError).code).toBe(Code.Unavailable);
    expect((refusal as ConnectError).metadata.get(LEADER_HEADER)).toBe(`127.0.0.1:${leader}`);
    const redirect = await httpGet(standby?.port ?? 0, "/master/state");
    expect(redirect).toEqual({ status: 307, location: `//127.0.0.1:${leader}/master/state` });
    expect(await httpGet(standby?.port ?? 0, "/master/redirect")).toEqual({
      status: 307,
      location: `//127.0.0.1:${leader}`,
    });
  });

  const tasks = ["one", "two"];
  /** Every task still running, as the current leader knows it, and none launched twice. */
  const allStillRunning = async (): Promise<void> => {
    statuses.length = 0;
    for (const id of tasks) {
      const running = await eventually(
        () => {
          scheduler.reconcile([{ taskId: id }]);
          return statuses.find((s) => s.taskId?.value === id && s.state === TaskState.TASK_RUNNING);
        },
        `${id} to be known as running by the leader`,
        30_000,
      );
      expect(running.state).toBe(TaskState.TASK_RUNNING);
      expect(agentDirs.flatMap((dir) => runsOf(dir, id))).toHaveLength(1);
    }
    expect(
      statuses.some(
        (s) =>
          s.state === TaskState.TASK_KILLED || s.state === TaskState.TASK_LOST || s.state === TaskState.TASK_FAILED,
      ),
    ).toBe(false);
  };
  const newLeaderThan = (old: number) =>
    eventually(
      async () => {
        const port = await leaderPort().catch(() => 0);
        return port !== 0 && port !== old ? port : undefined;
      },
      "a new leader",
      30_000,
    );
  const bothAgentsActive = () =>
    eventually(
      async () =>
        (await operator.getAgents().catch(() => undefined))?.agents.filter((a) => a.active).length === 2
          ? true
          : undefined,
      "both agents to be registered with the leader",
      30_000,
    );

  it("runs tasks, then survives a split brain: clients leave a leader paused past its lease, which steps down when it resumes", async () => {
    for (const id of tasks) {
      const offer = await eventually(() => offers.shift(), "an offer");
      scheduler.launch(
        offer,
        [
          create(TaskInfoSchema, {
            name: id,
            taskId: { value: id },
            resources: parseResources("cpus:0.5;mem:64"),
            command: { value: "sleep 300" },
          }),
        ],
        { refuseSeconds: 0 },
      );
      await eventually(
        () => statuses.find((s) => s.taskId?.value === id && s.state === TaskState.TASK_RUNNING),
        `${id} running`,
      );
    }
    const oldLeader = await leaderPort();
    const paused = masters.find((m) => m.port === oldLeader);
    paused?.process.kill("SIGSTOP");
    let newLeader: number;
    try {
      // A call the frozen leader holds fails once etcd announces another leader, not at its deadline.
      await expect(operator.call({ type: OperatorCallType.GET_MASTER })).rejects.toThrow(/no longer leads/);
      newLeader = await newLeaderThan(oldLeader);
      // Still paused, the old leader cannot end its streams: agents and the
      // framework leave it because etcd announces another leader.
      await bothAgentsActive();
      await eventually(
        () => (subscriptions >= 2 && scheduler.subscribed ? true : undefined),
        "the framework to resubscribe",
        30_000,
      );
    } finally {
      paused?.process.kill("SIGCONT");
    }
    // Resumed, the old leader finds its lease gone and serves as a standby, naming the new leader.
    const refusal = await eventually(
      async () => {
        const err = await refusalOf(oldLeader, OperatorCallType.GET_HEALTH);
        return err instanceof ConnectError && err.metadata.get(LEADER_HEADER) === `127.0.0.1:${newLeader}`
          ? err
          : undefined;
      },
      "the resumed master to step down",
      30_000,
    );
    expect(refusal.code).toBe(Code.Unavailable);
    await bothAgentsActive();
    await eventually(
      () => (subscriptions >= 2 && scheduler.subscribed ? true : undefined),
      "the framework to resubscribe",
      30_000,
    );
    await allStillRunning();
  });

  it("survives SIGKILL of the leader, twice: agents re-register, the framework resubscribes, every task still runs, none launched twice", async () => {
    for (let round = 0; round < 2; round++) {
      const before = subscriptions;
      const oldLeader = await leaderPort();
      const victim = masters.find((m) => m.port === oldLeader);
      victim?.process.kill("SIGKILL");
      await new Promise((resolve) => victim?.process.once("exit", resolve));
      masters.splice(masters.indexOf(victim as Daemon), 1);
      const newLeader = await newLeaderThan(oldLeader);
      expect(masters.some((m) => m.port === newLeader)).toBe(true);
      await bothAgentsActive();
      await eventually(
        () => (subscriptions > before && scheduler.subscribed ? true : undefined),
        "the framework to resubscribe",
        30_000,
      );
      await allStillRunning();
      // A dead master's replacement keeps the three-master shape for the next round.
      masters.push(
        await scope.start(
          [
            "master",
            "--port",
            "0",
            "--registry",
            registry,
            "--election-ttl",
            "2",
            "--allocation-interval",
            "200ms",
            "--agent-reregister-timeout",
            "30secs",
          ],
          "master listening",
        ),
      );
    }
    const state = await operator.getState();
    expect(state.getTasks?.tasks.map((t) => [t.taskId?.value, TaskState[t.state]]).sort()).toEqual([
      ["one", "TASK_RUNNING"],
      ["two", "TASK_RUNNING"],
    ]);
  });

  it("keeps the registry and every task through an etcd restart, marking no agent unreachable", async () => {
    await etcd.stop();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // past the election TTL: nobody leads now
    await etcd.restart();
    await eventually(() => leaderPort().catch(() => undefined), "a leader after etcd is back", 30_000);
    await bothAgentsActive();
    await eventually(() => (scheduler.subscribed ? true : undefined), "the framework to be subscribed", 30_000);
    await allStillRunning();
    const agents = await operator.getAgents();
    expect(agents.agents.map((a) => a.agentInfo?.hostname).sort()).toEqual(["agent-0", "agent-1"]);
  });
});
