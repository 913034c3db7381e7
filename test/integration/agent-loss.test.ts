/**
 * What frameworks see when an agent is lost, comes back without its tasks,
 * or cannot be reached, through both APIs at once: a partition-aware v2
 * framework (gRPC stream) and a v1 framework that is not partition-aware
 * (HTTP), each with a task on the same agent. Real master and agent
 * processes; a partition is a paused (SIGSTOP) agent.
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
  TaskStatus_Source,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type Event, Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { type Daemon, eventually, freePort, ProcessScope } from "../helpers/processes.js";
import { events, type Json, request, type Stream, startFrameworkWithTasks } from "./gateway-v1-client.js";

const FAST_PINGS = ["--agent-ping-timeout", "300ms", "--max-agent-ping-timeouts", "3"];

/** A partition-aware v2 framework that acknowledges every update and keeps every event. */
function v2Framework(master: string) {
  const seen: Event[] = [];
  const offers: Offer[] = [];
  const scheduler: SchedulerClient = createScheduler({
    master,
    framework: {
      user: "test",
      name: "v2-partition-aware",
      failoverTimeout: 3600,
      capabilities: [{ type: Capability.PARTITION_AWARE }],
    },
    onEvent: (e) => {
      seen.push(e);
      if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
      if (e.type === Event_Type.UPDATE && e.update?.status) scheduler.acknowledge(e.update.status);
    },
  });
  const statuses = (taskId: string): TaskStatus[] =>
    seen.flatMap((e) => (e.update?.status?.taskId?.value === taskId ? [e.update.status] : []));
  return {
    scheduler,
    seen,
    statuses,
    nextOffer: (agentId?: string) =>
      eventually(() => {
        const index = offers.findIndex((o) => agentId === undefined || o.agentId?.value === agentId);
        return index < 0 ? undefined : offers.splice(index, 1)[0];
      }, "an offer"),
    launch: (offer: Offer, taskId: string) =>
      scheduler.launch(offer, [
        create(TaskInfoSchema, {
          name: taskId,
          taskId: { value: taskId },
          agentId: offer.agentId,
          resources: parseResources("cpus:0.5;mem:32"),
          command: { value: "sleep 120" },
        }),
      ]),
    reached: (taskId: string, state: TaskState, after = 0) =>
      eventually(
        () =>
          statuses(taskId)
            .slice(after)
            .find((s) => s.state === state),
        `${taskId} ${TaskState[state]}`,
      ),
  };
}

/** The v1 framework's UPDATE events for a task (as Mesos' JSON), oldest first. */
function v1Updates(stream: Stream, taskId: string): Json[] {
  return events(stream)
    .filter((e) => e.type === "UPDATE")
    .map((e) => (e.update as { status: Json }).status)
    .filter((s) => (s.task_id as { value: string }).value === taskId);
}

function v1Call(port: number, stream: Stream, frameworkId: string, body: Json) {
  return request(port, "/api/v1/scheduler", {
    headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
    body: [JSON.stringify({ framework_id: { value: frameworkId }, ...body })],
  });
}

async function slaves(port: number): Promise<Json[]> {
  const answer = await request(port, "/master/slaves", { method: "GET" });
  return (JSON.parse(answer.body.toString()) as { slaves: Json[] }).slaves;
}

describe("agent loss and partitions, as frameworks see them", () => {
  const scope = new ProcessScope();
  const streams: Stream[] = [];
  const schedulers: SchedulerClient[] = [];
  const paused: Daemon[] = [];
  afterEach(async () => {
    for (const agent of paused.splice(0)) agent.process.kill("SIGCONT");
    for (const stream of streams.splice(0)) stream.close();
    await Promise.all(schedulers.splice(0).map((s) => s.close()));
    await scope.cleanup();
  });

  /** A master, one agent, a v1 framework with a running `sleeper` and a v2 framework with a running `v2-task`. */
  async function cluster(masterArgs: string[] = [], port?: number, agentPort = 0) {
    const master = await scope.start(
      ["master", "--port", String(port ?? 0), "--allocation-interval", "100ms", ...masterArgs],
      "master listening",
    );
    const address = `127.0.0.1:${master.port}`;
    const workDir = scope.tempDir();
    const agentArgs = [
      "agent",
      "--master",
      address,
      "--port",
      String(agentPort),
      "--work-dir",
      workDir,
      "--resources",
      "cpus:2;mem:512;ports:[31000-31010]",
    ];
    const agent = await scope.start(agentArgs, "agent listening");
    const v1 = await startFrameworkWithTasks(master.port, { name: "v1-not-partition-aware", failover_timeout: 3600 });
    streams.push(v1.stream);
    // The v1 framework holds what it was offered: it wants nothing more.
    await v1Call(master.port, v1.stream, v1.frameworkId, { type: "SUPPRESS", suppress: {} });
    const v2 = v2Framework(address);
    schedulers.push(v2.scheduler);
    const offer = await v2.nextOffer();
    const agentId = offer.agentId?.value ?? "";
    v2.launch(offer, "v2-task");
    await v2.reached("v2-task", TaskState.TASK_RUNNING);
    return { master, address, agent, agentArgs, agentId, v1, v2 };
  }

  it("ends, through the agent, the tasks an agent comes back without, and frees their resources", async () => {
    const { master, agent, agentArgs, agentId, v1, v2 } = await cluster();
    // Killed outright: its executors go with it, and it comes back with the same id and nothing running.
    agent.process.kill("SIGKILL");
    await eventually(
      () => (agent.process.exitCode !== null || agent.process.signalCode !== null ? true : undefined),
      "the agent to die",
    );
    await scope.start(agentArgs, "agent listening");

    const dropped = await v2.reached("v2-task", TaskState.TASK_DROPPED);
    expect(dropped.reason).toBe(TaskStatus_Reason.RECONCILIATION);
    expect(dropped.source).toBe(TaskStatus_Source.AGENT);
    expect(dropped.agentId?.value).toBe(agentId);
    const lost = await eventually(
      () => v1Updates(v1.stream, "sleeper").find((s) => s.state === "TASK_LOST"),
      "v1 TASK_LOST",
    );
    expect(lost.reason).toBe("REASON_RECONCILIATION");
    expect(lost.source).toBe("SOURCE_AGENT");

    // Nothing is charged to the agent any more: the operator sees it idle.
    await eventually(async () => {
      const [slave] = await slaves(master.port);
      return (slave?.used_resources as { cpus: number } | undefined)?.cpus === 0 ? true : undefined;
    }, "the agent's resources freed");

    // KILL and RECONCILE of the ended tasks tell the truth, through both APIs:
    // their terminal state from the completed history (Mesos, which does not
    // look there, would say TASK_GONE).
    const before = v2.statuses("v2-task").length;
    v2.scheduler.kill("v2-task", agentId);
    v2.scheduler.reconcile([{ taskId: "v2-task", agentId }]);
    await eventually(() => (v2.statuses("v2-task").length >= before + 2 ? true : undefined), "two answers");
    expect(
      v2
        .statuses("v2-task")
        .slice(before)
        .map((s) => TaskState[s.state]),
    ).toEqual(["TASK_DROPPED", "TASK_DROPPED"]);
    const seenV1 = v1Updates(v1.stream, "sleeper").length;
    const reconcile = await v1Call(master.port, v1.stream, v1.frameworkId, {
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: "sleeper" }, agent_id: { value: agentId } }] },
    });
    expect(reconcile.status).toBe(202);
    const answer = await eventually(() => v1Updates(v1.stream, "sleeper")[seenV1], "the v1 reconciliation answer");
    expect([answer.state, answer.reason]).toEqual(["TASK_LOST", "REASON_RECONCILIATION"]);
  });

  it("forgets an agent whose address a wiped agent registers from, and ends its tasks", async () => {
    const { agent, agentArgs, agentId, v1, v2 } = await cluster([], undefined, await freePort());
    agent.process.kill("SIGKILL");
    await eventually(
      () => (agent.process.exitCode !== null || agent.process.signalCode !== null ? true : undefined),
      "the agent to die",
    );
    const wiped = [...agentArgs];
    wiped[wiped.indexOf("--work-dir") + 1] = scope.tempDir();
    await scope.start(wiped, "agent listening");
    const gone = await v2.reached("v2-task", TaskState.TASK_GONE_BY_OPERATOR);
    expect(gone.reason).toBe(TaskStatus_Reason.AGENT_REMOVED_BY_OPERATOR);
    expect(gone.message).toContain("a new agent registered at its address");
    const lost = await eventually(
      () => v1Updates(v1.stream, "sleeper").find((s) => s.state === "TASK_LOST"),
      "v1 TASK_LOST",
    );
    expect(lost.reason).toBe("REASON_AGENT_REMOVED");
    await eventually(
      () => v2.seen.find((e) => e.type === Event_Type.FAILURE && e.failure?.agentId?.value === agentId),
      "a FAILURE naming the old agent",
    );
    const newOffer = await v2.nextOffer();
    expect(newOffer.agentId?.value).not.toBe(agentId);
  });

  it("tells frameworks of an unreachable agent (FAILURE and the task's state), answers reconciliation, and keeps the task id taken", async () => {
    const { master, address, agent, agentId, v1, v2 } = await cluster(FAST_PINGS);
    const other = await scope.start(
      ["agent", "--master", address, "--port", "0", "--work-dir", scope.tempDir(), "--resources", "cpus:1;mem:256"],
      "agent listening",
    );
    paused.push(agent);
    agent.process.kill("SIGSTOP");

    const unreachable = await v2.reached("v2-task", TaskState.TASK_UNREACHABLE);
    expect(unreachable.reason).toBe(TaskStatus_Reason.AGENT_REMOVED);
    expect(unreachable.unreachableTime?.nanoseconds ?? 0n).toBeGreaterThan(0n);
    await eventually(
      () =>
        v2.seen.find(
          (e) =>
            e.type === Event_Type.FAILURE &&
            e.failure?.agentId?.value === agentId &&
            e.failure.executorId === undefined,
        ),
      "a v2 FAILURE naming the agent",
    );
    const v1Lost = await eventually(
      () => v1Updates(v1.stream, "sleeper").find((s) => s.state === "TASK_LOST"),
      "v1 TASK_LOST",
    );
    expect(v1Lost.reason).toBe("REASON_AGENT_REMOVED");
    const failure = await eventually(
      () => events(v1.stream).find((e) => e.type === "FAILURE" && (e.failure as Json).agent_id !== undefined),
      "a v1 FAILURE",
    );
    expect(failure.failure).toEqual({ agent_id: { value: agentId } });

    // Reconciliation: TASK_UNREACHABLE for the partition-aware framework, TASK_LOST for the other.
    const before = v2.statuses("v2-task").length;
    v2.scheduler.reconcile([{ taskId: "v2-task", agentId }]);
    const answer = await eventually(() => v2.statuses("v2-task")[before], "the v2 reconciliation answer");
    expect([TaskState[answer.state], answer.reason]).toEqual(["TASK_UNREACHABLE", TaskStatus_Reason.RECONCILIATION]);
    const seenV1 = v1Updates(v1.stream, "sleeper").length;
    await v1Call(master.port, v1.stream, v1.frameworkId, {
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: "sleeper" }, agent_id: { value: agentId } }] },
    });
    const v1Answer = await eventually(() => v1Updates(v1.stream, "sleeper")[seenV1], "the v1 reconciliation answer");
    expect([v1Answer.state, v1Answer.reason]).toEqual(["TASK_LOST", "REASON_RECONCILIATION"]);

    // The id of a task that may come back is not free.
    const elsewhere = await v2.nextOffer();
    expect(elsewhere.agentId?.value).not.toBe(agentId);
    const seen = v2.statuses("v2-task").length;
    v2.launch(elsewhere, "v2-task");
    const refused = await eventually(() => v2.statuses("v2-task")[seen], "the refused launch");
    expect(TaskState[refused.state]).toBe("TASK_ERROR");
    expect(refused.message).toContain(`unreachable agent ${agentId}`);
    expect(other.process.exitCode).toBeNull();
  });

  it("after a master failover, answers TASK_UNREACHABLE for a task on an agent that did not come back in time", async () => {
    const port = await freePort();
    const masterArgs = ["--work-dir", scope.tempDir(), "--agent-reregister-timeout", "2s"];
    const { master, agent, agentId, v1, v2 } = await cluster(masterArgs, port);
    // The agent is cut off, then the master restarts before noticing: the new
    // one knows the agent from its registry and waits for it.
    paused.push(agent);
    agent.process.kill("SIGSTOP");
    await master.stop();
    const restarted = await scope.start(
      ["master", "--port", String(port), "--allocation-interval", "100ms", ...masterArgs],
      "master listening",
    );
    await eventually(() => (v2.scheduler.subscribed ? true : undefined), "the v2 framework to resubscribe");
    const before = v2.statuses("v2-task").length;
    await eventually(() => {
      v2.scheduler.reconcile([{ taskId: "v2-task", agentId }]);
      return v2.statuses("v2-task").length > before ? true : undefined;
    }, "a reconciliation answer once the re-register timeout passed");
    const answers = v2.statuses("v2-task").slice(before);
    expect(answers.map((s) => [TaskState[s.state], s.reason])).toContainEqual([
      "TASK_UNREACHABLE",
      TaskStatus_Reason.RECONCILIATION,
    ]);
    expect(answers.some((s) => s.state === TaskState.TASK_UNKNOWN)).toBe(false);

    // The v1 framework resubscribes with its id and asks too.
    v1.stream.close();
    const { subscribe } = await import("./gateway-v1-client.js");
    const again = await subscribe(
      restarted.port,
      { "content-type": "application/json" },
      JSON.stringify({
        type: "SUBSCRIBE",
        framework_id: { value: v1.frameworkId },
        subscribe: {
          framework_info: {
            user: "test",
            name: "v1-not-partition-aware",
            failover_timeout: 3600,
            id: { value: v1.frameworkId },
          },
        },
      }),
    );
    streams.push(again);
    await eventually(() => events(again).find((e) => e.type === "SUBSCRIBED"), "v1 SUBSCRIBED");
    await v1Call(restarted.port, again, v1.frameworkId, {
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: "sleeper" }, agent_id: { value: agentId } }] },
    });
    const v1Answer = await eventually(() => v1Updates(again, "sleeper")[0], "the v1 reconciliation answer");
    expect([v1Answer.state, v1Answer.reason]).toEqual(["TASK_LOST", "REASON_RECONCILIATION"]);
  });
});
