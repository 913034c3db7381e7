import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CallSchema, Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import {
  AgentInfoSchema,
  FrameworkInfo_Capability_Type as Capability,
  FrameworkInfoSchema,
  type Offer,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { applyRegistryOperation, emptyRegistry } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";
import { MasterHarness } from "../helpers/master-harness.js";

const PARTITION_AWARE = { capabilities: [{ type: Capability.PARTITION_AWARE }] };
const AGENT_RESOURCES = "cpus:4;mem:4096";

/** One agent, one framework, the framework's first offer. */
function setup(framework: Record<string, unknown> = {}) {
  const h = new MasterHarness();
  const agentId = h.registerAgent("a1", AGENT_RESOURCES);
  const frameworkId = h.subscribe("s", framework);
  h.allocate();
  const offer = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? [])[0] as Offer;
  h.take("s");
  return { h, agentId, frameworkId, offer };
}

function launch(
  h: MasterHarness,
  frameworkId: string,
  offer: Offer,
  tasks: Array<{ id: string; resources: string }>,
): void {
  h.scheduler("s", {
    frameworkId: { value: frameworkId },
    type: SchedulerCallType.ACCEPT,
    accept: {
      offerIds: [offer.id!],
      operations: [
        {
          type: 1,
          launch: {
            taskInfos: tasks.map((t) => ({
              name: t.id,
              taskId: { value: t.id },
              agentId: offer.agentId,
              resources: parseResources(t.resources),
              command: { value: "true" },
            })),
          },
        },
      ],
    },
  });
}

let uuids = 0;
function update(h: MasterHarness, session: string, frameworkId: string, taskId: string, state: TaskState): void {
  const uuid = new Uint8Array(16);
  uuid[15] = ++uuids;
  h.send(session, {
    case: "agent",
    value: {
      call: {
        case: "statusUpdate",
        value: { frameworkId: { value: frameworkId }, status: { taskId: { value: taskId }, state, uuid } },
      },
    },
  });
}

/** The agent comes back on `session`, reporting `tasks` as running on it (or in the state given). */
function reregister(
  h: MasterHarness,
  session: string,
  agentId: string,
  frameworkId: string,
  tasks: Array<{ id: string; resources: string; state?: TaskState }>,
): void {
  h.send(session, {
    case: "agent",
    value: {
      call: {
        case: "register",
        value: {
          agentInfo: {
            hostname: "host-a",
            port: 5051,
            id: { value: agentId },
            resources: parseResources(AGENT_RESOURCES),
          },
          frameworks: [{ id: { value: frameworkId }, user: "test", name: "fw" }],
          tasks: tasks.map((t) => ({
            taskId: { value: t.id },
            frameworkId: { value: frameworkId },
            agentId: { value: agentId },
            state: t.state ?? TaskState.TASK_RUNNING,
            resources: parseResources(t.resources),
          })),
        },
      },
    },
  });
}

/**
 * The agent goes silent past the ping timeouts and is marked unreachable;
 * the agents on `alive` answer their pings meanwhile.
 */
function loseAgent(h: MasterHarness, session: string, alive: string[] = []): void {
  h.closed(session);
  h.advance(601_000);
  for (const other of alive) h.send(other, { case: "agent", value: { call: { case: "heartbeat", value: {} } } });
  h.apply(h.core.expire(h.now));
}

function updates(h: MasterHarness): TaskStatus[] {
  return h.schedulerEvents("s").flatMap((e) => (e.update?.status ? [e.update.status] : []));
}

function getTasks(h: MasterHarness) {
  const { result } = h.core.operate({ $typeName: "mesos.v1.master.Call", type: OperatorCallType.GET_TASKS }, h.now);
  if ("code" in result) throw new Error(result.message);
  const tasks = result.getTasks!;
  const ids = (list: typeof tasks.tasks) => list.map((t) => [t.taskId?.value, TaskState[t.state]]);
  return { live: ids(tasks.tasks), unreachable: ids(tasks.unreachableTasks), completed: ids(tasks.completedTasks) };
}

/** Cpus offered after an allocation pass (offers outstanding before it are declined first). */
function offeredCpus(h: MasterHarness, frameworkId: string): number {
  for (const id of [...h.core.state.offers.keys()]) {
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.DECLINE,
      decline: { offerIds: [{ value: id }], filters: { refuseSeconds: 0 } },
    });
  }
  h.take("s");
  h.allocate();
  const offers = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? []);
  return offers
    .flatMap((o) => o.resources)
    .filter((r) => r.name === "cpus")
    .reduce((n, r) => n + (r.scalar?.value ?? 0), 0);
}

describe("master: a task's state through agent loss and return", () => {
  it("keeps a lost agent's task as unreachable, tells a framework that is not partition-aware TASK_LOST, and takes the task back", () => {
    const { h, agentId, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    update(h, "a1", frameworkId, "t", TaskState.TASK_RUNNING);
    h.take("s");
    loseAgent(h, "a1");
    expect(updates(h).map((s) => [s.taskId?.value, TaskState[s.state]])).toEqual([["t", "TASK_LOST"]]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [["t", "TASK_UNREACHABLE"]], completed: [] });

    h.take("s");
    reregister(h, "a1-again", agentId, frameworkId, [{ id: "t", resources: "cpus:1;mem:128" }]);
    const back = updates(h);
    expect(back.map((s) => [s.taskId?.value, TaskState[s.state], s.reason])).toEqual([
      ["t", "TASK_RUNNING", TaskStatus_Reason.AGENT_REREGISTERED],
    ]);
    expect(getTasks(h)).toEqual({ live: [["t", "TASK_RUNNING"]], unreachable: [], completed: [] });
    expect(offeredCpus(h, frameworkId)).toBe(3);
  });

  it("answers reconciliation of an unreachable task with TASK_UNREACHABLE for a partition-aware framework", () => {
    const { h, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    expect(updates(h).at(-1)?.state).toBe(TaskState.TASK_UNREACHABLE);
    h.take("s");
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: { tasks: [{ taskId: { value: "t" } }] },
    });
    expect(updates(h).map((s) => [TaskState[s.state], s.reason])).toEqual([
      ["TASK_UNREACHABLE", TaskStatus_Reason.RECONCILIATION],
    ]);
  });

  it("tells every connected framework that a lost agent is lost, with a FAILURE event naming it", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    h.subscribe("bystander");
    h.take("bystander");
    loseAgent(h, "a1");
    const failures = (session: string) =>
      h.schedulerEvents(session).flatMap((e) => (e.failure ? [[e.failure.agentId?.value, e.failure.executorId]] : []));
    expect(failures("s")).toEqual([[agentId, undefined]]);
    expect(failures("bystander")).toEqual([[agentId, undefined]]);
  });

  it("answers RECONCILE and KILL of a task it cannot see by what it knows of the task's agent", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    const lostAgent = h.registerAgent("a2", AGENT_RESOURCES);
    const goneAgent = h.registerAgent("a3", AGENT_RESOURCES);
    loseAgent(h, "a2", ["a1", "a3"]);
    const lostAt = h.now;
    const markGone = { type: OperatorCallType.MARK_AGENT_GONE, markAgentGone: { agentId: { value: goneAgent } } };
    h.apply(h.core.operate(create(CallSchema, markGone), h.now).effects);
    h.take("s");
    const ask = (taskId: string, agent?: string) => ({
      taskId: { value: taskId },
      agentId: agent ? { value: agent } : undefined,
    });
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: {
        tasks: [ask("x1", agentId), ask("x2", lostAgent), ask("x3", goneAgent), ask("x4", "nobody"), ask("x5")],
      },
    });
    h.scheduler("s", { frameworkId: { value: frameworkId }, type: SchedulerCallType.KILL, kill: ask("x6", lostAgent) });
    const answers = updates(h);
    expect(answers.map((s) => [s.taskId?.value, TaskState[s.state], s.reason])).toEqual([
      ["x1", "TASK_GONE", TaskStatus_Reason.RECONCILIATION],
      ["x2", "TASK_UNREACHABLE", TaskStatus_Reason.RECONCILIATION],
      ["x3", "TASK_GONE_BY_OPERATOR", TaskStatus_Reason.RECONCILIATION],
      ["x4", "TASK_UNKNOWN", TaskStatus_Reason.RECONCILIATION],
      ["x5", "TASK_UNKNOWN", TaskStatus_Reason.RECONCILIATION],
      ["x6", "TASK_UNREACHABLE", TaskStatus_Reason.RECONCILIATION],
    ]);
    expect(answers[1]?.unreachableTime?.nanoseconds).toBe(BigInt(lostAt) * 1_000_000n);
  });

  it("answers the same questions with TASK_LOST to a framework that is not partition-aware", () => {
    const { h, agentId, frameworkId } = setup();
    const lostAgent = h.registerAgent("a2", AGENT_RESOURCES);
    loseAgent(h, "a2", ["a1"]);
    h.take("s");
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: {
        tasks: [
          { taskId: { value: "x1" }, agentId: { value: agentId } },
          { taskId: { value: "x2" }, agentId: { value: lostAgent } },
        ],
      },
    });
    expect(updates(h).map((s) => TaskState[s.state])).toEqual(["TASK_LOST", "TASK_LOST"]);
  });

  it("refuses a launch that reuses the id of a task on an unreachable agent", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    h.registerAgent("a2", AGENT_RESOURCES);
    loseAgent(h, "a1", ["a2"]);
    h.allocate();
    const second = h
      .schedulerEvents("s")
      .flatMap((e) => e.offers?.offers ?? [])
      .find((o) => o.agentId?.value !== agentId);
    h.take("s");
    launch(h, frameworkId, second as Offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    const [refused] = updates(h);
    expect(TaskState[refused?.state ?? 0]).toBe("TASK_ERROR");
    expect(refused?.message).toContain(`unreachable agent ${agentId}`);
    expect(getTasks(h).unreachable).toEqual([["t", "TASK_UNREACHABLE"]]);
  });

  it("forgets a disconnected agent when a new agent registers at its address, and ends its tasks as Mesos does", () => {
    const h = new MasterHarness();
    const register = (session: string) =>
      h.send(session, {
        case: "agent",
        value: {
          call: {
            case: "register",
            value: {
              agentInfo: { hostname: "host-a", port: 5051, resources: parseResources(AGENT_RESOURCES) },
              ip: "10.0.0.1",
            },
          },
        },
      });
    register("old");
    const oldId = h
      .agentEvents("old")
      .flatMap((e) => (e.event.case === "registered" ? [e.event.value.agentId?.value] : []))[0];
    const aware = h.subscribe("s", PARTITION_AWARE);
    h.subscribe("other");
    h.allocate();
    const offer = h.schedulerEvents("s").flatMap((e) => e.offers?.offers ?? [])[0] as Offer;
    launch(h, aware, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    h.take("s");
    h.take("other");
    h.closed("old");
    register("wiped");
    expect(updates(h).map((s) => [s.taskId?.value, TaskState[s.state], s.reason])).toEqual([
      ["t", "TASK_GONE_BY_OPERATOR", TaskStatus_Reason.AGENT_REMOVED_BY_OPERATOR],
    ]);
    expect(h.schedulerEvents("other").flatMap((e) => (e.failure ? [e.failure.agentId?.value] : []))).toEqual([oldId]);
    expect(h.persisted.filter((p) => p.kind === "remove-agent")).toEqual([{ kind: "remove-agent", agentId: oldId }]);
    expect(h.core.state.agents.has(oldId ?? "")).toBe(false);
  });

  it("ends as TASK_GONE an unreachable task its agent comes back without", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    h.take("s");
    reregister(h, "a1-again", agentId, frameworkId, []);
    expect(updates(h).map((s) => [s.taskId?.value, TaskState[s.state]])).toEqual([["t", "TASK_GONE"]]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_GONE"]] });
  });

  it("ends as TASK_GONE_BY_OPERATOR the tasks of an unreachable agent marked gone", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    h.take("s");
    const markGone = { type: OperatorCallType.MARK_AGENT_GONE, markAgentGone: { agentId: { value: agentId } } };
    h.apply(h.core.operate(create(CallSchema, markGone), h.now).effects);
    expect(updates(h).map((s) => TaskState[s.state])).toEqual(["TASK_GONE_BY_OPERATOR"]);
    expect(getTasks(h).completed).toEqual([["t", "TASK_GONE_BY_OPERATOR"]]);
  });

  it("asks a reconnecting agent about a task it did not report, and frees its resources once the agent ends it", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [
      { id: "kept", resources: "cpus:1;mem:128" },
      { id: "never-arrived", resources: "cpus:2;mem:128" },
    ]);
    h.closed("a1");
    reregister(h, "a1-again", agentId, frameworkId, [{ id: "kept", resources: "cpus:1;mem:128" }]);
    const asked = h
      .agentEvents("a1-again")
      .flatMap((e) =>
        e.event.case === "reconcileTasks"
          ? [[e.event.value.frameworkInfo?.id?.value, e.event.value.taskIds.map((t) => t.value)]]
          : [],
      );
    expect(asked).toEqual([[frameworkId, ["never-arrived"]]]);
    // Until the agent answers, the master neither guesses nor frees anything.
    expect(updates(h)).toEqual([]);
    expect(getTasks(h).live).toEqual([
      ["kept", "TASK_STAGING"],
      ["never-arrived", "TASK_STAGING"],
    ]);
    expect(offeredCpus(h, frameworkId)).toBe(1);
    update(h, "a1-again", frameworkId, "never-arrived", TaskState.TASK_DROPPED);
    expect(updates(h).map((s) => [s.taskId?.value, TaskState[s.state]])).toEqual([["never-arrived", "TASK_DROPPED"]]);
    expect(getTasks(h).live).toEqual([["kept", "TASK_STAGING"]]);
    expect(offeredCpus(h, frameworkId)).toBe(3);
  });

  it("keeps charging a task its agent reports as ended until the terminal update arrives", () => {
    const { h, agentId, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [
      { id: "done", resources: "cpus:2;mem:128" },
      { id: "busy", resources: "cpus:1;mem:128" },
    ]);
    h.closed("a1");
    reregister(h, "a1-again", agentId, frameworkId, [
      { id: "done", resources: "cpus:2;mem:128", state: TaskState.TASK_FINISHED },
      { id: "busy", resources: "cpus:1;mem:128" },
    ]);
    expect(offeredCpus(h, frameworkId)).toBe(1);
    update(h, "a1-again", frameworkId, "done", TaskState.TASK_FINISHED);
    expect(offeredCpus(h, frameworkId)).toBe(3);
  });
});

describe("master: updates the lifecycle refuses", () => {
  it("forwards an update after the master ended the task, but never revives the task", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    h.closed("a1");
    reregister(h, "a1-again", agentId, frameworkId, []);
    update(h, "a1-again", frameworkId, "t", TaskState.TASK_DROPPED);
    h.take("s");
    update(h, "a1-again", frameworkId, "t", TaskState.TASK_RUNNING);
    expect(updates(h).map((s) => TaskState[s.state])).toEqual(["TASK_RUNNING"]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_DROPPED"]] });
  });

  it("keeps its view on a step back, and still forwards it", () => {
    const { h, frameworkId, offer } = setup();
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    update(h, "a1", frameworkId, "t", TaskState.TASK_KILLING);
    update(h, "a1", frameworkId, "t", TaskState.TASK_RUNNING);
    expect(updates(h).map((s) => TaskState[s.state])).toEqual(["TASK_KILLING", "TASK_RUNNING"]);
    expect(getTasks(h).live).toEqual([["t", "TASK_KILLING"]]);
  });

  it("does not let an agent call a task unreachable", () => {
    const { h, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    update(h, "a1", frameworkId, "t", TaskState.TASK_UNREACHABLE);
    expect(getTasks(h)).toEqual({ live: [["t", "TASK_STAGING"]], unreachable: [], completed: [] });
  });

  it("tells an agent to kill a task it reports that the master already ended", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    h.closed("a1");
    reregister(h, "a1-again", agentId, frameworkId, []);
    update(h, "a1-again", frameworkId, "t", TaskState.TASK_DROPPED);
    h.closed("a1-again");
    reregister(h, "a1-third", agentId, frameworkId, [{ id: "t", resources: "cpus:1;mem:128" }]);
    const kills = h
      .agentEvents("a1-third")
      .flatMap((e) => (e.event.case === "killTask" ? [e.event.value.taskId?.value] : []));
    expect(kills).toEqual(["t"]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_DROPPED"]] });
  });

  it("counts a task reported in a state no agent can be in as not reported", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    reregister(h, "a1-again", agentId, frameworkId, [
      { id: "t", resources: "cpus:1;mem:128", state: TaskState.TASK_UNREACHABLE },
    ]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_GONE"]] });
    const kills = h
      .agentEvents("a1-again")
      .flatMap((e) => (e.event.case === "killTask" ? [e.event.value.taskId?.value] : []));
    expect(kills).toEqual(["t"]);
  });

  it("completes a removed framework's unreachable tasks as killed", () => {
    const { h, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    h.scheduler("s", { frameworkId: { value: frameworkId }, type: SchedulerCallType.TEARDOWN });
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_KILLED"]] });
  });

  it("tells an agent that comes back with a removed framework's task to shut that framework down", () => {
    const { h, agentId, frameworkId, offer } = setup(PARTITION_AWARE);
    launch(h, frameworkId, offer, [{ id: "t", resources: "cpus:1;mem:128" }]);
    loseAgent(h, "a1");
    h.scheduler("s", { frameworkId: { value: frameworkId }, type: SchedulerCallType.TEARDOWN });
    reregister(h, "a1-again", agentId, frameworkId, [{ id: "t", resources: "cpus:1;mem:128" }]);
    const shutdowns = h
      .agentEvents("a1-again")
      .flatMap((e) => (e.event.case === "shutdownFramework" ? [e.event.value.frameworkId?.value] : []));
    expect(shutdowns).toEqual([frameworkId]);
    expect(getTasks(h)).toEqual({ live: [], unreachable: [], completed: [["t", "TASK_KILLED"]] });
    expect(h.core.state.frameworks.has(frameworkId)).toBe(false);
  });

  it("after a failover, takes back an agent's tasks silently if the registry knew the agent, and announces those of an agent it did not", () => {
    let registry = applyRegistryOperation(emptyRegistry(), {
      kind: "admit-agent",
      info: create(AgentInfoSchema, {
        id: { value: "a1" },
        hostname: "host-a",
        port: 5051,
        resources: parseResources(AGENT_RESOURCES),
      }),
    }).registry;
    registry = applyRegistryOperation(registry, {
      kind: "add-framework",
      info: create(FrameworkInfoSchema, { id: { value: "f1" }, user: "test", name: "fw" }),
    }).registry;
    const h = new MasterHarness({ registry });
    h.scheduler("s", {
      frameworkId: { value: "f1" },
      type: SchedulerCallType.SUBSCRIBE,
      subscribe: { frameworkInfo: { id: { value: "f1" }, user: "test", name: "fw" } },
    });
    expect(h.schedulerEvents("s").some((e) => e.subscribed?.frameworkId?.value === "f1")).toBe(true);
    h.take("s");
    reregister(h, "a1-back", "a1", "f1", [{ id: "t1", resources: "cpus:1;mem:128" }]);
    // Mesos forwards nothing for an agent it recovered: the framework knew these tasks and may reconcile.
    expect(updates(h)).toEqual([]);
    reregister(h, "a2-new", "a2", "f1", [{ id: "t2", resources: "cpus:1;mem:128" }]);
    expect(updates(h).map((s) => [s.taskId?.value, TaskState[s.state], s.reason])).toEqual([
      ["t2", "TASK_RUNNING", TaskStatus_Reason.AGENT_REREGISTERED],
    ]);
    expect(getTasks(h).live).toEqual([
      ["t1", "TASK_RUNNING"],
      ["t2", "TASK_RUNNING"],
    ]);
  });
});
