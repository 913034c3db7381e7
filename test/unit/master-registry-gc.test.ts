/**
 * The registry's bounds on agents that are not coming back (Mesos'
 * --registry_max_agent_age and --registry_max_agent_count): the oldest
 * unreachable and gone agents are forgotten, in the registry first, and a
 * framework asking after a task on one hears TASK_UNKNOWN.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CallSchema, Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  TaskState,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { parseResources } from "../../src/core/resources/index.js";
import { MasterHarness, type TestMasterOptions } from "../helpers/master-harness.js";

const RESOURCES = "cpus:4;mem:4096";
const HEARTBEAT = { case: "agent", value: { call: { case: "heartbeat", value: {} } } } as const;

/** Agents a1..aN, a partition-aware framework with one task on a1. */
function cluster(agents: number, options: TestMasterOptions) {
  const h = new MasterHarness(options);
  const ids = Array.from({ length: agents }, (_, i) => h.registerAgent(`a${i + 1}`, RESOURCES));
  const frameworkId = h.subscribe("s", { capabilities: [{ type: Capability.PARTITION_AWARE }] });
  h.allocate();
  const offer = h
    .schedulerEvents("s")
    .flatMap((e) => e.offers?.offers ?? [])
    .find((o) => o.agentId?.value === ids[0]) as Offer;
  h.scheduler("s", {
    frameworkId: { value: frameworkId },
    type: SchedulerCallType.ACCEPT,
    accept: {
      offerIds: [offer.id!],
      operations: [
        {
          type: 1,
          launch: {
            taskInfos: [
              {
                name: "t",
                taskId: { value: "t" },
                agentId: offer.agentId,
                resources: parseResources("cpus:1;mem:128"),
                command: { value: "true" },
              },
            ],
          },
        },
      ],
    },
  });
  h.take("s");
  return { h, ids, frameworkId };
}

/** `session`'s agent goes silent and is marked unreachable; the others answer their pings. */
function lose(h: MasterHarness, session: string, alive: string[]): void {
  h.closed(session);
  h.advance(601_000);
  for (const other of alive) h.send(other, HEARTBEAT);
  h.apply(h.core.expire(h.now));
}

function reconcile(h: MasterHarness, frameworkId: string, agentId: string): TaskStatus | undefined {
  h.take("s");
  h.scheduler("s", {
    frameworkId: { value: frameworkId },
    type: SchedulerCallType.RECONCILE,
    reconcile: { tasks: [{ taskId: { value: "t" }, agentId: { value: agentId } }] },
  });
  return h.schedulerEvents("s").flatMap((e) => (e.update?.status ? [e.update.status] : []))[0];
}

describe("the registry's bounds on unreachable and gone agents", () => {
  it("forgets the oldest unreachable agents past the count, with their tasks, in the registry first", () => {
    const { h, ids, frameworkId } = cluster(3, { registryMaxAgentCount: 1 });
    lose(h, "a1", ["a2", "a3"]);
    lose(h, "a2", ["a3"]);
    expect(reconcile(h, frameworkId, ids[0] ?? "")?.state).toBe(TaskState.TASK_UNREACHABLE);
    h.persisted.length = 0;

    h.apply(h.core.pruneRegistry(h.now));
    expect(h.persisted).toEqual([{ kind: "prune-agents", unreachable: [ids[0]], gone: [] }]);
    expect([...h.core.state.unreachableAgents.keys()]).toEqual([ids[1]]);
    // The task on the forgotten agent is no longer listed, and is unknown now.
    expect(h.core.state.frameworks.get(frameworkId)?.unreachable.byId.size).toBe(0);
    expect(reconcile(h, frameworkId, ids[0] ?? "")?.state).toBe(TaskState.TASK_UNKNOWN);

    // Within bounds: nothing to store.
    h.persisted.length = 0;
    h.apply(h.core.pruneRegistry(h.now));
    expect(h.persisted).toEqual([]);
  });

  it("forgets unreachable and gone agents older than the age limit, and keeps younger ones", () => {
    const { h, ids } = cluster(3, { registryMaxAgentAgeSeconds: 3600 });
    lose(h, "a1", ["a2", "a3"]);
    const markGone = { type: OperatorCallType.MARK_AGENT_GONE, markAgentGone: { agentId: { value: ids[2] } } };
    h.apply(h.core.operate(create(CallSchema, markGone), h.now).effects);
    h.advance(1800_000);
    for (const other of ["a2"]) h.send(other, HEARTBEAT);
    h.persisted.length = 0;
    h.apply(h.core.pruneRegistry(h.now));
    expect(h.persisted).toEqual([]);

    h.advance(1801_000);
    h.send("a2", HEARTBEAT);
    h.apply(h.core.pruneRegistry(h.now));
    expect(h.persisted).toEqual([{ kind: "prune-agents", unreachable: [ids[0]], gone: [ids[2]] }]);
    expect(h.core.state.unreachableAgents.size).toBe(0);
    expect(h.core.state.goneAgents.size).toBe(0);
  });
});
