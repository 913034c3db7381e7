/**
 * The simulated agents the scale benchmarks and fault tests use
 * (bench/sim-agents.ts), against a real master: they run what a framework
 * launches, and a partitioned, healed, crashed and restarted agent looks to
 * the master and the framework as a real one would.
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { BenchFramework } from "../../bench/framework.js";
import { SessionPool } from "../../bench/session-pool.js";
import { type SimFleet, startSimFleet } from "../../bench/sim-agents.js";
import { FrameworkInfoSchema, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { eventually, ProcessScope } from "../helpers/processes.js";

describe("a fleet of simulated agents", () => {
  const scope = new ProcessScope();
  const sessions = new SessionPool(2);
  let fleet: SimFleet | undefined;
  let framework: BenchFramework | undefined;
  let operator: OperatorClient | undefined;
  afterEach(async () => {
    await operator?.close();
    await framework?.teardown().catch(() => undefined);
    await fleet?.close();
    sessions.abort();
    await scope.cleanup();
  });

  it("runs launched tasks, and loses and regains them as an agent is cut off, healed, crashed and restarted", async () => {
    const master = await scope.start(
      [
        "master",
        "--port",
        "0",
        "--allocation-interval",
        "100ms",
        "--agent-ping-timeout",
        "1secs",
        "--max-agent-ping-timeouts",
        "2",
      ],
      "master listening",
    );
    const address = `127.0.0.1:${master.port}`;
    fleet = startSimFleet({
      master: address,
      agents: 4,
      tasksPerAgent: 0,
      framework: create(FrameworkInfoSchema),
      sessions,
      attributes: (i) => `rack:r${i % 2}`,
    });
    // Two tasks fill each simulated agent's 16 cpus.
    framework = new BenchFramework(address, { namePrefix: "sim", argv: ["true"], needs: { cpus: 8, mem: 32 } }, 8);
    const fw = framework;
    const running = () => fw.countIn(TaskState.TASK_RUNNING);
    await fw.waitUntil(() => running() === 8, "8 tasks running");
    expect(fleet.running()).toBe(8);
    expect(fleet.counts.launched).toBe(8);

    // Cut off: the master hears nothing for two pings and marks it unreachable.
    fleet.partition(0);
    await fw.waitUntil(() => fw.countIn(TaskState.TASK_LOST) === 2, "the cut-off agent's 2 tasks lost", 30_000);
    // The framework, which is not partition-aware, was told TASK_LOST and
    // ignores what follows; the master's books show the tasks back.
    operator = createOperator({ master: address });
    const op = operator;
    const runningAtMaster = async () =>
      (await op.getTasks()).tasks.filter((t) => t.state === TaskState.TASK_RUNNING).length;
    expect(await runningAtMaster()).toBe(6);
    fleet.heal(0);
    await eventually(
      async () => ((await runningAtMaster()) === 8 ? true : undefined),
      "its tasks running again once healed",
      30_000,
    );

    // A crash drops the stream; the restarted agent comes back under its id with its tasks.
    const id = fleet.agentId(1);
    await fleet.crash(1);
    fleet.restart(1);
    const registeredBefore = fleet.registrations[1]?.length ?? 0;
    await fw.waitUntil(() => (fleet?.registrations[1]?.length ?? 0) > registeredBefore, "agent 1 to register again");
    expect(fleet.agentId(1)).toBe(id);
    expect(await runningAtMaster()).toBe(8);
    expect(fleet.running()).toBe(8);
  }, 90_000);
});
