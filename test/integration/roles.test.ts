import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { FrameworkInfo_Capability_Type as Capability, type Offer } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { scalarOf } from "../../src/core/resources/index.js";
import { eventually, PLATEAU_BIN, ProcessScope } from "../helpers/processes.js";

function plateau(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PLATEAU_BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

describe("weights and quota through the operator API of a real master", () => {
  const scope = new ProcessScope();
  let address: string;
  let operator: OperatorClient;
  const schedulers: SchedulerClient[] = [];

  beforeAll(async () => {
    const master = await scope.start(
      ["master", "--port", "0", "--allocation-interval", "200ms", "--weights", "web=2"],
      "master listening",
    );
    address = `127.0.0.1:${master.port}`;
    await scope.start(
      [
        "agent",
        "--master",
        address,
        "--port",
        "0",
        "--work-dir",
        scope.tempDir(),
        "--resources",
        "cpus:4;mem:2048;disk:100",
      ],
      "agent listening",
    );
    operator = createOperator({ master: address });
    await eventually(
      async () => ((await operator.getAgents()).agents.length === 1 ? true : undefined),
      "the agent to register",
    );
  });

  afterAll(async () => {
    await Promise.all(schedulers.map((s) => s.teardown().catch(() => undefined)));
    await operator?.close();
    await scope.cleanup();
  });

  const weights = async () =>
    Object.fromEntries(
      ((await operator.call({ type: OperatorCallType.GET_WEIGHTS })).getWeights?.weightInfos ?? []).map((w) => [
        w.role,
        w.weight,
      ]),
    );

  it("reports the --weights flag, updates weights, and refuses a bad update whole", async () => {
    expect(await weights()).toMatchObject({ web: 2 });
    await operator.call({
      type: OperatorCallType.UPDATE_WEIGHTS,
      updateWeights: {
        weightInfos: [
          { role: "web", weight: 3 },
          { role: "batch", weight: 0.5 },
        ],
      },
    });
    expect(await weights()).toMatchObject({ web: 3, batch: 0.5 });
    await expect(
      operator.call({
        type: OperatorCallType.UPDATE_WEIGHTS,
        updateWeights: {
          weightInfos: [
            { role: "web", weight: 1 },
            { role: "bad//role", weight: 1 },
          ],
        },
      }),
    ).rejects.toThrow(/bad\/\/role/);
    expect(await weights()).toMatchObject({ web: 3, batch: 0.5 });
  });

  it("caps a role's offers at its quota limit, and shows the quota in GET_QUOTA, GET_ROLES and `plateau roles`", async () => {
    await operator.call({
      type: OperatorCallType.UPDATE_QUOTA,
      updateQuota: { quotaConfigs: [{ role: "capped", limits: { cpus: { value: 1 }, mem: { value: 512 } } }] },
    });
    const quota = await operator.call({ type: OperatorCallType.GET_QUOTA });
    expect(quota.getQuota?.status?.configs.map((c) => [c.role, c.limits.cpus?.value])).toEqual([["capped", 1]]);

    const offers: Offer[] = [];
    const scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "capped", roles: ["capped"], capabilities: [{ type: Capability.MULTI_ROLE }] },
      onEvent: (e) => {
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
      },
    });
    schedulers.push(scheduler);
    const offer = await eventually(() => offers[0], "an offer to the capped role");
    expect(scalarOf(offer.resources, "cpus")).toBe(1);
    expect(scalarOf(offer.resources, "mem")).toBe(512);

    const roles = await operator.call({ type: OperatorCallType.GET_ROLES });
    const capped = roles.getRoles?.roles.find((r) => r.name === "capped");
    expect(capped?.quotaLimits.cpus?.value).toBe(1);
    expect(scalarOf(capped?.offered ?? [], "cpus")).toBe(1);
    const table = await plateau(["roles", "--master", address]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/capped\s+1\s+1\s+cpus:1; mem:512.*\s-\s+cpus:1; mem:512/);
    expect(table.stdout).toMatch(/web\s+3\s/);

    await expect(
      operator.call({
        type: OperatorCallType.UPDATE_QUOTA,
        updateQuota: { quotaConfigs: [{ role: "capped", limits: { cpus: { value: -1 } } }] },
      }),
    ).rejects.toThrow(/non-negative/);
  });
});
