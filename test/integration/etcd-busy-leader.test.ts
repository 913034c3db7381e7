/**
 * A leader whose event loop is busy (a fleet registering at once) keeps its
 * lease: a worker thread keeps it alive. One whose loop is wedged for good
 * loses it, so a standby takes over.
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { silentLogger } from "../../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator, type Leadership } from "../../src/master/etcd/index.js";
import { EtcdScope } from "../helpers/etcd.js";

const TTL = 2;

/** Holds the event loop, as a long synchronous task would. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const info = (id: string) => create(MasterInfoSchema, { id, hostname: "localhost", port: 5000 });

describe("a leader whose event loop is busy", () => {
  const etcds = new EtcdScope();
  const coordinators: EtcdCoordinator[] = [];
  afterEach(async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
    await etcds.cleanup();
  });

  /** A leader and a standby in this process (whose loop stalls with the leader's: its stall limit stays the default). */
  async function twoMasters(leaderStallLimitMs?: number) {
    const etcd = await etcds.start();
    const coordinator = (leaseStallLimitMs?: number): EtcdCoordinator => {
      const c = createEtcdCoordinator({
        endpoints: [etcd.endpoint],
        prefix: "/plateau",
        electionTtlSeconds: TTL,
        leaseStallLimitMs,
        logger: silentLogger(),
      });
      coordinators.push(c);
      return c;
    };
    const a = coordinator(leaderStallLimitMs);
    const leading = await a.campaign(info("a"));
    let standbyLeads: Leadership | undefined;
    const b = coordinator();
    void b.campaign(info("b")).then(
      (l) => (standbyLeads = l),
      () => undefined,
    );
    await settle(300);
    return { leading, standby: () => standbyLeads };
  }

  it("keeps its lease through three TTLs without a turn of its loop, and its writes stand", async () => {
    const { leading, standby } = await twoMasters();
    let lost: Error | undefined;
    void leading.lost.then((e) => (lost = e));
    busyFor(3 * TTL * 1000);
    // Long enough for the deadline check and the standby's watch to run.
    await settle(TTL * 1000);
    expect(lost?.message).toBeUndefined();
    expect(standby()).toBeUndefined();
    await leading.registry.apply({
      kind: "update-weights",
      weights: [create(WeightInfoSchema, { role: "r", weight: 2 })],
    });
    expect(leading.registry.current.weights.map((w) => w.role)).toEqual(["r"]);
  }, 30_000);

  it("loses its lease once its loop stalls past the stall limit, and a standby takes over", async () => {
    const { leading, standby } = await twoMasters(3_000);
    busyFor(3_000 + 2 * TTL * 1000);
    const lost = await leading.lost;
    expect(lost.message).toMatch(/stalled|no keep-alive/);
    await expect(
      leading.registry.apply({ kind: "update-weights", weights: [create(WeightInfoSchema, { role: "r", weight: 2 })] }),
    ).rejects.toThrow();
    for (let i = 0; i < 50 && standby() === undefined; i++) await settle(100);
    expect(standby()?.epoch).toBeGreaterThan(leading.epoch);
  }, 30_000);
});
