import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { type Json, request, type Stream, startFrameworkWithTasks } from "./gateway-v1-client.js";

/** The agent endpoints tools written for Mesos read: state, flags, metrics, and sandbox files. */
describe("the agent's legacy HTTP endpoints", () => {
  const scope = new ProcessScope();
  let agent: Daemon;
  let scheduler: Stream;
  let frameworkId = "";
  let directory = "";
  const get = async (path: string) => {
    const answer = await request(agent.port, path, { method: "GET" });
    return {
      ...answer,
      json:
        answer.headers["content-type"] === "application/json"
          ? (JSON.parse(answer.body.toString()) as unknown)
          : undefined,
    };
  };
  type AgentState = {
    id: string;
    pid: string;
    hostname: string;
    resources: Json;
    attributes: Json;
    flags: Json;
    frameworks: {
      id: string;
      name: string;
      executors: { id: string; directory: string; tasks: { id: string; state: string; slave_id: string }[] }[];
    }[];
  };

  beforeAll(async () => {
    const master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
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
        "--attributes",
        "rack:a",
      ],
      "agent listening",
    );
    // The running task leaves output, and symlinks that must not be followed:
    // one out of every sandbox, one into the other task's sandbox.
    ({ stream: scheduler, frameworkId } = await startFrameworkWithTasks(
      master.port,
      { name: "agent-endpoints" },
      "echo hello-sandbox; ln -s /etc/hostname leak; " +
        "until ls ../../../done/runs/*/stdout >/dev/null 2>&1; do sleep 0.1; done; " +
        "ln -s ../../../done/runs/*/stdout neighbour; sleep 60",
    ));
    directory = await eventually(async () => {
      const state = (await get("/slave(1)/state")).json as AgentState;
      return state.frameworks[0]?.executors.find((e) => e.tasks.some((t) => t.id === "sleeper"))?.directory;
    }, "the sleeper's sandbox in /slave(1)/state");
  });

  afterAll(async () => {
    scheduler?.close();
    await scope.cleanup();
  });

  it("serves /slave(1)/state in Mesos' shape, also as /state with JSONP", async () => {
    const answer = await get("/slave(1)/state");
    expect(answer.headers["content-type"]).toBe("application/json");
    const state = answer.json as AgentState;
    expect(state.pid).toBe(`slave(1)@127.0.0.1:${agent.port}`);
    expect(state.hostname).toBe("localhost");
    expect(state.resources).toEqual({ cpus: 2, gpus: 0, mem: 1024, disk: 1000, ports: "[31000-31010]" });
    expect(state.attributes).toEqual({ rack: "a" });
    expect(state.flags).toHaveProperty("work_dir");
    const [framework] = state.frameworks;
    expect(framework).toMatchObject({ id: frameworkId, name: "agent-endpoints" });
    const sleeper = framework?.executors.flatMap((e) => e.tasks).find((t) => t.id === "sleeper");
    expect(sleeper).toMatchObject({ state: "TASK_RUNNING", slave_id: state.id });
    expect(directory).toContain(`/frameworks/${frameworkId}/executors/`);

    expect(((await get("/state")).json as AgentState).id).toBe(state.id);
    const jsonp = await get("/state?jsonp=cb");
    expect(jsonp.headers["content-type"]).toBe("text/javascript");
    expect(jsonp.body.toString()).toMatch(/^cb\(\{.*\}\);$/);
    expect(((await get("/slave(1)/flags")).json as { flags: Json }).flags).toHaveProperty("master");
  });

  it("serves /metrics/snapshot with Mesos' slave/* names, and /monitor/statistics", async () => {
    const metrics = (await get("/metrics/snapshot")).json as Record<string, number>;
    expect(metrics).toMatchObject({
      "slave/registered": 1,
      "slave/cpus_total": 2,
      "slave/mem_total": 1024,
      "slave/tasks_running": 1,
      "slave/frameworks_active": 1,
    });
    expect(metrics["slave/cpus_used"]).toBeCloseTo(0.1);
    const statistics = (await get("/monitor/statistics")).json as {
      framework_id: string;
      statistics: { cpus_limit: number };
    }[];
    expect(statistics.some((s) => s.framework_id === frameworkId && s.statistics.cpus_limit > 0)).toBe(true);
  });

  it("browses, reads and downloads sandbox files", async () => {
    const listing = (await get(`/files/browse?path=${encodeURIComponent(directory)}`)).json as {
      path: string;
      size: number;
      mode: string;
    }[];
    expect(listing.map((f) => f.path)).toContain(`${directory}/stdout`);
    expect(listing.find((f) => f.path.endsWith("/leak"))?.mode).toMatch(/^l/);
    const stdout = `${directory}/stdout`;
    await eventually(
      async () =>
        ((await get(`/files/read?path=${encodeURIComponent(stdout)}&offset=0`)).json as { data: string }).data.includes(
          "hello-sandbox",
        )
          ? true
          : undefined,
      "the task's output",
    );
    expect((await get(`/files/read?path=${encodeURIComponent(stdout)}&offset=6&length=7`)).json).toEqual({
      data: "sandbox",
      offset: 6,
    });
    expect((await get(`/files/read?path=${encodeURIComponent(stdout)}`)).json).toEqual({
      data: "",
      offset: "hello-sandbox\n".length,
    });
    const download = await get(`/files/download?path=${encodeURIComponent(stdout)}`);
    expect(download.headers["content-type"]).toBe("application/octet-stream");
    expect(download.body.toString()).toBe("hello-sandbox\n");
    const executorId = directory.split("/executors/")[1]?.split("/")[0] ?? "";
    const latest = (
      await get(
        `/files/read?path=${encodeURIComponent(`/frameworks/${frameworkId}/executors/${executorId}/runs/latest/stdout`)}&offset=0`,
      )
    ).json as { data: string };
    expect(latest.data).toBe("hello-sandbox\n");
  });

  it("refuses paths outside the sandboxes: '..', symlinks out, and other files", async () => {
    const read = (path: string) => get(`/files/read?path=${encodeURIComponent(path)}&offset=0`);
    expect((await read(`${directory}/../../../../../../../../etc/hostname`)).status).toBe(403);
    expect((await read(`${directory}/leak`)).status).toBe(403);
    expect((await get(`/files/download?path=${encodeURIComponent(`${directory}/leak`)}`)).status).toBe(403);
    // Into another task's sandbox: still out of this one.
    const listing = (path: string) => get(`/files/browse?path=${encodeURIComponent(path)}`);
    await eventually(async () => {
      const entries = (await listing(directory)).json as { path: string }[];
      return entries.some((e) => e.path.endsWith("/neighbour")) ? true : undefined;
    }, "the sleeper's link into the other sandbox");
    expect((await read(`${directory}/neighbour`)).status).toBe(403);
    // Not attached, as Mesos says of a path that is in no sandbox.
    expect((await read("/etc/hostname")).status).toBe(404);
    expect((await get(`/files/browse?path=${encodeURIComponent("/etc")}`)).status).toBe(404);
    expect((await read(`${directory}/no-such-file`)).status).toBe(404);
    expect((await get("/files/read")).status).toBe(400);
    expect((await read(directory)).status).toBe(400);
  });

  it("serves the executors' run directories only, not the rest of the work dir", async () => {
    const browse = (path: string) => get(`/files/browse?path=${encodeURIComponent(path)}`);
    const read = (path: string) => get(`/files/read?path=${encodeURIComponent(path)}&offset=0`);
    const [workDir = ""] = directory.split("/slaves/");
    const runs = directory.slice(0, directory.lastIndexOf("/"));
    const agentId = directory.split("/slaves/")[1]?.split("/")[0] ?? "";
    expect((await read(`${workDir}/meta/agent_id`)).status).toBe(404);
    expect((await browse(`${workDir}/meta`)).status).toBe(404);
    expect((await browse(workDir)).status).toBe(404);
    expect((await browse(`${workDir}/slaves`)).status).toBe(404);
    expect((await browse(`${workDir}/slaves/${agentId}/frameworks/${frameworkId}`)).status).toBe(404);
    expect((await browse(runs)).status).toBe(404);
    expect((await browse(directory)).status).toBe(200);
    // Mesos' on-disk `latest` form of the newest run.
    const latest = await read(`${runs}/latest/stdout`);
    expect(latest.status).toBe(200);
    expect((latest.json as { data: string }).data).toBe("hello-sandbox\n");
  });

  it("answers the v1 operator calls the agent's v2 Operate serves", async () => {
    const call = (type: string) =>
      request(agent.port, "/api/v1", {
        headers: { "content-type": "application/json" },
        body: [JSON.stringify({ type })],
      });
    const health = await call("GET_HEALTH");
    expect(health.status).toBe(200);
    expect(health.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(health.body.toString())).toEqual({ type: "GET_HEALTH", get_health: { healthy: true } });
    expect((await call("GET_STATE")).status).toBe(501);
  });
});
