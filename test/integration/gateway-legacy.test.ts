import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, ProcessScope } from "../helpers/processes.js";
import { type Json, request, type Stream, startFrameworkWithTasks } from "./gateway-v1-client.js";

/** The endpoints tools and dashboards written for Mesos read, on a real master with a framework and tasks. */
describe("the master's legacy HTTP endpoints", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let agentPort = 0;
  let scheduler: Stream;
  let frameworkId = "";
  const get = async (path: string) => {
    const answer = await request(master.port, path, { method: "GET" });
    return {
      ...answer,
      json:
        answer.headers["content-type"] === "application/json"
          ? (JSON.parse(answer.body.toString()) as Json)
          : undefined,
    };
  };

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    const agent = await scope.start(
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
        "--attributes",
        "rack:a",
      ],
      "agent listening",
    );
    agentPort = agent.port;
    ({ stream: scheduler, frameworkId } = await startFrameworkWithTasks(master.port, {
      name: "legacy-test",
      principal: "ops",
    }));
  });

  afterAll(async () => {
    scheduler?.close();
    await scope.cleanup();
  });

  it("serves /master/state in Mesos' shape", async () => {
    const state = await get("/master/state");
    expect(state.status).toBe(200);
    expect(state.headers["content-type"]).toBe("application/json");
    const body = state.json as {
      leader_info: { hostname: string; port: number };
      pid: string;
      activated_slaves: number;
      slaves: {
        id: string;
        hostname: string;
        pid: string;
        port: number;
        resources: Json;
        used_resources: Json;
        attributes: Json;
      }[];
      frameworks: {
        id: string;
        name: string;
        principal: string;
        active: boolean;
        tasks: Json[];
        completed_tasks: Json[];
        resources: Json;
        used_resources: Json;
      }[];
      flags: Json;
    };
    expect(body.leader_info).toMatchObject({ hostname: "localhost", port: master.port });
    expect(body.pid).toBe(`master@127.0.0.1:${master.port}`);
    expect(body.activated_slaves).toBe(1);
    const [agent] = body.slaves;
    expect(agent).toMatchObject({
      hostname: "localhost",
      port: agentPort,
      pid: `slave(1)@127.0.0.1:${agentPort}`,
      attributes: { rack: "a" },
    });
    expect(agent?.resources).toEqual({ cpus: 2, gpus: 0, mem: 1024, disk: 1000, ports: "[31000-31010]" });
    expect(agent?.used_resources).toEqual({ cpus: 0.1, gpus: 0, mem: 32, disk: 0, ports: "[31001-31001]" });
    const [framework] = body.frameworks;
    expect(framework).toMatchObject({ id: frameworkId, name: "legacy-test", principal: "ops", active: true });
    expect(framework?.tasks).toHaveLength(1);
    expect(framework?.tasks[0]).toMatchObject({
      id: "sleeper",
      name: "sleeper",
      framework_id: frameworkId,
      slave_id: agent?.id,
      state: "TASK_RUNNING",
      role: "*",
    });
    expect((framework?.tasks[0] as { statuses: { state: string }[] }).statuses.map((s) => s.state)).toEqual([
      "TASK_STARTING",
      "TASK_RUNNING",
    ]);
    expect(framework?.completed_tasks[0]).toMatchObject({ id: "done", state: "TASK_FINISHED" });
    expect(body.flags).toHaveProperty("allocation_interval");

    for (const alias of ["/master/state.json", "/state", "/state.json"])
      expect((await get(alias)).json).toHaveProperty("leader_info");
  });

  it("serves the list endpoints, with paging on /master/tasks", async () => {
    expect(((await get("/master/frameworks")).json?.frameworks as Json[])[0]).toMatchObject({ id: frameworkId });
    expect((await get("/master/frameworks/")).json).toHaveProperty("completed_frameworks");
    expect((await get("/frameworks")).json).toHaveProperty("frameworks");
    expect(((await get("/master/slaves")).json?.slaves as Json[])[0]).toMatchObject({ port: agentPort });
    expect((await get("/slaves")).json).toHaveProperty("slaves");
    const tasks = (await get("/master/tasks")).json?.tasks as { id: string }[];
    expect(tasks.map((t) => t.id).sort()).toEqual(["done", "sleeper"]);
    expect(((await get("/master/tasks?limit=1&offset=0&order=asc")).json?.tasks as Json[]).length).toBe(1);
    expect(((await get("/tasks?offset=2")).json?.tasks as Json[]).length).toBe(0);
    expect(((await get("/master/tasks?limit=-1")).json?.tasks as Json[]).length).toBe(2);
    expect(((await get("/master/tasks?task_id=done")).json?.tasks as { id: string }[]).map((t) => t.id)).toEqual([
      "done",
    ]);
    expect(((await get(`/master/tasks?framework_id=${frameworkId}`)).json?.tasks as Json[]).length).toBe(2);
    expect(((await get("/master/frameworks?framework_id=nope")).json?.frameworks as Json[]).length).toBe(0);
    expect(((await get(`/master/frameworks?framework_id=${frameworkId}`)).json?.frameworks as Json[]).length).toBe(1);
    const summary = (await get("/master/state-summary")).json as { slaves: Json[]; frameworks: Json[] };
    expect(summary.slaves[0]).toMatchObject({ TASK_RUNNING: 1, TASK_FINISHED: 1, framework_ids: [frameworkId] });
    expect(summary.frameworks[0]).toMatchObject({ id: frameworkId, TASK_RUNNING: 1 });
    expect((await get("/master/roles")).json).toHaveProperty("roles");
    expect((await get("/master/flags")).json?.flags).toHaveProperty("heartbeat_interval");
  });

  it("serves /metrics/snapshot with Mesos' metric names", async () => {
    const metrics = (await get("/metrics/snapshot")).json as Record<string, number>;
    expect(metrics).toMatchObject({
      "master/elected": 1,
      "master/cpus_total": 2,
      "master/cpus_used": 0.1,
      "master/mem_total": 1024,
      "master/mem_used": 32,
      "master/tasks_running": 1,
      "master/tasks_finished": 1,
      "master/frameworks_active": 1,
      "master/slaves_active": 1,
    });
    expect(metrics["master/uptime_secs"]).toBeGreaterThanOrEqual(0);
  });

  it("answers health, version, redirect and JSONP, and refuses other methods", async () => {
    expect((await get("/master/health")).status).toBe(200);
    expect((await get("/health")).status).toBe(200);
    expect((await get("/version")).json).toHaveProperty("version");
    const redirect = await get("/master/redirect");
    expect(redirect.status).toBe(307);
    expect(redirect.headers.location).toBe(`//localhost:${master.port}`);
    const jsonp = await get("/master/slaves?jsonp=show");
    expect(jsonp.headers["content-type"]).toBe("text/javascript");
    expect(jsonp.body.toString()).toMatch(/^show\(\{"slaves":.*\}\);$/);
    expect((await request(master.port, "/master/state", { method: "POST" })).status).toBe(405);
  });
});
