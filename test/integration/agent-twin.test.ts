/**
 * `startAgent` takes its collaborators: the real daemon (its port, its
 * stream to a real master, its executor sessions) with the containerizer
 * twin in place of processes. A task runs end to end over real sockets and
 * no executor process is ever started.
 */

import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Offer, TaskInfoSchema, TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type ContainerizerTwin, createContainerizerTwin } from "../../src/agent/containerizer-twin.js";
import { type AgentDaemon, startAgent } from "../../src/agent/daemon.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { silentLogger } from "../../src/log.js";
import { type MasterDaemon, startMaster } from "../../src/master/daemon.js";
import { defaultMasterOptions } from "../../src/master/options.js";
import { systemTimers } from "../../src/util/timers.js";
import { eventually, ProcessScope } from "../helpers/processes.js";

describe("startAgent with a containerizer twin", () => {
  const scope = new ProcessScope();
  let master: MasterDaemon | undefined;
  let agent: AgentDaemon | undefined;
  let scheduler: SchedulerClient | undefined;
  let twin: ContainerizerTwin | undefined;
  const offers: Offer[] = [];
  const statuses: TaskStatus[] = [];

  beforeAll(async () => {
    master = await startMaster({ ...defaultMasterOptions, port: 0, logLevel: "silent" }, silentLogger());
    agent = await startAgent(
      {
        master: `127.0.0.1:${master.port}`,
        ip: "127.0.0.1",
        port: 0,
        workDir: scope.tempDir("plateau-agent-twin-"),
        resources: "cpus:2;mem:512;disk:1024;ports:[31000-31010]",
        hostname: "localhost",
        logLevel: "silent",
      },
      silentLogger(),
      {
        containerizer: (hooks) =>
          (twin = createContainerizerTwin(hooks, { timers: systemTimers(), script: () => ({ task: "finish" }) })),
      },
    );
    scheduler = createScheduler({
      master: `127.0.0.1:${master.port}`,
      framework: { user: "test", name: "twin" },
      onEvent: (e) => {
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
        if (e.type === Event_Type.UPDATE && e.update?.status) {
          statuses.push(e.update.status);
          scheduler?.acknowledge(e.update.status);
        }
      },
      logger: silentLogger(),
    });
  });

  afterAll(async () => {
    await scheduler?.teardown().catch(() => undefined);
    await agent?.close();
    await master?.close();
    await scope.cleanup();
  });

  it("runs a task through the twin over the agent's own executor sessions", async () => {
    const offer = await eventually(() => offers.shift(), "an offer");
    scheduler?.launch(offer, [
      create(TaskInfoSchema, {
        name: "t1",
        taskId: { value: "t1" },
        resources: parseResources("cpus:1;mem:64"),
        command: { value: "true" },
      }),
    ]);
    await eventually(() => statuses.find((s) => s.state === TaskState.TASK_FINISHED), "TASK_FINISHED");
    expect(statuses.map((s) => s.state)).toEqual([
      TaskState.TASK_STARTING,
      TaskState.TASK_RUNNING,
      TaskState.TASK_FINISHED,
    ]);
    const executor = twin?.executor(scheduler?.frameworkId ?? "", "t1");
    expect(executor?.launch.env.MESOS_AGENT_ENDPOINT).toBe(`127.0.0.1:${agent?.port}`);
    await eventually(() => executor?.exit, "the executor to exit");
    expect(agent?.executorPids()).toEqual([]);
  });
});
