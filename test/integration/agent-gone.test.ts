import { execFileSync } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  TaskInfoSchema,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator } from "../../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { alive, type Daemon, eventually, ProcessScope } from "../helpers/processes.js";

/** Every process under `pid` (the executor host, the tasks' shells and commands). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * The agent exits once its executor host has; the host, once each task's
 * process has been killed and has exited. What is left (a killed process
 * the kernel has not yet removed) must be gone moments later.
 */
async function allGone(pids: number[]): Promise<void> {
  await eventually(() => (pids.some(alive) ? undefined : true), `processes ${pids.join(", ")} gone`, 3_000);
}

function exitCode(daemon: Daemon): Promise<number | null> {
  const child = daemon.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** The agent's log lines at error level or above (pino: 50 error, 60 fatal). */
function severeLines(daemon: Daemon): string[] {
  return daemon
    .logs()
    .split("\n")
    .filter((line) => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= 50;
      } catch {
        return false;
      }
    });
}

interface Framework {
  client: SchedulerClient;
  statuses: TaskStatus[];
  offers: Offer[];
}

function framework(master: string, name: string, partitionAware: boolean): Framework {
  const statuses: TaskStatus[] = [];
  const offers: Offer[] = [];
  const client = createScheduler({
    master,
    framework: {
      user: "test",
      name,
      capabilities: partitionAware ? [{ type: Capability.PARTITION_AWARE }] : [],
    },
    onEvent: (e) => {
      if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
      if (e.type === Event_Type.UPDATE && e.update?.status) {
        statuses.push(e.update.status);
        client.acknowledge(e.update.status);
      }
    },
  });
  return { client, statuses, offers };
}

/** Launches `sleep 120` as `taskId` on the framework's next offer; resolves with the agent id once it runs. */
async function runSleeper(fw: Framework, taskId: string): Promise<string> {
  const offer = await eventually(() => fw.offers.shift(), `an offer for ${taskId}`);
  fw.client.launch(offer, [
    create(TaskInfoSchema, {
      name: taskId,
      taskId: { value: taskId },
      resources: parseResources("cpus:0.1;mem:32"),
      command: { value: "sleep 120" },
    }),
  ]);
  await eventually(
    () => fw.statuses.find((s) => s.taskId?.value === taskId && s.state === TaskState.TASK_RUNNING),
    `${taskId} TASK_RUNNING`,
  );
  return offer.agentId?.value ?? "";
}

const lastState = (fw: Framework, taskId: string) => fw.statuses.filter((s) => s.taskId?.value === taskId).at(-1);

describe("an agent marked gone", () => {
  const scope = new ProcessScope();
  const frameworks: Framework[] = [];
  afterEach(async () => {
    await Promise.all(frameworks.splice(0).map((f) => f.client.teardown().catch(() => undefined)));
    await scope.cleanup();
  });

  const startMaster = (workDir: string, extra: string[] = []) =>
    scope.start(
      ["master", "--port", "0", "--work-dir", workDir, "--allocation-interval", "200ms", ...extra],
      "master listening",
    );
  const startAgent = (master: Daemon, workDir: string, resources = "cpus:1;mem:256") =>
    scope.start(
      ["agent", "--master", `127.0.0.1:${master.port}`, "--port", "0", "--work-dir", workDir, "--resources", resources],
      "agent listening",
    );

  it("while connected (v1 MARK_AGENT_GONE): tasks end for their frameworks, the agent stops them and exits, and it is refused for ever", async () => {
    const masterDir = scope.tempDir();
    const master = await startMaster(masterDir);
    const address = `127.0.0.1:${master.port}`;
    const agentDir = scope.tempDir();
    const agent = await startAgent(master, agentDir);
    const aware = framework(address, "partition-aware", true);
    frameworks.push(aware);
    const agentId = await runSleeper(aware, "aware-task");
    const plain = framework(address, "not-partition-aware", false);
    frameworks.push(plain);
    await runSleeper(plain, "plain-task");
    const pid = agent.process.pid ?? 0;
    const processes = await eventually(() => {
      const all = descendants(pid);
      // The executor host, and under it each task's shell and its sleep.
      return all.length >= 3 ? all : undefined;
    }, "the agent's executor and task processes");

    const markGone = () =>
      fetch(`http://${address}/api/v1`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "MARK_AGENT_GONE", mark_agent_gone: { agent_id: { value: agentId } } }),
      });
    expect((await markGone()).status).toBe(200);

    const gone = await eventually(() => {
      const s = lastState(aware, "aware-task");
      return s?.state === TaskState.TASK_GONE_BY_OPERATOR ? s : undefined;
    }, "TASK_GONE_BY_OPERATOR for the partition-aware framework");
    expect(gone.reason).toBe(TaskStatus_Reason.AGENT_REMOVED_BY_OPERATOR);
    const lost = await eventually(() => {
      const s = lastState(plain, "plain-task");
      return s?.state === TaskState.TASK_LOST ? s : undefined;
    }, "TASK_LOST for the other framework");
    // Mesos gives TASK_LOST the plainer reason.
    expect(lost.reason).toBe(TaskStatus_Reason.AGENT_REMOVED);

    // The agent does not serve on with orphans: it stops them and exits, saying why.
    expect(await exitCode(agent)).toBe(1);
    await allGone(processes);
    const severe = severeLines(agent).join("\n");
    expect(severe).toContain("marked gone");
    expect(severe).toContain("empty work dir");
    expect(agent.logs()).toContain("plateau: the master refuses this agent");

    // A repeated call is no error; the operator no longer sees the agent.
    expect((await markGone()).status).toBe(200);
    const operator = createOperator({ master: address });
    try {
      expect((await operator.getAgents()).agents.map((a) => a.agentInfo?.id?.value)).not.toContain(agentId);
    } finally {
      await operator.close();
    }
    // The master's word holds for a frameworks that asks again.
    expect(lastState(aware, "aware-task")?.state).toBe(TaskState.TASK_GONE_BY_OPERATOR);

    // Started again with its work dir, it is refused, also by a restarted master.
    const again = await startAgent(master, agentDir);
    expect(await exitCode(again)).toBe(1);
    expect(severeLines(again).join("\n")).toContain("marked gone");
    await master.stop();
    const restarted = await startMaster(masterDir);
    const afterRestart = await startAgent(restarted, agentDir);
    expect(await exitCode(afterRestart)).toBe(1);
    expect(severeLines(afterRestart).join("\n")).toContain("marked gone");
  }, 90_000);

  it("while unreachable (v2 MARK_AGENT_GONE): its tasks end, and when it wakes it is refused, stops them and exits", async () => {
    const master = await startMaster(scope.tempDir(), [
      "--agent-ping-timeout",
      "300ms",
      "--max-agent-ping-timeouts",
      "3",
    ]);
    const address = `127.0.0.1:${master.port}`;
    const agent = await startAgent(master, scope.tempDir());
    const aware = framework(address, "partition-aware", true);
    frameworks.push(aware);
    const agentId = await runSleeper(aware, "steady");
    const pid = agent.process.pid ?? 0;
    const processes = await eventually(() => {
      const all = descendants(pid);
      return all.length >= 2 ? all : undefined;
    }, "the agent's executor and task processes");

    process.kill(pid, "SIGSTOP");
    try {
      await eventually(
        () => (lastState(aware, "steady")?.state === TaskState.TASK_UNREACHABLE ? true : undefined),
        "TASK_UNREACHABLE",
      );
      const operator = createOperator({ master: address });
      try {
        const call = { type: OperatorCallType.MARK_AGENT_GONE, markAgentGone: { agentId: { value: agentId } } };
        await operator.call(call);
        await operator.call(call); // a repeated call is answered OK as well
      } finally {
        await operator.close();
      }
      const gone = await eventually(() => {
        const s = lastState(aware, "steady");
        return s?.state === TaskState.TASK_GONE_BY_OPERATOR ? s : undefined;
      }, "TASK_GONE_BY_OPERATOR");
      expect(gone.reason).toBe(TaskStatus_Reason.AGENT_REMOVED_BY_OPERATOR);
      // Still paused: its task runs on until the agent hears the news.
      expect(processes.every(alive)).toBe(true);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGCONT");
    }

    expect(await exitCode(agent)).toBe(1);
    await allGone(processes);
    const severe = severeLines(agent).join("\n");
    expect(severe).toContain(`Agent ${agentId} has been marked gone`);
    expect(severe).toContain("empty work dir");
    // Nothing came back for the framework.
    expect(lastState(aware, "steady")?.state).toBe(TaskState.TASK_GONE_BY_OPERATOR);
  }, 90_000);
});
