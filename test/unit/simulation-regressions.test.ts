/**
 * Bugs the seeded whole-cluster simulation (src/sim) found in the cores,
 * each pinned here as a unit test of the core that had it.
 */
import { describe, expect, it } from "vitest";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  TaskState,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { parseResources } from "../../src/core/resources/index.js";
import { MasterHarness } from "../helpers/master-harness.js";

const RESOURCES = "cpus:4;mem:4096";
const PARTITION_AWARE = { capabilities: [{ type: Capability.PARTITION_AWARE }] };

function register(
  h: MasterHarness,
  session: string,
  agentId: string,
  frameworkId: string,
  tasks: Array<{ id: string; state: TaskState }>,
): void {
  h.send(session, {
    case: "agent",
    value: {
      call: {
        case: "register",
        value: {
          agentInfo: { hostname: "host-a", port: 5051, id: { value: agentId }, resources: parseResources(RESOURCES) },
          frameworks: [{ id: { value: frameworkId }, user: "test", name: "fw", ...PARTITION_AWARE }],
          tasks: tasks.map((t) => ({
            taskId: { value: t.id },
            frameworkId: { value: frameworkId },
            agentId: { value: agentId },
            state: t.state,
            resources: parseResources("cpus:1;mem:128"),
          })),
        },
      },
    },
  });
}

const offersOf = (h: MasterHarness, session: string): Offer[] =>
  h.schedulerEvents(session).flatMap((e) => e.offers?.offers ?? []);
const updatesOf = (h: MasterHarness, session: string): TaskStatus[] =>
  h.schedulerEvents(session).flatMap((e) => (e.update?.status ? [e.update.status] : []));

describe("regressions found by the simulation", () => {
  it("rescinds the offers of an agent that re-registers on a new stream while its old one is still open", () => {
    // Before: the allocator forgot the offered resources on re-registration
    // while the offers stayed valid, so the agent was offered twice over.
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", RESOURCES);
    const frameworkId = h.subscribe("s", PARTITION_AWARE);
    h.allocate();
    const [first] = offersOf(h, "s");
    h.take("s");
    register(h, "a2", agentId, frameworkId, []);
    expect(h.schedulerEvents("s").map((e) => e.rescind?.offerId?.value)).toContain(first?.id?.value);
    h.take("s");
    h.allocate();
    const again = offersOf(h, "s");
    const cpus = (offers: Offer[]) =>
      offers.flatMap((o) => o.resources).reduce((sum, r) => sum + (r.name === "cpus" ? (r.scalar?.value ?? 0) : 0), 0);
    expect(cpus(again)).toBe(4);
    // The first offer cannot be used any more: its launch is dropped, not run.
    h.take("s");
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACCEPT,
      accept: {
        offerIds: [first?.id ?? { value: "" }],
        operations: [
          {
            type: 1,
            launch: {
              taskInfos: [
                {
                  name: "t",
                  taskId: { value: "t" },
                  agentId: { value: agentId },
                  resources: parseResources("cpus:4;mem:128"),
                  command: { value: "true" },
                },
              ],
            },
          },
        ],
      },
    });
    expect(updatesOf(h, "s").map((s) => TaskState[s.state])).toEqual(["TASK_DROPPED"]);
  });

  it("a master that never knew a task its agent reports ended waits for the agent's updates before answering a reconciliation", () => {
    // Before: the master answered TASK_GONE at once, and the scheduler then
    // heard TASK_RUNNING, still in the agent's stream, after it.
    const h = new MasterHarness();
    const frameworkId = h.subscribe("s", PARTITION_AWARE);
    register(h, "a1", "agent-1", frameworkId, [{ id: "t", state: TaskState.TASK_FINISHED }]);
    h.take("s");
    const reconcile = () =>
      h.scheduler("s", {
        frameworkId: { value: frameworkId },
        type: SchedulerCallType.RECONCILE,
        reconcile: { tasks: [{ taskId: { value: "t" }, agentId: { value: "agent-1" } }] },
      });
    reconcile();
    expect(updatesOf(h, "s")).toEqual([]);
    for (const [state, n] of [
      [TaskState.TASK_RUNNING, 1],
      [TaskState.TASK_FINISHED, 2],
    ] as const) {
      h.send("a1", {
        case: "agent",
        value: {
          call: {
            case: "statusUpdate",
            value: {
              frameworkId: { value: frameworkId },
              status: { taskId: { value: "t" }, state, uuid: new Uint8Array(16).fill(n) },
            },
          },
        },
      });
    }
    reconcile();
    expect(updatesOf(h, "s").map((s) => TaskState[s.state])).toEqual(["TASK_RUNNING", "TASK_FINISHED", "TASK_GONE"]);
  });

  it("a task back from an unreachable agent that reports it ended is not answered ahead of the agent's updates", () => {
    // Before: a reconciliation answered TASK_FINISHED at once, and the
    // scheduler then heard the TASK_RUNNING the agent was still delivering.
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", RESOURCES);
    const frameworkId = h.subscribe("s", PARTITION_AWARE);
    h.allocate();
    const [offer] = offersOf(h, "s");
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.ACCEPT,
      accept: {
        offerIds: [offer?.id ?? { value: "" }],
        operations: [
          {
            type: 1,
            launch: {
              taskInfos: [
                {
                  name: "t",
                  taskId: { value: "t" },
                  agentId: { value: agentId },
                  resources: parseResources("cpus:1;mem:128"),
                  command: { value: "true" },
                },
              ],
            },
          },
        ],
      },
    });
    h.closed("a1");
    h.advance(601_000);
    h.apply(h.core.expire(h.now));
    expect(updatesOf(h, "s").map((s) => TaskState[s.state])).toEqual(["TASK_UNREACHABLE"]);
    h.take("s");
    register(h, "a2", agentId, frameworkId, [{ id: "t", state: TaskState.TASK_FINISHED }]);
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: { tasks: [{ taskId: { value: "t" }, agentId: { value: agentId } }] },
    });
    expect(updatesOf(h, "s")).toEqual([]);
  });
});
