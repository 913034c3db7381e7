/**
 * A real agent (in-process, spawning the compiled executor host from dist/)
 * against a fake master that records what the agent sends and acknowledges
 * status updates only when told to. Run `npx tsc -p tsconfig.json` first.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type ConnectRouter, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as ExecutorCallType } from "../../gen/mesos/v1/executor/executor_pb.js";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import {
  FrameworkInfo_Capability_Type,
  FrameworkInfoSchema,
  TaskInfoSchema,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
  TaskStatus_Source,
} from "../../gen/mesos/v1/mesos_pb.js";
import {
  type AgentCall,
  type AgentEventSchema,
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  Error_Code,
  MesosService,
} from "../../gen/mesos/v2/mesos_pb.js";
import { type AgentDaemon, startAgent } from "../../src/agent/daemon.js";
import { silentLogger } from "../../src/log.js";
import { createServer, type PlateauServer } from "../../src/transport/server.js";
import { type AsyncQueue, createAsyncQueue } from "../../src/util/async-queue.js";
import { eventually, ProcessScope } from "../helpers/processes.js";

const HOST_MAIN = join(import.meta.dirname, "../../dist/src/executor/host-main.js");

/** The master side of one agent stream, as the test sees it. */
class FakeMaster {
  readonly calls: AgentCall[] = [];
  /** Acknowledge a status update only once it arrived this many times (every time after). */
  ackAfter = 1;
  private readonly seen = new Map<string, number>();
  private outbox: AsyncQueue<ConnectResponse> | undefined;
  readonly server: PlateauServer;

  constructor() {
    const routes = (router: ConnectRouter): void => {
      router.service(MesosService, {
        connect: (requests) => this.serve(requests),
        operate: () => {
          throw new Error("not served by the fake master");
        },
      });
    };
    this.server = createServer({ host: "127.0.0.1", port: 0, routes, closeGraceMs: 200 });
  }

  /** The epoch put on every event, as a leading master does. */
  epoch = 0n;

  push(event: MessageInitShape<typeof AgentEventSchema>["event"]): void {
    this.outbox?.push(
      create(ConnectResponseSchema, { event: { case: "agent", value: { event, leaderEpoch: this.epoch } } }),
    );
  }

  /** Every status update received for a task, resends included. */
  updates(taskId: string): TaskStatus[] {
    return this.calls.flatMap((c) =>
      c.call.case === "statusUpdate" && c.call.value.status?.taskId?.value === taskId ? [c.call.value.status] : [],
    );
  }

  /** The task's distinct states, in the order they first arrived. */
  states(taskId: string): TaskState[] {
    const states: TaskState[] = [];
    for (const s of this.updates(taskId)) if (states.at(-1) !== s.state) states.push(s.state);
    return states;
  }

  private async *serve(requests: AsyncIterable<ConnectRequest>): AsyncGenerator<ConnectResponse> {
    const outbox = createAsyncQueue<ConnectResponse>();
    this.outbox = outbox;
    void (async () => {
      try {
        for await (const request of requests)
          if (request.call.case === "agent") this.onCall(request.call.value, request.id);
      } catch {
        // the agent went away
      } finally {
        outbox.end();
      }
    })();
    yield* outbox;
  }

  private onCall(call: AgentCall, id: string): void {
    this.calls.push(call);
    if (call.call.case === "register") {
      this.outbox?.push(
        create(ConnectResponseSchema, {
          callId: id,
          event: {
            case: "agent",
            value: {
              event: { case: "registered", value: { agentId: { value: "agent-1" }, heartbeatIntervalSeconds: 5 } },
            },
          },
        }),
      );
    } else if (call.call.case === "statusUpdate") {
      const status = call.call.value.status;
      const key = Buffer.from(status?.uuid ?? []).toString("hex");
      const count = (this.seen.get(key) ?? 0) + 1;
      this.seen.set(key, count);
      if (count >= this.ackAfter) {
        this.push({
          case: "acknowledge",
          value: { frameworkId: call.call.value.frameworkId, taskId: status?.taskId, uuid: status?.uuid },
        });
      }
    }
  }
}

const framework = create(FrameworkInfoSchema, { id: { value: "fw" }, name: "test", user: "test" });

function runTask(master: FakeMaster, taskId: string, command: string, graceSeconds?: number): void {
  const task = create(TaskInfoSchema, {
    name: taskId,
    taskId: { value: taskId },
    command: { value: command },
    killPolicy: graceSeconds === undefined ? undefined : { gracePeriod: { nanoseconds: BigInt(graceSeconds * 1e9) } },
  });
  master.push({ case: "runTask", value: { frameworkInfo: framework, task } });
}

function sandboxOf(workDir: string, taskId: string): string {
  const runs = join(workDir, "slaves/agent-1/frameworks/fw/executors", taskId, "runs");
  const [container] = readdirSync(runs);
  if (container === undefined) throw new Error(`no run of ${taskId}`);
  return join(runs, container);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("agent against a fake master", () => {
  const scope = new ProcessScope();
  const master = new FakeMaster();
  let agent: AgentDaemon | undefined;
  let workDir = "";

  beforeAll(async () => {
    if (!existsSync(HOST_MAIN)) throw new Error(`${HOST_MAIN} is missing: run npx tsc -p tsconfig.json first`);
    const { port } = await master.server.listen();
    workDir = scope.tempDir("plateau-agent-");
    // Hosts retire quickly here, so the tests see them come and go.
    process.env.PLATEAU_EXECUTOR_HOST_IDLE_MS = "300";
    agent = await startAgent(
      {
        master: `127.0.0.1:${port}`,
        ip: "127.0.0.1",
        port: 0,
        workDir,
        resources: "cpus:2;mem:512;disk:1024;ports:[31000-31010]",
        attributes: "rack:a",
        hostname: "localhost",
        logLevel: "warn",
        statusUpdateRetryMs: 200,
      },
      silentLogger(),
    );
    await eventually(() => agent?.agentId(), "registration");
  });

  afterAll(async () => {
    delete process.env.PLATEAU_EXECUTOR_HOST_IDLE_MS;
    await agent?.close();
    await master.server.close();
    await scope.cleanup();
  });

  it("registers with its resources and attributes, and persists its id", async () => {
    const register = await eventually(() => master.calls.find((c) => c.call.case === "register"), "Register");
    if (register.call.case !== "register") throw new Error("unreachable");
    const names = register.call.value.agentInfo?.resources.map((r) => r.name).sort();
    expect(names).toEqual(["cpus", "disk", "mem", "ports"]);
    expect(register.call.value.agentInfo?.attributes.map((a) => a.name)).toEqual(["rack"]);
    await eventually(() => agent?.agentId(), "agent id");
    expect(readFileSync(join(workDir, "meta/agent_id"), "utf8").trim()).toBe("agent-1");
  });

  it("runs echo: STARTING, RUNNING, FINISHED in order, each resent until acknowledged", async () => {
    master.ackAfter = 2;
    runTask(master, "echo", "echo hello; echo task=$MESOS_TASK_ID");
    const finishedTwice = () => master.updates("echo").filter((s) => s.state === TaskState.TASK_FINISHED).length >= 2;
    await eventually(() => (finishedTwice() ? true : undefined), "TASK_FINISHED, resent");
    master.ackAfter = 1;
    expect(master.states("echo")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]);
    // Each update went out at least twice: the fake acknowledged only resends.
    for (const state of master.states("echo")) {
      expect(master.updates("echo").filter((s) => s.state === state).length).toBeGreaterThanOrEqual(2);
    }
    const stdout = readFileSync(join(sandboxOf(workDir, "echo"), "stdout"), "utf8");
    expect(stdout).toContain("hello");
    expect(stdout).toContain("task=echo");
  });

  it("reports a failing command as TASK_FAILED with its exit status", async () => {
    runTask(master, "fail", "exit 3");
    const failed = await eventually(
      () => master.updates("fail").find((s) => s.state === TaskState.TASK_FAILED),
      "TASK_FAILED",
    );
    expect(failed.message).toContain("status 3");
  });

  it("reports a command that cannot start as TASK_FAILED, and the host goes on launching", async () => {
    const task = create(TaskInfoSchema, {
      name: "missing",
      taskId: { value: "missing" },
      command: { shell: false, value: "/nonexistent/program", arguments: ["program"] },
    });
    master.push({ case: "runTask", value: { frameworkInfo: framework, task } });
    const failed = await eventually(
      () => master.updates("missing").find((s) => s.state === TaskState.TASK_FAILED),
      "TASK_FAILED",
    );
    expect(failed.message).toMatch(/Failed to launch the command: .*ENOENT/);
    expect(master.states("missing")).not.toContain(TaskState.TASK_RUNNING);
    runTask(master, "after-missing", "true");
    await eventually(
      () => (master.states("after-missing").includes(TaskState.TASK_FINISHED) ? true : undefined),
      "TASK_FINISHED of the next task",
    );
  });

  it("kills a task with SIGTERM to its whole process group", async () => {
    runTask(master, "sleeper", "echo $$ > pid; sleep 60 & sleep 60");
    await eventually(
      () => (master.states("sleeper").includes(TaskState.TASK_RUNNING) ? true : undefined),
      "TASK_RUNNING",
    );
    const pidFile = join(sandboxOf(workDir, "sleeper"), "pid");
    const pgid = await eventually(
      () => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) || undefined : undefined),
      "pid file",
    );
    expect(groupAlive(pgid)).toBe(true);
    master.push({ case: "killTask", value: { frameworkId: { value: "fw" }, taskId: { value: "sleeper" } } });
    const killed = await eventually(
      () => master.updates("sleeper").find((s) => s.state === TaskState.TASK_KILLED),
      "TASK_KILLED",
    );
    expect(killed.message).toContain("SIGTERM");
    await eventually(() => (groupAlive(pgid) ? undefined : true), "process group gone", 3000);
  });

  it("SIGKILLs a task that ignores SIGTERM after the kill policy's grace period", async () => {
    runTask(master, "stubborn", "trap '' TERM; echo $$ > pid; sleep 60", 1);
    await eventually(
      () => (master.states("stubborn").includes(TaskState.TASK_RUNNING) ? true : undefined),
      "TASK_RUNNING",
    );
    const pidFile = join(sandboxOf(workDir, "stubborn"), "pid");
    const pgid = await eventually(
      () => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) || undefined : undefined),
      "pid file",
    );
    const started = Date.now();
    master.push({ case: "killTask", value: { frameworkId: { value: "fw" }, taskId: { value: "stubborn" } } });
    const killed = await eventually(
      () => master.updates("stubborn").find((s) => s.state === TaskState.TASK_KILLED),
      "TASK_KILLED",
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(killed.message).toContain("SIGKILL");
    await eventually(() => (groupAlive(pgid) ? undefined : true), "process group gone", 3000);
  });

  it("sends TASK_KILLING first to frameworks that ask for it", async () => {
    const capable = create(FrameworkInfoSchema, {
      id: { value: "fw" },
      name: "test",
      user: "test",
      capabilities: [{ type: FrameworkInfo_Capability_Type.TASK_KILLING_STATE }],
    });
    const task = create(TaskInfoSchema, { name: "k", taskId: { value: "killing" }, command: { value: "sleep 60" } });
    master.push({ case: "runTask", value: { frameworkInfo: capable, task } });
    await eventually(
      () => (master.states("killing").includes(TaskState.TASK_RUNNING) ? true : undefined),
      "TASK_RUNNING",
    );
    master.push({ case: "killTask", value: { frameworkId: { value: "fw" }, taskId: { value: "killing" } } });
    await eventually(
      () => (master.states("killing").includes(TaskState.TASK_KILLED) ? true : undefined),
      "TASK_KILLED",
    );
    expect(master.states("killing").slice(-2)).toEqual([TaskState.TASK_KILLING, TaskState.TASK_KILLED]);
  });

  it("answers a kill of an unknown task with TASK_LOST", async () => {
    master.push({ case: "killTask", value: { frameworkId: { value: "fw" }, taskId: { value: "ghost" } } });
    const lost = await eventually(() => master.updates("ghost")[0], "TASK_LOST");
    expect(lost.state).toBe(TaskState.TASK_LOST);
  });

  it("hosts many command executors in one executor host process", async () => {
    // AGENT_RSS_TASKS=200 measures a bigger agent.
    const ids = Array.from({ length: Number(process.env.AGENT_RSS_TASKS ?? 20) }, (_, i) => `many-${i}`);
    for (const id of ids) runTask(master, id, "sleep 60");
    await eventually(
      () => (ids.every((id) => master.states(id).includes(TaskState.TASK_RUNNING)) ? true : undefined),
      `${ids.length} running tasks`,
    );
    // One host for all of them (a retiring idle host may still be exiting).
    const pids = await eventually(
      () => (agent?.executorPids().length === 1 ? agent.executorPids() : undefined),
      "one executor host",
    );
    const rss = readFileSync(`/proc/${pids[0]}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1];
    console.log(`executor host RSS with ${ids.length} sleeping tasks: ${Number(rss) / 1024} MB`);
    for (const id of ids)
      master.push({ case: "killTask", value: { frameworkId: { value: "fw" }, taskId: { value: id } } });
    await eventually(
      () => (ids.every((id) => master.states(id).includes(TaskState.TASK_KILLED)) ? true : undefined),
      `${ids.length} killed tasks`,
    );
  });
  it("retires an idle executor host and starts a new one on demand", async () => {
    await eventually(() => (agent?.executorPids().length === 0 ? true : undefined), "idle host retired", 5000);
    runTask(master, "after-idle", "echo again");
    await eventually(
      () => (master.states("after-idle").includes(TaskState.TASK_FINISHED) ? true : undefined),
      "TASK_FINISHED",
    );
  });

  it("fails the tasks of a custom executor that exits without reporting", async () => {
    const task = create(TaskInfoSchema, {
      name: "custom",
      taskId: { value: "custom-task" },
      executor: { executorId: { value: "custom-exec" }, command: { value: "echo id=$MESOS_EXECUTOR_ID; exit 2" } },
    });
    master.push({ case: "runTask", value: { frameworkInfo: framework, task } });
    const failed = await eventually(
      () => master.updates("custom-task").find((s) => s.state === TaskState.TASK_FAILED),
      "TASK_FAILED",
    );
    expect(failed.reason).toBe(TaskStatus_Reason.EXECUTOR_TERMINATED);
    expect(failed.source).toBe(TaskStatus_Source.AGENT);
    expect(failed.message).toContain("exited with status 2");
    const exited = master.calls.find(
      (c) => c.call.case === "executorExited" && c.call.value.executorId?.value === "custom-exec",
    );
    expect(exited?.call.value).toMatchObject({ status: 2 << 8 });
    expect(readFileSync(join(sandboxOf(workDir, "custom-exec"), "stdout"), "utf8")).toContain("id=custom-exec");
  });

  it("answers GET_HEALTH and refuses unknown executors on its own port", async () => {
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${agent?.port ?? 0}` });
    const client = createClient(MesosService, transport);
    const health = await client.operate({ call: { type: OperatorCallType.GET_HEALTH } });
    expect(health.response?.getHealth?.healthy).toBe(true);
    const hello = create(ConnectRequestSchema, {
      id: "c1",
      call: {
        case: "executor",
        value: { type: ExecutorCallType.SUBSCRIBE, frameworkId: { value: "fw" }, executorId: { value: "nobody" } },
      },
    });
    async function* requests(): AsyncGenerator<ConnectRequest> {
      yield hello;
    }
    const events: ConnectResponse[] = [];
    for await (const event of client.connect(requests())) events.push(event);
    expect(events[0]?.event.case).toBe("error");
    expect(events[0]?.event.value).toMatchObject({ code: Error_Code.NOT_FOUND, fatal: true });
    expect(events[0]?.callId).toBe("c1");
  });
  it("ignores orders from a master with an older epoch than one it has seen", async () => {
    master.epoch = 7n;
    runTask(master, "newer", "true");
    await eventually(
      () => (master.states("newer").includes(TaskState.TASK_FINISHED) ? true : undefined),
      "the task of epoch 7 to finish",
    );
    master.epoch = 6n; // a deposed leader
    runTask(master, "deposed", "true");
    master.epoch = 7n;
    runTask(master, "after", "true");
    await eventually(
      () => (master.states("after").includes(TaskState.TASK_FINISHED) ? true : undefined),
      "the next task of epoch 7 to finish",
    );
    expect(master.updates("deposed")).toEqual([]);
    master.epoch = 0n;
  });

  it("re-registers with its persisted id after a restart", async () => {
    await agent?.close();
    agent = undefined;
    const before = master.calls.length;
    agent = await startAgent(
      {
        master: `127.0.0.1:${master.server.port}`,
        ip: "127.0.0.1",
        port: 0,
        workDir,
        hostname: "localhost",
        logLevel: "warn",
      },
      silentLogger(),
    );
    const register = await eventually(
      () => master.calls.slice(before).find((c) => c.call.case === "register"),
      "Register",
    );
    if (register.call.case !== "register") throw new Error("unreachable");
    expect(register.call.value.agentInfo?.id?.value).toBe("agent-1");
    // Detected resources when --resources is absent.
    expect(register.call.value.agentInfo?.resources.map((r) => r.name).sort()).toEqual([
      "cpus",
      "disk",
      "mem",
      "ports",
    ]);
  });
});

describe("how the executor host reaches its agent", () => {
  const scope = new ProcessScope();
  const masters: FakeMaster[] = [];
  const agents: AgentDaemon[] = [];

  afterAll(async () => {
    for (const a of agents) await a.close();
    for (const m of masters) await m.server.close();
    await scope.cleanup();
  });

  const start = async (workDir: string): Promise<FakeMaster> => {
    const master = new FakeMaster();
    masters.push(master);
    const { port } = await master.server.listen();
    const started = await startAgent(
      {
        master: `127.0.0.1:${port}`,
        ip: "127.0.0.1",
        port: 0,
        workDir,
        resources: "cpus:2;mem:512;disk:1024;ports:[31000-31010]",
        hostname: "localhost",
        logLevel: "warn",
      },
      silentLogger(),
    );
    agents.push(started);
    await eventually(() => started.agentId(), "registration");
    return master;
  };

  const finishes = async (master: FakeMaster, taskId: string): Promise<void> => {
    runTask(master, taskId, "true");
    await eventually(
      () => (master.states(taskId).includes(TaskState.TASK_FINISHED) ? true : undefined),
      `TASK_FINISHED of ${taskId}`,
    );
    expect(master.states(taskId)).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]);
  };

  it("over the executor socket in the work dir", async () => {
    const workDir = scope.tempDir("plateau-agent-socket-");
    const master = await start(workDir);
    expect(existsSync(join(workDir, "executors.sock"))).toBe(true);
    await finishes(master, "on-socket");
  });

  it("over streams of its own when the work dir's path is too long for a Unix socket", async () => {
    const workDir = join(scope.tempDir("plateau-agent-long-"), "a-work-dir-whose-path".repeat(5));
    expect(Buffer.byteLength(join(workDir, "executors.sock"))).toBeGreaterThan(107);
    const master = await start(workDir);
    expect(existsSync(join(workDir, "executors.sock"))).toBe(false);
    await finishes(master, "on-a-stream");
  });
});
