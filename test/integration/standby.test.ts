/**
 * What a user pointed at a standby master sees: scrapers get the standby's
 * own metrics, and the CLI, `plateau run` and the operator client follow
 * its leader hint instead of failing.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { EtcdScope } from "../helpers/etcd.js";
import { type Daemon, eventually, PLATEAU_BIN, ProcessScope, ROOT } from "../helpers/processes.js";
import { request } from "./gateway-v1-client.js";

/** `plateau <args>` to its end: exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PLATEAU_BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("a standby master, as users meet it", () => {
  const etcds = new EtcdScope();
  const scope = new ProcessScope();
  const masters: Daemon[] = [];
  let operator: OperatorClient;
  let leader = 0;
  let standby = 0;

  beforeAll(async () => {
    const etcd = await etcds.start();
    const registry = `etcd://${etcd.endpoint}/plateau`;
    for (let i = 0; i < 2; i++) {
      masters.push(
        await scope.start(
          ["master", "--port", "0", "--registry", registry, "--election-ttl", "2", "--allocation-interval", "200ms"],
          "master listening",
        ),
      );
    }
    await scope.start(
      ["agent", "--master", registry, "--port", "0", "--work-dir", scope.tempDir(), "--resources", "cpus:1;mem:256"],
      "agent listening",
    );
    operator = createOperator({ master: registry });
    await eventually(
      async () => ((await operator.getAgents().catch(() => undefined))?.agents.length === 1 ? true : undefined),
      "the agent to register",
    );
    leader = (await operator.call({ type: Call_Type.GET_MASTER })).getMaster?.masterInfo?.address?.port ?? 0;
    standby = masters.find((m) => m.port !== leader)?.port ?? 0;
    expect(standby).not.toBe(0);
  }, 60_000);

  afterAll(async () => {
    await operator?.close();
    await scope.cleanup();
    await etcds.cleanup();
  });

  it("serves its own /metrics/snapshot with master/elected 0, while the leader says 1", async () => {
    const own = await request(standby, "/metrics/snapshot", { method: "GET" });
    expect(own.status).toBe(200);
    const metrics = JSON.parse(own.body.toString()) as Record<string, number>;
    expect(metrics["master/elected"]).toBe(0);
    expect(metrics["master/uptime_secs"]).toBeGreaterThan(0);
    expect(metrics["system/cpus_total"]).toBeGreaterThan(0);
    expect((await request(standby, "/metrics/snapshot?timeout=x", { method: "GET" })).status).toBe(400);
    const leaders = JSON.parse((await request(leader, "/metrics/snapshot", { method: "GET" })).body.toString());
    expect(leaders).toMatchObject({ "master/elected": 1, "master/slaves_active": 1 });
    // Everything else still goes to the leader.
    expect((await request(standby, "/master/state", { method: "GET" })).status).toBe(307);
  });

  it("lets the operator client, the CLI and plateau run named at the standby reach the leader", async () => {
    const direct = createOperator({ master: `127.0.0.1:${standby}` });
    try {
      const answer = await direct.call({ type: Call_Type.GET_MASTER });
      expect(answer.getMaster?.masterInfo?.address?.port).toBe(leader);
    } finally {
      await direct.close();
    }

    const agents = await cli(["agents", "--master", `127.0.0.1:${standby}`]);
    expect(agents.stderr).not.toContain("the leader is");
    expect(agents.code).toBe(0);
    expect(agents.stdout).toContain("HOSTNAME");
    expect(agents.stdout.trim().split("\n")).toHaveLength(2);

    const run = await cli([
      "run",
      "--master",
      `127.0.0.1:${standby}`,
      "--name",
      "hello",
      "--cpus",
      "0.1",
      "--mem",
      "32",
      "--",
      "echo",
      "hello",
    ]);
    expect(run.stderr).not.toContain("the leader is");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello");
  });
});
