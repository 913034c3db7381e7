import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  TaskInfoSchema,
  TaskState,
  type TaskStatus,
  TaskStatus_Reason,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createScheduler } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { alive, eventually, ProcessScope } from "../helpers/processes.js";

describe("agent health", () => {
  const scope = new ProcessScope();
  afterAll(() => scope.cleanup());

  it("marks a silent agent unreachable, and takes it and its running task back when it answers again", async () => {
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
    const statuses: TaskStatus[] = [];
    const offers: Offer[] = [];
    const scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "partition-aware", capabilities: [{ type: Capability.PARTITION_AWARE }] },
      onEvent: (e) => {
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
        if (e.type === Event_Type.UPDATE && e.update?.status) {
          statuses.push(e.update.status);
          scheduler.acknowledge(e.update.status);
        }
      },
    });
    const pid = agent.process.pid ?? 0;
    try {
      const offer = await eventually(() => offers.shift(), "an offer");
      scheduler.launch(offer, [
        create(TaskInfoSchema, {
          name: "steady",
          taskId: { value: "steady" },
          resources: parseResources("cpus:0.1;mem:32"),
          command: { value: "sleep 120" },
        }),
      ]);
      await eventually(() => statuses.find((s) => s.state === TaskState.TASK_RUNNING), "TASK_RUNNING");
      const executors = await eventually(async () => {
        const { execFileSync } = await import("node:child_process");
        const children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim();
        return children === "" ? undefined : children.split("\n").map(Number);
      }, "the agent's executor host");

      process.kill(pid, "SIGSTOP");
      const unreachable = await eventually(
        () => statuses.find((s) => s.state === TaskState.TASK_UNREACHABLE),
        "TASK_UNREACHABLE",
      );
      expect(unreachable.reason).toBe(TaskStatus_Reason.AGENT_REMOVED);
      process.kill(pid, "SIGCONT");

      const back = await eventually(
        () =>
          statuses.find((s) => s.state === TaskState.TASK_RUNNING && s.reason === TaskStatus_Reason.AGENT_REREGISTERED),
        "the task back as TASK_RUNNING",
        30_000,
      );
      expect(back.taskId?.value).toBe("steady");
      // Nothing was killed along the way.
      expect(executors.every(alive)).toBe(true);
      expect(statuses.some((s) => s.state === TaskState.TASK_KILLED || s.state === TaskState.TASK_FAILED)).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGCONT");
      await scheduler.teardown().catch(() => undefined);
    }
  });
});
