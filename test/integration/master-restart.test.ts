import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { type Offer, TaskInfoSchema, TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator } from "../../src/client/operator.js";
import { createScheduler } from "../../src/client/scheduler.js";
import { parseResources } from "../../src/core/resources/index.js";
import { eventually, freePort, ProcessScope } from "../helpers/processes.js";
import { request } from "./gateway-v1-client.js";

describe("a master restart loses no running task", () => {
  const scope = new ProcessScope();
  afterAll(() => scope.cleanup());

  it("learns the task again from its agent and gives it back to the resubscribed scheduler", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const masterArgs = ["master", "--port", String(port), "--allocation-interval", "200ms"];
    let master = await scope.start(masterArgs, "master listening");
    await scope.start(
      ["agent", "--master", address, "--port", "0", "--work-dir", scope.tempDir(), "--resources", "cpus:2;mem:1024"],
      "agent listening",
    );

    const statuses: TaskStatus[] = [];
    const offers: Offer[] = [];
    let subscriptions = 0;
    const scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "survivor", failoverTimeout: 300 },
      reconnect: { initialMs: 100, maxMs: 1000 },
      onEvent: (e) => {
        if (e.type === Event_Type.SUBSCRIBED) subscriptions++;
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
        if (e.type === Event_Type.UPDATE && e.update?.status) {
          statuses.push(e.update.status);
          scheduler.acknowledge(e.update.status);
        }
      },
    });
    try {
      const offer = await eventually(() => offers.shift(), "an offer");
      scheduler.launch(offer, [
        create(TaskInfoSchema, {
          name: "long",
          taskId: { value: "long" },
          resources: parseResources("cpus:0.5;mem:64"),
          command: { value: "sleep 60" },
        }),
      ]);
      await eventually(() => statuses.find((s) => s.state === TaskState.TASK_RUNNING), "TASK_RUNNING");

      await master.stop();
      master = await scope.start(masterArgs, "master listening");
      await eventually(
        () => (subscriptions >= 2 && scheduler.subscribed ? true : undefined),
        "the scheduler to resubscribe",
        30_000,
      );

      statuses.length = 0;
      const reconciled = await eventually(
        () => {
          scheduler.reconcile([{ taskId: "long" }]);
          return statuses.find((s) => s.taskId?.value === "long" && s.state === TaskState.TASK_RUNNING);
        },
        "the task to be known as running again",
        30_000,
      );
      expect(reconciled.state).toBe(TaskState.TASK_RUNNING);

      scheduler.kill("long");
      await eventually(() => statuses.find((s) => s.state === TaskState.TASK_KILLED), "TASK_KILLED");
    } finally {
      await scheduler.teardown().catch(() => undefined);
    }
  });

  it("keeps weights and quota in the embedded registry across a SIGKILL", async () => {
    const port = await freePort();
    const workDir = scope.tempDir();
    const masterArgs = ["master", "--port", String(port), "--work-dir", workDir];
    let master = await scope.start(masterArgs, "master listening");
    const operator = createOperator({ master: `127.0.0.1:${port}` });
    try {
      await operator.call({
        type: OperatorCallType.UPDATE_WEIGHTS,
        updateWeights: { weightInfos: [{ role: "eng", weight: 2.5 }] },
      });
      await operator.call({
        type: OperatorCallType.UPDATE_QUOTA,
        updateQuota: { quotaConfigs: [{ role: "eng/web", limits: { cpus: { value: 4 } } }] },
      });
      // Acknowledged means stored: killing the master at once loses neither.
      master.process.kill("SIGKILL");
      await new Promise((resolve) => master.process.once("exit", resolve));
      master = await scope.start(masterArgs, "master listening");
      const weights = await eventually(
        () => operator.call({ type: OperatorCallType.GET_WEIGHTS }).catch(() => undefined),
        "the restarted master",
      );
      expect(weights.getWeights?.weightInfos.find((w) => w.role === "eng")?.weight).toBe(2.5);
      const quota = await operator.call({ type: OperatorCallType.GET_QUOTA });
      expect(quota.getQuota?.status?.configs.map((c) => [c.role, c.limits.cpus?.value])).toEqual([["eng/web", 4]]);
    } finally {
      await operator.close();
    }
  });

  it("keeps admitted agents and frameworks in the embedded registry across a SIGKILL", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const masterArgs = ["master", "--port", String(port), "--work-dir", scope.tempDir()];
    let master = await scope.start(masterArgs, "master listening");
    const agentDir = scope.tempDir();
    const agentArgs = [
      "agent",
      "--master",
      address,
      "--port",
      "0",
      "--work-dir",
      agentDir,
      "--resources",
      "cpus:1;mem:256",
    ];
    let agent = await scope.start(agentArgs, "agent listening");
    const operator = createOperator({ master: address });
    const scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "remembered", failoverTimeout: 3600 },
      onEvent: () => undefined,
    });
    try {
      await eventually(() => (scheduler.subscribed ? true : undefined), "SUBSCRIBED");
      const agentId = await eventually(
        async () => (await operator.getAgents()).agents[0]?.agentInfo?.id?.value,
        "the agent to register",
      );
      const frameworkId = scheduler.frameworkId;
      // Neither comes back on its own: the registry is all the new master has.
      await scheduler.close();
      await agent.stop();
      master.process.kill("SIGKILL");
      await new Promise((resolve) => master.process.once("exit", resolve));
      master = await scope.start(masterArgs, "master listening");
      const state = await eventually(() => operator.getState().catch(() => undefined), "the restarted master");
      // Known from the registry only until it re-registers: one of Mesos' recovered agents.
      expect(state.getAgents?.agents).toEqual([]);
      expect(state.getAgents?.recoveredAgents.map((a) => a.id?.value)).toEqual([agentId]);
      const slaves = await request(port, "/master/slaves", { method: "GET" });
      expect(JSON.parse(slaves.body.toString())).toEqual({
        slaves: [],
        recovered_slaves: [{ id: agentId, hostname: "localhost", port: expect.any(Number), attributes: {} }],
      });
      expect(
        state.getFrameworks?.frameworks.map((f) => [f.frameworkInfo?.id?.value, f.frameworkInfo?.name, f.active]),
      ).toEqual([[frameworkId, "remembered", false]]);
      agent = await scope.start(agentArgs, "agent listening");
      await eventually(
        async () =>
          (await operator.getAgents()).agents.find((a) => a.agentInfo?.id?.value === agentId)?.active
            ? true
            : undefined,
        "the agent to re-register",
      );
    } finally {
      await scheduler.close();
      await operator.close();
    }
  });
});
