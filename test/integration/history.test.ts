/**
 * What an operator sees of unreachable agents and of finished work, on real
 * master and agent processes: /master/state, /metrics/snapshot, the agent's
 * /state and the v2 GET_STATE.
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
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
import { eventually, ProcessScope } from "../helpers/processes.js";
import { type Json, request } from "./gateway-v1-client.js";

async function getJson<T = Json>(port: number, path: string): Promise<T> {
  const answer = await request(port, path, { method: "GET" });
  if (answer.status !== 200) throw new Error(`${path} answered ${answer.status}: ${answer.body.toString()}`);
  return JSON.parse(answer.body.toString()) as T;
}

interface TaskJson {
  id: string;
  state: string;
}
interface FrameworkJson {
  id: string;
  active: boolean;
  unregistered_time: number;
  tasks: TaskJson[];
  unreachable_tasks: TaskJson[];
  completed_tasks: TaskJson[];
}
interface StateJson {
  unreachable_slaves: number;
  frameworks: FrameworkJson[];
  completed_frameworks: FrameworkJson[];
  flags: Record<string, string>;
}

/** A scheduler that acknowledges every update and records statuses and offers. */
function startScheduler(address: string, name: string, partitionAware = false) {
  const statuses: TaskStatus[] = [];
  const offers: Offer[] = [];
  const scheduler: SchedulerClient = createScheduler({
    master: address,
    framework: {
      user: "test",
      name,
      capabilities: partitionAware ? [{ type: Capability.PARTITION_AWARE }] : [],
    },
    onEvent: (e) => {
      if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
      if (e.type === Event_Type.UPDATE && e.update?.status) {
        statuses.push(e.update.status);
        scheduler.acknowledge(e.update.status);
      }
    },
  });
  const launch = async (tasks: Array<{ id: string; command: string }>) => {
    const offer = await eventually(() => offers.shift(), "an offer");
    scheduler.launch(
      offer,
      tasks.map((t) =>
        create(TaskInfoSchema, {
          name: t.id,
          taskId: { value: t.id },
          resources: parseResources("cpus:0.1;mem:32"),
          command: { value: t.command },
        }),
      ),
    );
  };
  const reached = (taskId: string, state: TaskState, reason?: TaskStatus_Reason) =>
    eventually(
      () =>
        statuses.find(
          (s) => s.taskId?.value === taskId && s.state === state && (reason === undefined || s.reason === reason),
        ),
      `${taskId} in ${TaskState[state]}`,
      30_000,
    );
  return { scheduler, statuses, launch, reached };
}

const ids = (tasks: TaskJson[] | undefined) => (tasks ?? []).map((t) => `${t.id}:${t.state}`);

describe("operator views of unreachable agents and of history", () => {
  const scope = new ProcessScope();
  const stopped: number[] = [];
  afterEach(async () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await scope.cleanup();
  });

  it("counts an unreachable agent and lists its task as unreachable until the agent is back", async () => {
    const master = await scope.start(
      [
        "master",
        "--port",
        "0",
        "--allocation-interval",
        "200ms",
        "--agent-ping-timeout",
        "300ms",
        "--max-agent-ping-timeouts",
        "3",
      ],
      "master listening",
    );
    const address = `127.0.0.1:${master.port}`;
    const agent = await scope.start(
      ["agent", "--master", address, "--port", "0", "--work-dir", scope.tempDir(), "--resources", "cpus:1;mem:256"],
      "agent listening",
    );
    const fw = startScheduler(address, "partition-aware", true);
    const operator = createOperator({ master: address });
    const pid = agent.process.pid ?? 0;
    try {
      await fw.launch([{ id: "steady", command: "sleep 120" }]);
      await fw.reached("steady", TaskState.TASK_RUNNING);

      stopped.push(pid);
      process.kill(pid, "SIGSTOP");
      await fw.reached("steady", TaskState.TASK_UNREACHABLE);

      const metrics = await getJson<Record<string, number>>(master.port, "/metrics/snapshot");
      expect(metrics["master/slaves_unreachable"]).toBe(1);
      expect(metrics["master/tasks_unreachable"]).toBe(1);
      const state = await getJson<StateJson>(master.port, "/master/state");
      expect(state.unreachable_slaves).toBe(1);
      const [framework] = state.frameworks;
      expect(ids(framework?.unreachable_tasks)).toEqual(["steady:TASK_UNREACHABLE"]);
      expect(ids(framework?.tasks)).toEqual([]);
      expect(ids(framework?.completed_tasks)).toEqual([]);
      const tasks = (await operator.getState()).getTasks;
      expect(tasks?.unreachableTasks.map((t) => t.taskId?.value)).toEqual(["steady"]);
      expect(tasks?.completedTasks).toEqual([]);

      process.kill(pid, "SIGCONT");
      await fw.reached("steady", TaskState.TASK_RUNNING, TaskStatus_Reason.AGENT_REREGISTERED);
      const after = await getJson<StateJson>(master.port, "/master/state");
      expect(after.unreachable_slaves).toBe(0);
      expect(ids(after.frameworks[0]?.unreachable_tasks)).toEqual([]);
      expect(ids(after.frameworks[0]?.tasks)).toEqual(["steady:TASK_RUNNING"]);
      expect(
        (await getJson<Record<string, number>>(master.port, "/metrics/snapshot"))["master/slaves_unreachable"],
      ).toBe(0);
    } finally {
      await fw.scheduler.teardown().catch(() => undefined);
      await operator.close();
    }
  });

  it("keeps completed tasks and frameworks within the master's bounds, and completed executors on the agent", async () => {
    const master = await scope.start(
      [
        "master",
        "--port",
        "0",
        "--allocation-interval",
        "200ms",
        "--max-completed-frameworks",
        "1",
        "--max-completed-tasks-per-framework",
        "1",
      ],
      "master listening",
    );
    const address = `127.0.0.1:${master.port}`;
    const agent = await scope.start(
      [
        "agent",
        "--master",
        address,
        "--port",
        "0",
        "--work-dir",
        scope.tempDir(),
        "--resources",
        "cpus:1;mem:256",
        "--max-completed-executors-per-framework",
        "1",
      ],
      "agent listening",
    );
    const operator = createOperator({ master: address });
    const first = startScheduler(address, "first");
    try {
      await first.launch([
        { id: "a", command: "true" },
        { id: "b", command: "true" },
      ]);
      await first.reached("a", TaskState.TASK_FINISHED);
      await first.reached("b", TaskState.TASK_FINISHED);
      // The master files ended tasks in the order it forwards their updates: the newest is kept.
      const newest = first.statuses.filter((s) => s.state === TaskState.TASK_FINISHED).at(-1)?.taskId?.value;
      const running = await getJson<StateJson>(master.port, "/master/state");
      expect(ids(running.frameworks[0]?.completed_tasks)).toEqual([`${newest}:TASK_FINISHED`]);
      // master/tasks_finished counts both, though history keeps one.
      const metrics = await getJson<Record<string, number>>(master.port, "/metrics/snapshot");
      expect(metrics["master/tasks_finished"]).toBe(2);
      expect(running.flags).toMatchObject({
        max_completed_frameworks: "1",
        max_completed_tasks_per_framework: "1",
        max_unreachable_tasks_per_framework: "1000",
      });

      const firstId = first.scheduler.frameworkId ?? "";
      const before = Date.now() / 1000;
      await first.scheduler.teardown();
      const removed = await eventually(async () => {
        const s = await getJson<StateJson>(master.port, "/master/state");
        return s.completed_frameworks.length > 0 ? s : undefined;
      }, "a completed framework");
      expect(removed.frameworks).toEqual([]);
      const [completed] = removed.completed_frameworks;
      expect(completed).toMatchObject({ id: firstId, active: false });
      expect(completed?.unregistered_time).toBeGreaterThanOrEqual(Math.floor(before));
      expect(completed?.unregistered_time).toBeLessThanOrEqual(Date.now() / 1000);
      expect(ids(completed?.completed_tasks)).toEqual([`${newest}:TASK_FINISHED`]);
      const listed = await getJson<{ completed_frameworks: FrameworkJson[] }>(master.port, "/master/frameworks");
      expect(listed.completed_frameworks[0]?.unregistered_time).toBe(completed?.unregistered_time);
      const v2 = await operator.getState();
      expect(v2.getFrameworks?.completedFrameworks.map((f) => f.frameworkInfo?.id?.value)).toEqual([firstId]);
      expect(v2.getTasks?.completedTasks.map((t) => t.taskId?.value)).toEqual([newest]);

      // The agent keeps the framework's newest exited executor, with its task.
      const agentState = await eventually(async () => {
        const s = await getJson<{ frameworks: Json[]; completed_frameworks: Json[] }>(agent.port, "/state");
        return s.completed_frameworks.length > 0 ? s : undefined;
      }, "a completed framework on the agent");
      expect(agentState.frameworks).toEqual([]);
      const onAgent = agentState.completed_frameworks[0] as {
        id: string;
        executors: Json[];
        completed_executors: { id: string; tasks: Json[]; completed_tasks: TaskJson[] }[];
      };
      expect(onAgent.id).toBe(firstId);
      expect(onAgent.executors).toEqual([]);
      expect(onAgent.completed_executors).toHaveLength(1);
      const [executor] = onAgent.completed_executors;
      expect(executor?.tasks).toEqual([]);
      expect(ids(executor?.completed_tasks)).toEqual([`${executor?.id}:TASK_FINISHED`]);

      // A second removed framework pushes the first out of the master's history.
      const second = startScheduler(address, "second");
      const secondId = await eventually(() => second.scheduler.frameworkId, "the second framework's id");
      await second.scheduler.teardown();
      const later = await eventually(async () => {
        const s = await getJson<StateJson>(master.port, "/master/state");
        return s.completed_frameworks[0]?.id === secondId ? s : undefined;
      }, "the second framework completed");
      expect(later.completed_frameworks.map((f) => f.id)).toEqual([secondId]);
      expect((await operator.getTasks()).completedTasks).toEqual([]);
    } finally {
      await first.scheduler.close().catch(() => undefined);
      await operator.close();
    }
  });
});
