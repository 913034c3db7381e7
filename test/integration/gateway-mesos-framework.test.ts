/**
 * Interop: the `mesos-framework` npm package (a v1 HTTP scheduler library
 * written against Apache Mesos, not by us) runs a framework against a real
 * Plateau master and agent through the v1 gateway, unchanged.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, eventually, ProcessScope, ROOT, stopProcess } from "../helpers/processes.js";

/**
 * The scheduler runs in its own process: the library keeps timers and a
 * long-lived request open and may call process.exit, none of which belongs
 * in the test runner. It prints one JSON line per event it sees.
 */
const SCHEDULER = `
const { Scheduler, Mesos } = require(process.env.MESOS_FRAMEWORK);
const mesos = Mesos.getMesos();
const print = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
const scheduler = new Scheduler({
  masterUrl: "127.0.0.1",
  port: Number(process.env.MASTER_PORT),
  frameworkName: "mesos-framework-interop",
  logging: { path: process.env.LOG_DIR, fileName: "mesos-framework.log", level: "error" },
  tasks: {
    echo: {
      instances: 2,
      commandInfo: new mesos.CommandInfo(null, null, true, "echo hello from mesos-framework", null, null),
      resources: { cpus: 0.1, mem: 32, ports: 1, disk: 0 },
    },
  },
});
scheduler.on("subscribed", (s) => print({ event: "subscribed", frameworkId: s.frameworkId, streamId: s.mesosStreamId }));
scheduler.on("offers", (o) => print({ event: "offers", count: o.offers.length, ip: o.offers[0] && o.offers[0].url && o.offers[0].url.address.ip }));
scheduler.on("update", (u) => print({ event: "update", task: u.status.task_id.value, state: u.status.state }));
scheduler.on("heartbeat", () => print({ event: "heartbeat" }));
scheduler.on("sent_teardown", () => { print({ event: "torn down" }); process.exit(0); });
scheduler.on("error", (e) => print({ event: "error", message: e && e.message ? e.message : String(e) }));
process.on("SIGUSR2", () => scheduler.teardown());
scheduler.on("ready", () => scheduler.subscribe());
`;

interface Line {
  event: string;
  [key: string]: unknown;
}

describe("the mesos-framework npm package against Plateau", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let workDir: string;
  let child: ChildProcess | undefined;
  const lines: Line[] = [];
  let stderr = "";

  beforeAll(async () => {
    // The library times its event stream out after 10 s without a byte.
    master = await scope.start(
      ["master", "--port", "0", "--allocation-interval", "200ms", "--heartbeat-interval", "2secs"],
      "master listening",
    );
    workDir = scope.tempDir();
    await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        workDir,
        "--resources",
        "cpus:2;mem:1024;disk:1000;ports:[31000-31010]",
      ],
      "agent listening",
    );
  });

  afterAll(async () => {
    if (child !== undefined) await stopProcess(child);
    await scope.cleanup();
  });

  it("subscribes, launches its tasks on offers and sees them finish", async () => {
    const dir = scope.tempDir("plateau-mesos-framework-");
    const script = join(dir, "scheduler.cjs");
    writeFileSync(script, SCHEDULER);
    child = spawn(process.execPath, [script], {
      cwd: dir,
      env: {
        ...process.env,
        MESOS_FRAMEWORK: join(ROOT, "node_modules", "mesos-framework"),
        MASTER_PORT: String(master.port),
        LOG_DIR: dir,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffered = "";
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const part of parts) {
        try {
          lines.push(JSON.parse(part) as Line);
        } catch {
          // library output that is not ours
        }
      }
    });
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));

    const subscribed = await eventually(() => lines.find((l) => l.event === "subscribed"), "SUBSCRIBED");
    expect(String(subscribed.streamId).length).toBeGreaterThan(0);
    const offers = await eventually(() => lines.find((l) => l.event === "offers"), "an offer");
    expect(offers.ip).toBe("127.0.0.1");

    const finished = await eventually(
      () => {
        const done = new Set(
          lines.filter((l) => l.event === "update" && l.state === "TASK_FINISHED").map((l) => String(l.task)),
        );
        return done.size >= 2 ? [...done] : undefined;
      },
      `two TASK_FINISHED updates (saw ${JSON.stringify(lines)} ${stderr})`,
      30_000,
    );
    expect(finished.every((id) => id.startsWith("mesos-framework-interop.echo-"))).toBe(true);
    expect(lines.filter((l) => l.event === "error")).toEqual([]);

    const outputs = findFiles(workDir, "stdout").map((f) => readFileSync(f, "utf8"));
    expect(outputs.filter((o) => o.includes("hello from mesos-framework"))).toHaveLength(2);

    // A heartbeat reaches the library (it would time the stream out otherwise).
    await eventually(() => lines.find((l) => l.event === "heartbeat"), "a HEARTBEAT");

    child.kill("SIGUSR2");
    await eventually(() => lines.find((l) => l.event === "torn down"), "TEARDOWN to be accepted");
  }, 60_000);
});

function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? findFiles(p, name) : e.name === name ? [p] : [];
  });
}
