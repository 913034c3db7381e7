import { afterEach, describe, expect, it } from "vitest";
import {
  FrameworkInfo_Capability_Type,
  type Offer,
  TaskState,
  TaskStatus_Reason,
} from "../../gen/mesos/v1/mesos_pb.js";
import {
  Call_Type as SchedulerCallType,
  Event_Type as SchedulerEventType,
} from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  type ClusterAgent,
  type ClusterScheduler,
  createInProcessCluster,
  type InProcessCluster,
} from "../helpers/in-process-cluster.js";

const AGENT_RESOURCES = "cpus:2;mem:1024;disk:1000;ports:[31000-31100]";

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  // Every timer had an owner that cleared it: the agents' resend timers,
  // the twins' executors, the master's intervals.
  expect(cluster?.timers.pending).toBe(0);
  cluster = undefined;
});

function cpus(offer: Offer | undefined): number {
  return (offer?.resources ?? []).filter((r) => r.name === "cpus").reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
}

/** One agent and one subscribed framework holding an offer of the whole agent. */
async function start(
  info: Record<string, unknown> = {},
): Promise<{ c: InProcessCluster; agent: ClusterAgent; fw: ClusterScheduler; offer: Offer }> {
  const c = await createInProcessCluster();
  cluster = c;
  const agent = c.addAgent("agent-a", { resources: AGENT_RESOURCES });
  const fw = c.addScheduler("fw", info);
  await c.settle();
  const offer = fw.offers()[0];
  if (offer === undefined) throw new Error(`no offer: ${fw.errors.join("; ")}`);
  return { c, agent, fw, offer };
}

/** Acknowledges each update the framework has not acknowledged yet, then lets the wires settle. */
async function acknowledgeNew(c: InProcessCluster, fw: ClusterScheduler, seen: Set<string>): Promise<void> {
  for (const status of fw.updates()) {
    const key = Buffer.from(status.uuid).toString("hex");
    if (seen.has(key)) continue;
    seen.add(key);
    fw.acknowledge(status);
  }
  await c.settle();
}

describe("in-process cluster: the master's leading term, agent shells and containerizer twins, no sockets", () => {
  it("runs a task's whole journey in fake time: offer, launch, STARTING, RUNNING, FINISHED, acknowledged, resources offered again", async () => {
    const { c, agent, fw, offer } = await start();
    const agentId = agent.shell.core.agentId ?? "";
    expect(fw.frameworkId).toBeDefined();
    expect(offer.agentId?.value).toBe(agentId);
    expect(cpus(offer)).toBe(2);
    expect(c.registry.agents.map((a) => a.id?.value)).toEqual([agentId]);
    expect(c.registry.frameworks.map((f) => f.info?.id?.value)).toEqual([fw.frameworkId]);

    fw.launch(offer, [{ id: "t1", resources: "cpus:1;mem:128" }]);
    await c.settle();
    const executor = agent.twin.executor(fw.frameworkId ?? "", "t1");
    expect(executor?.phase).toBe("subscribed");
    expect(executor?.launch.env.MESOS_AGENT_ID).toBe(agentId);
    expect(agent.workDir.sandboxes.has(executor?.launch.sandbox ?? "")).toBe(true);
    // One update per task in flight until acknowledged: STARTING only.
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING]);

    const starting = fw.updates()[0];
    if (starting === undefined) throw new Error("no update");
    expect(starting.agentId?.value).toBe(agentId);
    fw.acknowledge(starting);
    await c.settle();
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING]);
    const running = fw.updates()[1];
    if (running === undefined) throw new Error("no update");
    fw.acknowledge(running);
    await c.settle();

    executor?.update("t1", TaskState.TASK_FINISHED);
    await c.settle();
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]);
    // The agent keeps the terminal update until the framework acknowledges it.
    expect(agent.shell.core.state.tasks.size).toBe(1);
    expect(agent.shell.core.state.updates.pending()).toHaveLength(1);
    // The command executor ended with its task.
    expect(executor?.exit).toEqual({ waitStatus: 0, description: "exited with status 0" });

    const finished = fw.updates()[2];
    if (finished === undefined) throw new Error("no update");
    fw.acknowledge(finished);
    await c.settle();
    expect(agent.shell.core.state.tasks.size).toBe(0);
    expect(agent.shell.core.state.updates.pending()).toEqual([]);
    expect(agent.shell.core.state.executors.size).toBe(0);

    // The whole agent is offered again once the filter an ACCEPT leaves on
    // the rest of its offer (Mesos' default refuse_seconds, 5 s) has passed.
    expect(fw.offers()).toEqual([]);
    await c.advance(5000);
    expect(fw.offers().map(cpus)).toEqual([2]);
    expect(c.timers.now() - 1_700_000_000_000).toBe(5000);
  });

  it("kills a running task: the executor reports TASK_KILLING then TASK_KILLED and ends", async () => {
    const { c, agent, fw, offer } = await start({
      capabilities: [{ type: FrameworkInfo_Capability_Type.TASK_KILLING_STATE }],
    });
    const acked = new Set<string>();
    fw.launch(offer, [{ id: "t1" }]);
    await c.settle();
    await acknowledgeNew(c, fw, acked);
    await acknowledgeNew(c, fw, acked);
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING]);

    fw.kill("t1", agent.shell.core.agentId ?? "");
    await c.settle();
    await acknowledgeNew(c, fw, acked);
    await acknowledgeNew(c, fw, acked);
    expect(fw.states("t1")).toEqual([
      TaskState.TASK_STARTING,
      TaskState.TASK_RUNNING,
      TaskState.TASK_KILLING,
      TaskState.TASK_KILLED,
    ]);
    expect(agent.twin.executor(fw.frameworkId ?? "", "t1")?.exit?.description).toBe("terminated with signal SIGTERM");
    expect(agent.shell.core.state.tasks.size).toBe(0);
  });

  it("an executor that ignores its shutdown is killed after the grace period", async () => {
    const c = await createInProcessCluster();
    cluster = c;
    const agent = c.addAgent("agent-a", { resources: AGENT_RESOURCES, script: () => ({ kill: "ignore" }) });
    const fw = c.addScheduler("fw");
    await c.settle();
    const offer = fw.offers()[0];
    if (offer === undefined) throw new Error("no offer");
    fw.launch(offer, [{ id: "t1" }]);
    await c.settle();
    const executor = agent.twin.executor(fw.frameworkId ?? "", "t1");

    // Teardown shuts the framework's executors down; this one does not listen.
    fw.call({ type: SchedulerCallType.TEARDOWN });
    await c.settle();
    expect(fw.ended).toBe(true);
    expect(agent.twin.stops).toEqual([{ frameworkId: fw.frameworkId, executorId: "t1", graceMs: 5000 }]);
    expect(executor?.phase).toBe("subscribed");
    await c.advance(4999);
    expect(executor?.phase).toBe("subscribed");
    await c.advance(1);
    expect(executor?.exit?.description).toBe("terminated with signal SIGKILL");
  });

  it("an agent that loses the master keeps a task's updates and delivers them after it re-registers", async () => {
    const { c, agent, fw, offer } = await start();
    const acked = new Set<string>();
    const agentId = agent.shell.core.agentId;
    fw.launch(offer, [{ id: "t1" }]);
    await c.settle();
    await acknowledgeNew(c, fw, acked);
    await acknowledgeNew(c, fw, acked);

    agent.disconnect();
    await c.settle();
    expect(c.master.state.agents.get(agentId ?? "")?.disconnectedAt).toBeDefined();
    agent.twin.executor(fw.frameworkId ?? "", "t1")?.update("t1", TaskState.TASK_FINISHED);
    await c.advance(5000);
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING]);

    agent.connect();
    await c.settle();
    expect(agent.shell.core.agentId).toBe(agentId);
    expect(c.master.state.agents.get(agentId ?? "")?.disconnectedAt).toBeUndefined();
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]);
    await acknowledgeNew(c, fw, acked);
    expect(agent.shell.core.state.tasks.size).toBe(0);
  });

  it("a call the master refuses while an agent's admission is being stored is answered with its refusal once the write lands; its stream carries on", async () => {
    const c = await createInProcessCluster({ registryWriteMs: 5 });
    cluster = c;
    c.addAgent("agent-a", { resources: AGENT_RESOURCES });
    const fw = c.addScheduler("fw");
    await c.advance(50);
    const offer = fw.offers()[0];
    if (offer === undefined) throw new Error(`no offer: ${fw.errors.join("; ")}`);

    c.addAgent("agent-b", { resources: AGENT_RESOURCES });
    fw.call({
      type: SchedulerCallType.UPDATE_FRAMEWORK,
      updateFramework: { frameworkInfo: { user: "someone-else", name: "fw", id: { value: fw.frameworkId ?? "" } } },
    });
    await c.settle();
    // Nothing gets ahead of a change not yet stored, this answer included.
    expect(c.registry.agents).toHaveLength(1);
    expect(fw.errors).toEqual([]);
    await c.advance(5);
    expect(c.registry.agents).toHaveLength(2);
    expect(fw.errors).toEqual(["FrameworkInfo.user cannot change"]);
    expect(fw.events.filter((e) => e.type === SchedulerEventType.ERROR)).toEqual([]);
    expect(fw.ended).toBe(false);

    fw.launch(offer, [{ id: "t1" }]);
    await c.settle();
    expect(fw.states("t1")).toEqual([TaskState.TASK_STARTING]);
  });

  it("an executor that dies takes its task to TASK_FAILED, said by the agent", async () => {
    const { c, agent, fw, offer } = await start();
    const acked = new Set<string>();
    fw.launch(offer, [{ id: "t1" }]);
    await c.settle();
    await acknowledgeNew(c, fw, acked);
    await acknowledgeNew(c, fw, acked);

    agent.twin.executor(fw.frameworkId ?? "", "t1")?.exited(9, "terminated with signal SIGKILL");
    await c.settle();
    const failed = fw.updates().at(-1);
    expect(failed?.state).toBe(TaskState.TASK_FAILED);
    expect(failed?.reason).toBe(TaskStatus_Reason.EXECUTOR_TERMINATED);
    expect(failed?.message).toContain("terminated with signal SIGKILL");
  });
});
