/**
 * The simulated agents the scale benchmarks and fault tests use
 * (bench/sim-agents.ts), against a real master: they run what a framework
 * launches, and a partitioned, healed, crashed and restarted agent looks to
 * the master and the framework as a real one would. Against a scripted
 * master on the wire, it keeps the real agent's backoff after malformed
 * answers and leaves a master that falls silent; on etcd, it follows a
 * standby's refusal to the leader and comes back after a failover.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { BenchFramework } from "../../bench/framework.js";
import { FrameReader, frame } from "../../bench/grpc-frames.js";
import { SessionPool } from "../../bench/session-pool.js";
import { type SimFleet, startSimFleet } from "../../bench/sim-agents.js";
import { Call_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { FrameworkInfoSchema, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { type ConnectRequest, ConnectRequestSchema, ConnectResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { EtcdScope } from "../helpers/etcd.js";
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

/** A master's side of the wire, scripted per stream: what a broken or silent master does to the fleet. */
async function scriptedMaster(
  answer: (stream: http2.ServerHttp2Stream, hello: ConnectRequest, attempt: number) => void,
): Promise<{ address: string; attempts: number[]; requests: ConnectRequest[]; close(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const attempts: number[] = [];
  const requests: ConnectRequest[] = [];
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream) => {
    const reader = new FrameReader();
    let first = true;
    stream.on("error", () => undefined);
    stream.on("data", (chunk: Buffer) =>
      reader.push(chunk, (bytes) => {
        const request = fromBinary(ConnectRequestSchema, bytes);
        requests.push(request);
        if (!first) return;
        first = false;
        attempts.push(performance.now());
        answer(stream, request, attempts.length);
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    attempts,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const agentEvent = (event: MessageInitShape<typeof ConnectResponseSchema>["event"]): Buffer =>
  frame(toBinary(ConnectResponseSchema, create(ConnectResponseSchema, { event })));

describe("a simulated agent facing a master that misbehaves", () => {
  const sessions = new SessionPool(1);
  let fleet: SimFleet | undefined;
  let master: Awaited<ReturnType<typeof scriptedMaster>> | undefined;
  afterEach(async () => {
    await fleet?.close();
    sessions.abort();
    await master?.close();
  });

  it("backs off after malformed answers, registers once the master answers properly, and leaves it when it falls silent", async () => {
    master = await scriptedMaster((stream, hello, attempt) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      if (attempt === 1) {
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "not a number" }));
        stream.end();
      } else if (attempt === 2) {
        // No status at all: the stream just ends.
        stream.on("wantTrailers", () => stream.sendTrailers({}));
        stream.end();
      } else {
        expect(hello.call.case === "agent" && hello.call.value.call.case).toBe("register");
        stream.write(
          agentEvent({
            case: "agent",
            value: {
              leaderEpoch: 7n,
              event: { case: "registered", value: { agentId: { value: "A1" }, heartbeatIntervalSeconds: 0.1 } },
            },
          }),
        );
        if (attempt === 3)
          stream.write(
            agentEvent({ case: "agent", value: { leaderEpoch: 7n, event: { case: "heartbeat", value: {} } } }),
          );
        // Then silence: no heartbeat ever again.
      }
    });
    const started = performance.now();
    fleet = startSimFleet({
      master: master.address,
      agents: 1,
      tasksPerAgent: 0,
      framework: create(FrameworkInfoSchema),
      sessions,
      reconnect: { initialMs: 200, maxMs: 1000 },
    });
    const sim = fleet;
    await eventually(() => ((sim.registrations[0]?.length ?? 0) > 0 ? true : undefined), "the agent to register");
    const [first, second, third] = master.attempts as [number, number, number];
    // Attempt n waits half to all of min(maxMs, initialMs * 2^n) after a stream that brought nothing.
    expect(second - first).toBeGreaterThanOrEqual(200 - 5);
    expect(third - second).toBeGreaterThanOrEqual(400 - 5);
    expect(fleet.registrations[0]?.[0]?.epoch).toBe(7n);
    expect(fleet.agentId(0)).toBe("A1");
    await eventually(
      () =>
        master?.requests.some((r) => r.call.case === "agent" && r.call.value.call.case === "heartbeat")
          ? true
          : undefined,
      "the agent to answer the heartbeat",
    );
    // Three missed heartbeats and 5 s: the agent redials, under its id, from the smallest backoff.
    await eventually(
      () => (master?.attempts.length === 4 ? true : undefined),
      "the agent to leave the silent master",
      15_000,
    );
    const fourth = master.attempts[3] as number;
    expect(fourth - third).toBeGreaterThanOrEqual(5_300);
    const again = master.requests.at(-1);
    expect(
      again?.call.case === "agent" &&
        again.call.value.call.case === "register" &&
        again.call.value.call.value.agentInfo?.id?.value,
    ).toBe("A1");
    expect(performance.now() - started).toBeLessThan(15_000);
  }, 30_000);
});

describe("a simulated fleet on etcd", () => {
  const etcds = new EtcdScope();
  const scope = new ProcessScope();
  const pools = [new SessionPool(2), new SessionPool(2)];
  const fleets: SimFleet[] = [];
  let operator: OperatorClient | undefined;
  afterEach(async () => {
    await Promise.all(fleets.splice(0).map((f) => f.close()));
    for (const pool of pools) pool.abort();
    await operator?.close();
    await scope.cleanup();
    await etcds.cleanup();
  });

  it("follows a standby's refusal to the leader, and re-registers with the next leader after the leader is killed", async () => {
    const etcd = await etcds.start();
    const registry = `etcd://${etcd.endpoint}/plateau`;
    const masters = [];
    for (let i = 0; i < 2; i++)
      masters.push(
        await scope.start(["master", "--port", "0", "--registry", registry, "--election-ttl", "2"], "master listening"),
      );
    operator = createOperator({ master: registry });
    const op = operator;
    const leaderPort = await eventually(
      async () =>
        (await op.call({ type: Call_Type.GET_MASTER }).catch(() => undefined))?.getMaster?.masterInfo?.address?.port,
      "a leader",
    );
    const leader = masters.find((m) => m.port === leaderPort);
    const standby = masters.find((m) => m.port !== leaderPort);
    if (leader === undefined || standby === undefined) throw new Error("expected a leader and a standby");
    const framework = create(FrameworkInfoSchema);
    // One fleet names only the standby (it must follow the refusal's hint), one names etcd.
    for (const [i, master] of [`127.0.0.1:${standby.port}`, registry].entries())
      fleets.push(startSimFleet({ master, agents: 3, tasksPerAgent: 0, framework, sessions: pools[i] as SessionPool }));
    const registeredSince = (epoch: bigint) => fleets.reduce((n, f) => n + f.registeredSince(epoch), 0);
    await eventually(() => (registeredSince(0n) === 6 ? true : undefined), "both fleets to register");
    expect((await op.getAgents()).agents.filter((a) => a.active)).toHaveLength(6);

    const epoch = fleets.reduce((max, f) => (f.highestEpoch() > max ? f.highestEpoch() : max), 0n);
    const killedAt = performance.now();
    leader.process.kill("SIGKILL");
    await eventually(
      () => (registeredSince(epoch + 1n) === 6 ? true : undefined),
      "both fleets to re-register",
      30_000,
    );
    // An election (2 s TTL) and a few backoffs.
    const last = Math.max(...fleets.flatMap((f) => f.registrations.map((r) => r.at(-1)?.at ?? Infinity)));
    expect(last - killedAt).toBeLessThan(20_000);
    expect((await op.getAgents()).agents.filter((a) => a.active)).toHaveLength(6);
  }, 90_000);
});
