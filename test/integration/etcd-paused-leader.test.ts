/**
 * The leader in a process of its own, stopped with SIGSTOP past its lease
 * and continued after a new leader took over: what an operator would see
 * when a master's VM is suspended.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { silentLogger } from "../../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator } from "../../src/master/etcd/index.js";
import { readStoredRegistry } from "../../src/master/etcd/registry-read.js";
import { EtcdScope } from "../helpers/etcd.js";
import { ROOT, stopProcess } from "../helpers/processes.js";

const TTL = 2;

/**
 * A minimal leader: campaigns, then writes a weight for each role named on
 * stdin, and reports on stdout as JSON lines.
 */
const LEADER = `
const { createEtcdCoordinator } = await import("./src/master/etcd/index.ts");
const { silentLogger } = await import("./src/log.ts");
const say = (event) => process.stdout.write(JSON.stringify(event) + "\\n");
const coordinator = createEtcdCoordinator({ endpoints: [process.env.ETCD_ENDPOINT], prefix: "/plateau", electionTtlSeconds: ${TTL}, logger: silentLogger() });
const leading = await coordinator.campaign({ $typeName: "mesos.v1.MasterInfo", id: "paused", ip: 0, port: 5000, pid: "", hostname: "localhost", version: "test", capabilities: [] });
say({ event: "elected", epoch: String(leading.epoch) });
void leading.lost.then((error) => say({ event: "lost", name: error.name, message: error.message }));
const { createInterface } = await import("node:readline");
for await (const role of createInterface({ input: process.stdin })) {
  await leading.registry.apply({ kind: "update-weights", weights: [{ $typeName: "mesos.v1.WeightInfo", role, weight: 1 }] }).then(
    () => say({ event: "written", role }),
    (error) => say({ event: "refused", role, name: error.name }),
  );
}
await coordinator.close();
`;

interface ChildEvent {
  event: string;
  role?: string;
  name?: string;
  epoch?: string;
}

class LeaderProcess {
  private readonly events: ChildEvent[] = [];
  private readonly waiters: (() => void)[] = [];
  private stderr = "";

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      this.events.push(JSON.parse(line) as ChildEvent);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    child.once("exit", () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** The first event matching `match`, waiting for it if need be. */
  async next(match: (e: ChildEvent) => boolean): Promise<ChildEvent> {
    for (;;) {
      const found = this.events.find(match);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null) throw new Error(`the leader process exited: ${this.stderr}`);
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  write(role: string): void {
    this.child.stdin?.write(`${role}\n`);
  }
}

describe("a leader process paused past its lease", () => {
  const etcds = new EtcdScope();
  const children: ChildProcess[] = [];
  const coordinators: EtcdCoordinator[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill("SIGCONT");
      await stopProcess(child, 2_000);
    }
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
    await etcds.cleanup();
  });

  it("is refused when it resumes and reports lost leadership, while the new leader's writes stand", async () => {
    const etcd = await etcds.start();
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", LEADER], {
      cwd: ROOT,
      env: { ...process.env, ETCD_ENDPOINT: etcd.endpoint },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(child);
    const leader = new LeaderProcess(child);
    const elected = await leader.next((e) => e.event === "elected");
    leader.write("before");
    await leader.next((e) => e.event === "written" && e.role === "before");

    child.kill("SIGSTOP");
    const b = createEtcdCoordinator({
      endpoints: [etcd.endpoint],
      prefix: "/plateau",
      electionTtlSeconds: TTL,
      logger: silentLogger(),
    });
    coordinators.push(b);
    // Elected only once etcd expired the stopped leader's lease.
    const leadingB = await b.campaign(create(MasterInfoSchema, { id: "b", hostname: "localhost", port: 5001 }));
    expect(leadingB.epoch).toBeGreaterThan(BigInt(elected.epoch ?? "0"));
    await leadingB.registry.apply({
      kind: "update-weights",
      weights: [create(WeightInfoSchema, { role: "from-b", weight: 1 })],
    });

    // The write is queued before the process runs again, so it is the
    // first thing it can do on resuming.
    leader.write("after-pause");
    child.kill("SIGCONT");
    expect(await leader.next((e) => e.role === "after-pause")).toMatchObject({
      event: "refused",
      name: "LeadershipLostError",
    });
    expect(await leader.next((e) => e.event === "lost")).toMatchObject({ name: "LeadershipLostError" });

    const client = new Etcd3({ hosts: [etcd.clientUrl] });
    try {
      const stored = await readStoredRegistry(client, "/plateau/registry");
      expect(stored.weights.map((w) => w.role)).toEqual(["before", "from-b"]);
    } finally {
      client.close();
    }
  });
});
