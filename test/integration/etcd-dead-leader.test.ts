/**
 * A standby replaces a leader whose process is gone without waiting out
 * its lease, and leaves alone a leader that is only paused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";

// Far longer than any wait below: a leader that changes did not wait it out.
const TTL_SECONDS = "120";

describe("a leader whose process died is replaced before its lease runs out", () => {
  const etcds = new EtcdScope();
  const scope = new ProcessScope();
  let etcd: EtcdServer;
  let registry: string;
  const masters: Daemon[] = [];
  let operator: OperatorClient;

  const startMaster = async () =>
    masters.push(
      await scope.start(
        ["master", "--port", "0", "--registry", registry, "--election-ttl", TTL_SECONDS],
        "master listening",
      ),
    );
  const leaderPort = async (): Promise<number> => {
    const response = await operator.call({ type: OperatorCallType.GET_MASTER });
    return response.getMaster?.masterInfo?.address?.port ?? 0;
  };
  const leaderOtherThan = (old: number) =>
    eventually(async () => {
      const port = await leaderPort().catch(() => 0);
      return port !== 0 && port !== old ? port : undefined;
    }, "another master to lead");

  beforeAll(async () => {
    etcd = await etcds.start();
    registry = `etcd://${etcd.endpoint}/plateau`;
    for (let i = 0; i < 3; i++) await startMaster();
    operator = createOperator({ master: registry, timeoutMs: 2_000 });
    await eventually(() => leaderPort().catch(() => undefined), "a leader");
  });

  afterAll(async () => {
    await operator?.close();
    await scope.cleanup();
    await etcds.cleanup();
  });

  it("keeps a paused leader: its port still accepts connections", async () => {
    const leader = await leaderPort();
    const paused = masters.find((m) => m.port === leader);
    paused?.process.kill("SIGSTOP");
    try {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const watchers = masters.filter((m) => m !== paused);
      expect(watchers.map((m) => m.logs()).join("")).not.toContain("refuses connections");
    } finally {
      paused?.process.kill("SIGCONT");
    }
    expect(await leaderPort()).toBe(leader);
  });

  const count = (text: string, what: string) => text.split(what).length - 1;
  const logsOf = (ms: Daemon[]) => ms.map((m) => m.logs()).join("");

  it("replaces a killed leader at once, and again for the next one", async () => {
    for (let round = 1; round <= 2; round++) {
      const old = await leaderPort();
      const victim = masters.find((m) => m.port === old) as Daemon;
      const standbys = masters.filter((m) => m !== victim);
      // A standby watches a leader's process only once that leader answered it.
      await eventually(
        () =>
          standbys.every((m) =>
            m.logs().includes(`"address":"127.0.0.1:${old}","msg":"watching the leading master's process"`),
          )
            ? true
            : undefined,
        "the standbys to watch the leader's process",
      );
      victim.process.kill("SIGKILL");
      await new Promise((resolve) => victim.process.once("exit", resolve));
      masters.splice(masters.indexOf(victim), 1);
      const next = await leaderOtherThan(old);
      expect(masters.some((m) => m.port === next)).toBe(true);
      expect(count(logsOf(standbys), "refuses connections (its process is gone)")).toBeGreaterThanOrEqual(round);
    }
  });
});
