import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Event as OperatorEvent, Event_Type as OperatorEventType } from "../../gen/mesos/v1/master/master_pb.js";
import { type Offer, TaskInfoSchema, TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { type Event, Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { type Daemon, eventually, PLATEAU_BIN, ProcessScope, ROOT } from "../helpers/processes.js";

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function plateau(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PLATEAU_BIN, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file named `name` under `dir`, recursively. */
function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? findFiles(p, name) : e.name === name ? [p] : [];
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a cluster of real processes", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let agent: Daemon;
  let workDir: string;
  let operator: OperatorClient;
  let address: string;

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    address = `127.0.0.1:${master.port}`;
    workDir = scope.tempDir();
    agent = await scope.start(
      [
        "agent",
        "--master",
        address,
        "--port",
        "0",
        "--work-dir",
        workDir,
        "--resources",
        "cpus:4;mem:2048;disk:1000;ports:[31000-31100]",
        "--attributes",
        "rack:a",
      ],
      "agent listening",
    );
    operator = createOperator({ master: address });
    await eventually(
      async () => ((await operator.getAgents()).agents.length === 1 ? true : undefined),
      "the agent to register",
    );
  });

  afterAll(async () => {
    await operator?.close();
    await scope.cleanup();
  });

  it("runs `plateau run -- echo hello` to TASK_FINISHED with the output in the sandbox", async () => {
    const result = await plateau([
      "run",
      "--master",
      address,
      "--name",
      "hello",
      "--cpus",
      "0.1",
      "--mem",
      "32",
      "--",
      "echo",
      "hello",
    ]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const states = result.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(": ")[1]?.split(" ")[0]);
    expect(states).toEqual(["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    const outputs = findFiles(workDir, "stdout").map((f) => readFileSync(f, "utf8"));
    expect(outputs.some((o) => o.includes("hello"))).toBe(true);
  });

  it("exits with the task's exit status and reports TASK_FAILED", async () => {
    const result = await plateau(["run", "--master", address, "--name", "fails", "--shell", "echo oops >&2; exit 3"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/fails: TASK_FAILED/);
    expect(result.stdout).toMatch(/status 3/);
    const errors = findFiles(workDir, "stderr").map((f) => readFileSync(f, "utf8"));
    expect(errors.some((o) => o.includes("oops"))).toBe(true);
  });

  it("gives the task the MESOS_* environment and its sandbox as working directory", async () => {
    const result = await plateau([
      "run",
      "--master",
      address,
      "--name",
      "env",
      "--shell",
      'echo "id=$MESOS_TASK_ID fw=$MESOS_FRAMEWORK_ID agent=$MESOS_AGENT_ID sandbox=$MESOS_SANDBOX pwd=$(pwd)"',
    ]);
    expect(result.code).toBe(0);
    const line = findFiles(workDir, "stdout")
      .map((f) => readFileSync(f, "utf8"))
      .find((o) => o.includes("id=env"));
    expect(line).toBeDefined();
    const sandbox = /sandbox=(\S+)/.exec(line ?? "")?.[1];
    expect(line).toContain(`pwd=${sandbox}`);
    expect(line).toMatch(/fw=\S+/);
    expect(line).toMatch(/agent=\S+/);
  });

  it("lists finished tasks in `plateau tasks` and the agent in `plateau agents`", async () => {
    const tasks = await plateau(["tasks", "--master", address]);
    expect(tasks.code).toBe(0);
    expect(tasks.stdout).toMatch(/hello/);
    expect(tasks.stdout).toMatch(/TASK_FINISHED/);
    const agents = await plateau(["agents", "--master", address]);
    expect(agents.stdout).toMatch(/localhost/);
    const state = await plateau(["state", "--master", address, "--json"]);
    const parsed = JSON.parse(state.stdout) as { get_state?: { get_agents?: { agents?: unknown[] } } };
    expect(parsed.get_state?.get_agents?.agents).toHaveLength(1);
  });

  describe("with a scheduler written against the client library", () => {
    let scheduler: SchedulerClient;
    const events: Event[] = [];
    const statuses: TaskStatus[] = [];
    const offers: Offer[] = [];

    beforeAll(async () => {
      scheduler = createScheduler({
        master: address,
        framework: { user: "test", name: "integration", failoverTimeout: 60 },
        onEvent: (e) => {
          events.push(e);
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
    });

    const task = (id: string, resources: string, command: string) =>
      create(TaskInfoSchema, {
        name: id,
        taskId: { value: id },
        resources: parseResources(resources),
        command: { value: command },
      });
    const takeOffer = () => eventually(() => offers.shift(), "an offer");
    const stateOf = (taskId: string, state: TaskState) =>
      eventually(
        () => statuses.find((s) => s.taskId?.value === taskId && s.state === state),
        `${taskId} to reach ${TaskState[state]}`,
      );

    it("kills a running task's whole process group", async () => {
      const offer = await takeOffer();
      scheduler.launch(offer, [task("sleeper", "cpus:0.1;mem:32", "sleep 60 & echo $! > child.pid; wait")]);
      await stateOf("sleeper", TaskState.TASK_RUNNING);
      const pidFile = await eventually(() => findFiles(workDir, "child.pid")[0], "the child pid file");
      const childPid = Number(await eventually(() => readFileSync(pidFile, "utf8").trim() || undefined, "a pid"));
      expect(pidAlive(childPid)).toBe(true);
      scheduler.kill("sleeper");
      await stateOf("sleeper", TaskState.TASK_KILLED);
      await eventually(() => (pidAlive(childPid) ? undefined : true), "the task's child to be gone");
    });

    it("relays framework messages both ways through a custom executor", async () => {
      const script = join(scope.tempDir("plateau-executor-"), "echo-executor.mjs");
      writeFileSync(
        script,
        `import { createExecutor, executorEnvironment } from ${JSON.stringify(join(ROOT, "dist/src/client/executor.js"))};
let taskId = "";
const client = createExecutor({
  ...executorEnvironment(),
  onEvent(e) {
    if (e.type === 2) { taskId = e.launch.task.taskId.value; client.update({ taskId: { value: taskId }, state: 1 }); }
    if (e.type === 5) client.message(new TextEncoder().encode("pong:" + new TextDecoder().decode(e.message.data)));
    if (e.type === 3) client.update({ taskId: { value: taskId }, state: 4, message: "killed by request" });
    if (e.type === 7) client.close().then(() => process.exit(0));
  },
});
`,
      );
      const messages: string[] = [];
      const original = events.length;
      const offer = await takeOffer();
      scheduler.launch(offer, [
        create(TaskInfoSchema, {
          name: "echo",
          taskId: { value: "echo" },
          resources: parseResources("cpus:0.1;mem:32"),
          executor: {
            executorId: { value: "echo-executor" },
            command: { value: `${process.execPath} ${script}` },
            resources: parseResources("cpus:0.1;mem:32"),
          },
        }),
      ]);
      const running = await stateOf("echo", TaskState.TASK_RUNNING);
      expect(running.executorId?.value).toBe("echo-executor");
      scheduler.message(offer.agentId?.value ?? "", "echo-executor", new TextEncoder().encode("ping"));
      await eventually(() => {
        for (const e of events.slice(original)) {
          if (e.type === Event_Type.MESSAGE) messages.push(new TextDecoder().decode(e.message?.data));
        }
        return messages.includes("pong:ping") ? true : undefined;
      }, "the executor's answer");
      scheduler.kill("echo");
      const killed = await stateOf("echo", TaskState.TASK_KILLED);
      expect(killed.message).toBe("killed by request");
    });

    it("turns a launch with resources beyond the offer into TASK_ERROR and keeps going", async () => {
      const offer = await takeOffer();
      scheduler.launch(offer, [task("greedy", "cpus:100;mem:32", "true"), task("modest", "cpus:0.1;mem:32", "true")]);
      const error = await stateOf("greedy", TaskState.TASK_ERROR);
      expect(error.message).toMatch(/more resources/);
      await stateOf("modest", TaskState.TASK_FINISHED);
    });

    it("gives the framework and its tasks back to a scheduler that fails over", async () => {
      const offer = await takeOffer();
      scheduler.launch(offer, [task("survivor", "cpus:0.1;mem:32", "sleep 60")]);
      await stateOf("survivor", TaskState.TASK_RUNNING);
      const frameworkId = scheduler.frameworkId;
      await scheduler.close();
      const again: TaskStatus[] = [];
      scheduler = createScheduler({
        master: address,
        framework: { user: "test", name: "integration", failoverTimeout: 60, id: { value: frameworkId ?? "" } },
        onEvent: (e) => {
          if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
          if (e.type === Event_Type.UPDATE && e.update?.status) {
            again.push(e.update.status);
            statuses.push(e.update.status);
            scheduler.acknowledge(e.update.status);
          }
        },
      });
      await eventually(() => (scheduler.subscribed ? true : undefined), "SUBSCRIBED again");
      expect(scheduler.frameworkId).toBe(frameworkId);
      scheduler.reconcile();
      const reconciled = await eventually(() => again.find((s) => s.taskId?.value === "survivor"), "reconciliation");
      expect(reconciled.state).toBe(TaskState.TASK_RUNNING);
      scheduler.kill("survivor");
      await stateOf("survivor", TaskState.TASK_KILLED);
    });
  });

  it("redelivers an unacknowledged update to a scheduler that reconnects", async () => {
    const seen: TaskStatus[] = [];
    const offers: Offer[] = [];
    const onEvent = (e: Event) => {
      if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
      if (e.type === Event_Type.UPDATE && e.update?.status) seen.push(e.update.status);
    };
    let scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "forgetful", failoverTimeout: 60 },
      onEvent,
    });
    try {
      const offer = await eventually(() => offers.shift(), "an offer");
      scheduler.launch(offer, [
        create(TaskInfoSchema, {
          name: "quick",
          taskId: { value: "quick" },
          resources: parseResources("cpus:0.1;mem:32"),
          command: { value: "true" },
        }),
      ]);
      // Never acknowledged: the agent keeps TASK_STARTING as the head of its stream.
      const first = await eventually(
        () => seen.find((s) => s.taskId?.value === "quick" && s.uuid.length > 0),
        "the first update",
      );
      const frameworkId = scheduler.frameworkId ?? "";
      await scheduler.close();
      seen.length = 0;
      scheduler = createScheduler({
        master: address,
        framework: { user: "test", name: "forgetful", failoverTimeout: 60, id: { value: frameworkId } },
        onEvent,
      });
      // Well before the agent's 10 s backoff would resend it.
      const again = await eventually(() => seen.find((s) => s.taskId?.value === "quick"), "the update again", 5_000);
      expect(Buffer.from(again.uuid).toString("hex")).toBe(Buffer.from(first.uuid).toString("hex"));
      expect(again.state).toBe(first.state);
    } finally {
      await scheduler.teardown().catch(() => undefined);
    }
  });

  it("streams task and framework events to a subscribed operator", async () => {
    const seen: OperatorEvent[] = [];
    const subscription = operator.subscribe((e) => seen.push(e));
    try {
      const subscribed = await eventually(
        () => seen.find((e) => e.type === OperatorEventType.SUBSCRIBED),
        "SUBSCRIBED",
      );
      expect(subscribed.subscribed?.getState?.getAgents?.agents).toHaveLength(1);
      const result = await plateau(["run", "--master", address, "--name", "watched", "--", "true"]);
      expect(result.code).toBe(0);
      const added = await eventually(
        () => seen.find((e) => e.type === OperatorEventType.TASK_ADDED && e.taskAdded?.task?.name === "watched"),
        "TASK_ADDED",
      );
      const taskId = added.taskAdded?.task?.taskId?.value;
      await eventually(
        () =>
          seen.find(
            (e) =>
              e.type === OperatorEventType.TASK_UPDATED &&
              e.taskUpdated?.status?.taskId?.value === taskId &&
              e.taskUpdated?.state === TaskState.TASK_FINISHED,
          ),
        "TASK_UPDATED to TASK_FINISHED",
      );
      expect(seen.some((e) => e.type === OperatorEventType.FRAMEWORK_ADDED)).toBe(true);
      await eventually(
        () => seen.find((e) => e.type === OperatorEventType.FRAMEWORK_REMOVED),
        "FRAMEWORK_REMOVED after teardown",
      );
    } finally {
      await subscription.close();
    }
  });

  it("keeps serving after a scheduler vanishes mid-stream", async () => {
    const result = await plateau(["run", "--master", address, "--name", "after", "--", "true"]);
    expect(result.code).toBe(0);
    expect(agent.process.exitCode).toBeNull();
    expect(master.process.exitCode).toBeNull();
  });
});
