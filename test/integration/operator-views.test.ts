/**
 * What operators and Mesos tools read off a real master and agent: dynamic
 * reservations in every view Mesos shows them in, the answers to operator
 * writes, GET_METRICS on both APIs, the build time, and /master/tasks paging.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type, Response_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { scalarOf } from "../../src/core/resources/index.js";
import { type Daemon, eventually, ProcessScope, ROOT } from "../helpers/processes.js";
import { reserved } from "../helpers/resources.js";
import { type Json, json, request, type Stream, startFrameworkWithTasks } from "./gateway-v1-client.js";

type Views = Record<string, unknown>;

describe("operator views on a real master and agent", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let agent: Daemon;
  let operator: OperatorClient;
  let agentOperator: OperatorClient;
  let scheduler: Stream;
  let agentId = "";
  const get = async (port: number, path: string) => {
    const answer = await request(port, path, { method: "GET" });
    return { status: answer.status, body: answer.body.toString(), json: () => JSON.parse(answer.body.toString()) };
  };
  const v1 = (port: number, body: Json) =>
    request(port, "/api/v1", {
      ...json(body),
      headers: { "content-type": "application/json", accept: "application/json" },
    });

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    agent = await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        scope.tempDir(),
        "--resources",
        "cpus:2;mem:1024;disk:1000;ports:[31000-31010]",
      ],
      "agent listening",
    );
    operator = createOperator({ master: `127.0.0.1:${master.port}` });
    agentOperator = createOperator({ master: `127.0.0.1:${agent.port}` });
    ({ stream: scheduler } = await startFrameworkWithTasks(master.port, { name: "views" }));
    agentId = (await operator.getAgents()).agents[0]?.agentInfo?.id?.value ?? "";
  });

  afterAll(async () => {
    scheduler?.close();
    await operator?.close();
    await agentOperator?.close();
    await scope.cleanup();
  });

  it("shows a dynamic reservation on /master/slaves, /master/state, /master/roles and the agent's /state, and forgets it after UNRESERVE", async () => {
    const resources = reserved("cpus:0.5;mem:100", "ops", "admin");
    const answer = await operator.call({
      type: Call_Type.RESERVE_RESOURCES,
      reserveResources: { agentId: { value: agentId }, resources },
    });
    expect(Response_Type[answer.type ?? 0]).toBe("RESERVE_RESOURCES");

    const slave = ((await get(master.port, "/master/slaves")).json().slaves as Views[])[0];
    expect(slave?.reserved_resources).toEqual({ ops: { cpus: 0.5, gpus: 0, mem: 100, disk: 0 } });
    expect(slave?.unreserved_resources).toMatchObject({ cpus: 1.5, mem: 924, disk: 1000 });
    const full = (slave?.reserved_resources_full as Record<string, Json[]>).ops ?? [];
    expect(full.map((r) => [r.name, (r.scalar as { value: number }).value])).toEqual([
      ["cpus", 0.5],
      ["mem", 100],
    ]);
    // Mesos' endpoint format: the refined stack, and the pre-refinement role and reservation beside it.
    expect(full[0]).toMatchObject({
      role: "ops",
      reservation: { principal: "admin" },
      reservations: [{ type: "DYNAMIC", role: "ops", principal: "admin" }],
    });
    expect((slave?.unreserved_resources_full as Json[]).map((r) => r.role)).toEqual(["*", "*", "*", "*"]);

    const stateSlave = ((await get(master.port, "/master/state")).json().slaves as Views[])[0];
    expect(stateSlave?.reserved_resources).toEqual({ ops: { cpus: 0.5, gpus: 0, mem: 100, disk: 0 } });

    const roles = (await get(master.port, "/master/roles")).json().roles as Views[];
    expect(roles.find((r) => r.name === "ops")?.reserved).toEqual({ cpus: 0.5, gpus: 0, mem: 100, disk: 0 });

    // The agent applies the reservation after the master answered.
    const agentState = await eventually(async () => {
      const s = (await get(agent.port, "/state")).json() as Views;
      return Object.keys(s.reserved_resources ?? {}).length > 0 ? s : undefined;
    }, "the agent's /state to show the reservation");
    expect(agentState.reserved_resources).toEqual({ ops: { cpus: 0.5, gpus: 0, mem: 100, disk: 0 } });
    expect(agentState.unreserved_resources).toMatchObject({ cpus: 1.5, mem: 924 });
    expect(((agentState.reserved_resources_full as Record<string, Json[]>).ops ?? [])[0]).toMatchObject({
      name: "cpus",
      role: "ops",
      reservation: { principal: "admin" },
    });
    expect(agentState.resources).toMatchObject({ cpus: 2, mem: 1024 });

    const undo = await operator.call({
      type: Call_Type.UNRESERVE_RESOURCES,
      unreserveResources: { agentId: { value: agentId }, resources },
    });
    expect(Response_Type[undo.type ?? 0]).toBe("UNRESERVE_RESOURCES");
    expect(((await get(master.port, "/master/slaves")).json().slaves as Views[])[0]?.reserved_resources).toEqual({});
    await eventually(async () => {
      const s = (await get(agent.port, "/state")).json() as Views;
      return Object.keys(s.reserved_resources ?? {}).length === 0 ? true : undefined;
    }, "the agent's /state to drop the reservation");
  });

  it("counts what tasks use as allocated on GET_AGENTS and GET_FRAMEWORKS, with offers apart, as Mesos", async () => {
    // The framework never declines, so what the sleeper leaves is on offer to it.
    const agentView = await eventually(async () => {
      const a = (await operator.getAgents()).agents[0];
      return a !== undefined && scalarOf(a.offeredResources, "cpus") > 0 ? a : undefined;
    }, "an outstanding offer");
    expect(scalarOf(agentView.allocatedResources, "cpus")).toBeCloseTo(0.1);
    expect(scalarOf(agentView.allocatedResources, "mem")).toBe(32);
    expect(scalarOf(agentView.totalResources, "cpus")).toBe(2);
    const framework = (await operator.getFrameworks()).frameworks[0];
    expect(scalarOf(framework?.allocatedResources ?? [], "cpus")).toBeCloseTo(0.1);
    expect(scalarOf(framework?.offeredResources ?? [], "cpus")).toBeGreaterThan(0);
  });

  it("answers each operator write over v2 with its own Response type, and over v1 with Mesos' empty 200 or 202", async () => {
    const weights = await operator.call({
      type: Call_Type.UPDATE_WEIGHTS,
      updateWeights: { weightInfos: [{ role: "prod", weight: 2 }] },
    });
    expect(Response_Type[weights.type ?? 0]).toBe("UPDATE_WEIGHTS");
    const quota = await operator.call({
      type: Call_Type.UPDATE_QUOTA,
      updateQuota: { quotaConfigs: [{ role: "prod", limits: { cpus: { value: 2 } } }] },
    });
    expect(Response_Type[quota.type ?? 0]).toBe("UPDATE_QUOTA");
    const schedule = await operator.call({
      type: Call_Type.UPDATE_MAINTENANCE_SCHEDULE,
      updateMaintenanceSchedule: { schedule: {} },
    });
    expect(Response_Type[schedule.type ?? 0]).toBe("UPDATE_MAINTENANCE_SCHEDULE");

    const v1Weights = await v1(master.port, {
      type: "UPDATE_WEIGHTS",
      update_weights: { weight_infos: [{ role: "prod", weight: 3 }] },
    });
    expect([v1Weights.status, v1Weights.body.length]).toEqual([200, 0]);
    const cpu = [
      {
        name: "cpus",
        type: "SCALAR",
        scalar: { value: 0.25 },
        reservations: [{ type: "DYNAMIC", role: "ops" }],
      },
    ];
    const v1Reserve = await v1(master.port, {
      type: "RESERVE_RESOURCES",
      reserve_resources: { agent_id: { value: agentId }, resources: cpu },
    });
    expect([v1Reserve.status, v1Reserve.body.length]).toEqual([202, 0]);
    const v1Unreserve = await v1(master.port, {
      type: "UNRESERVE_RESOURCES",
      unreserve_resources: { agent_id: { value: agentId }, resources: cpu },
    });
    expect([v1Unreserve.status, v1Unreserve.body.length]).toEqual([202, 0]);
  });

  it("answers GET_METRICS on both APIs of the master and the agent, and /metrics/snapshot with Mesos' timeout", async () => {
    const metricsOf = (r: { getMetrics?: { metrics: { name?: string; value?: number }[] } }) =>
      Object.fromEntries((r.getMetrics?.metrics ?? []).map((m) => [m.name, m.value]));
    const v2 = await operator.call({
      type: Call_Type.GET_METRICS,
      getMetrics: { timeout: { nanoseconds: 5_000_000_000n } },
    });
    expect(Response_Type[v2.type ?? 0]).toBe("GET_METRICS");
    expect(metricsOf(v2)).toMatchObject({ "master/elected": 1, "master/cpus_total": 2, "master/slaves_active": 1 });
    expect(metricsOf(v2)["system/cpus_total"]).toBeGreaterThan(0);

    const v1Answer = await v1(master.port, { type: "GET_METRICS", get_metrics: {} });
    expect(v1Answer.status).toBe(200);
    const v1Body = JSON.parse(v1Answer.body.toString()) as { type: string; get_metrics: { metrics: Json[] } };
    expect(v1Body.type).toBe("GET_METRICS");
    expect(v1Body.get_metrics.metrics).toContainEqual({ name: "master/elected", value: 1 });
    expect((await v1(master.port, { type: "GET_METRICS" })).status).toBe(400);

    const snapshot = await get(master.port, "/metrics/snapshot?timeout=5secs");
    expect(snapshot.status).toBe(200);
    expect(snapshot.json()).toMatchObject({ "master/elected": 1, "master/cpus_total": 2 });
    const bad = await get(master.port, "/metrics/snapshot?timeout=soon");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("Invalid timeout 'soon'");

    const agentV2 = await agentOperator.call({ type: Call_Type.GET_METRICS, getMetrics: {} });
    expect(metricsOf(agentV2)).toMatchObject({
      "slave/registered": 1,
      "slave/cpus_total": 2,
      "slave/tasks_running": 1,
    });
    const agentV1 = await v1(agent.port, { type: "GET_METRICS", get_metrics: { timeout: { nanoseconds: 1e9 } } });
    expect(agentV1.status).toBe(200);
    expect(
      (JSON.parse(agentV1.body.toString()) as { get_metrics: { metrics: Json[] } }).get_metrics.metrics,
    ).toContainEqual({
      name: "slave/registered",
      value: 1,
    });
    expect((await get(agent.port, "/metrics/snapshot?timeout=1secs")).json()).toMatchObject({ "slave/registered": 1 });
    expect((await get(agent.port, "/metrics/snapshot?timeout=x")).status).toBe(400);
  });

  it("reports when the running code was built, the same in every view", async () => {
    const built = statSync(join(ROOT, "dist", "src", "version.js")).mtimeMs / 1000;
    const version = (await get(master.port, "/version")).json() as Json;
    const buildTime = version.build_time as number;
    // The newest compiled file: no older than this one, and not in the future.
    expect(buildTime).toBeGreaterThanOrEqual(Math.floor(built));
    expect(buildTime).toBeLessThanOrEqual(Date.now() / 1000);
    expect(version.build_date).toBe(new Date(buildTime * 1000).toISOString().replace("T", " ").slice(0, 19));
    expect((await get(master.port, "/master/state")).json().build_time).toBe(buildTime);
    const v2 = await operator.call({ type: Call_Type.GET_VERSION });
    expect(v2.getVersion?.versionInfo?.buildTime).toBe(buildTime);
    expect((await get(agent.port, "/version")).json().build_time).toBe(buildTime);
    expect((await get(agent.port, "/state")).json().build_time).toBe(buildTime);
  });

  it("pages /master/tasks as Mesos does: limit=-1 is no limit, a malformed limit or offset is the default", async () => {
    const ids = async (query: string) => {
      const answer = await get(master.port, `/master/tasks${query}`);
      expect(answer.status).toBe(200);
      return (answer.json().tasks as { id: string }[]).map((t) => t.id).sort();
    };
    expect(await ids("?limit=-1")).toEqual(["done", "sleeper"]);
    expect(await ids("?limit=many")).toEqual(["done", "sleeper"]);
    expect(await ids("?limit=1.5&offset=x")).toEqual(["done", "sleeper"]);
    expect(await ids("?limit=1")).toHaveLength(1);
    expect(await ids("?offset=1&limit=-1")).toHaveLength(1);
    expect(await ids("?offset=-1")).toEqual([]);
  });
});
