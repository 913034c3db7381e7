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
  tasks: Array<{ id: string; state: TaskState; delivering?: TaskState }>,
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
            ...(t.delivering === undefined
              ? {}
              : { statusUpdateState: t.delivering, statusUpdateUuid: new Uint8Array(16).fill(7) }),
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

  it("a master that never knew a task its agent reports ended answers a reconciliation with the update still being delivered", () => {
    // Before: the master dropped the task and answered TASK_GONE, and the
    // scheduler then heard TASK_RUNNING (still in the agent's stream) after it.
    const h = new MasterHarness();
    const frameworkId = "fw-1";
    register(h, "a1", "agent-1", frameworkId, [
      { id: "t", state: TaskState.TASK_FINISHED, delivering: TaskState.TASK_RUNNING },
    ]);
    h.scheduler("s", {
      type: SchedulerCallType.SUBSCRIBE,
      frameworkId: { value: frameworkId },
      subscribe: { frameworkInfo: { user: "test", name: "fw", id: { value: frameworkId }, ...PARTITION_AWARE } },
    });
    expect(h.schedulerEvents("s").some((e) => e.subscribed !== undefined)).toBe(true);
    h.take("s");
    h.scheduler("s", {
      frameworkId: { value: frameworkId },
      type: SchedulerCallType.RECONCILE,
      reconcile: { tasks: [{ taskId: { value: "t" }, agentId: { value: "agent-1" } }] },
    });
    expect(updatesOf(h, "s").map((s) => TaskState[s.state])).toEqual(["TASK_RUNNING"]);
  });
});
