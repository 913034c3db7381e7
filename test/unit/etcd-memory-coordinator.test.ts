import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { RegistryOperation } from "../../src/core/registry/registry.js";
import { LeadershipLostError } from "../../src/master/etcd/errors.js";
import { createMemoryElection } from "../../src/master/etcd/memory-coordinator.js";

const info = (id: string) => create(MasterInfoSchema, { id, hostname: "localhost", port: 5000 });
const weights = (role: string): RegistryOperation => ({ kind: "update-weights", weights: [create(WeightInfoSchema, { role, weight: 2 })] });
const settle = () => new Promise((r) => setImmediate(r));

describe("the in-memory election twin", () => {
  it("elects the first candidate; the next leads after it resigns, with a higher epoch and the registry it wrote", async () => {
    const election = createMemoryElection();
    const [a, b] = [election.coordinator(), election.coordinator()];
    const leadingA = await a.campaign(info("a"));
    expect(await b.leader()).toBeUndefined();
    await leadingA.announce();
    let bLeads = false;
    const campaignB = b.campaign(info("b")).then((l) => ((bLeads = true), l));
    await settle();
    expect(bLeads).toBe(false);
    expect((await b.leader())?.id).toBe("a");
    expect(await leadingA.registry.apply(weights("prod"))).toBe(true);
    await leadingA.resign();
    expect(await leadingA.lost).toBeInstanceOf(LeadershipLostError);
    const leadingB = await campaignB;
    expect(leadingB.epoch).toBeGreaterThan(leadingA.epoch);
    expect(leadingB.registry.current.weights.map((w) => w.role)).toEqual(["prod"]);
  });

  it("fences a leader whose lease expired: its writes are refused and the new leader's stand", async () => {
    const election = createMemoryElection();
    const leadingA = await election.coordinator().campaign(info("a"));
    const campaignB = election.coordinator().campaign(info("b"));
    election.expireLeader();
    expect(await leadingA.lost).toBeInstanceOf(LeadershipLostError);
    await expect(leadingA.registry.apply(weights("from-a"))).rejects.toBeInstanceOf(LeadershipLostError);
    const leadingB = await campaignB;
    expect(await leadingB.registry.apply(weights("from-b"))).toBe(true);
    expect(election.registry.weights.map((w) => w.role)).toEqual(["from-b"]);
  });

  it("reports the leader to watchers, then each change, and withdraws aborted or closed candidates", async () => {
    const election = createMemoryElection();
    const [a, b, c, client] = [election.coordinator(), election.coordinator(), election.coordinator(), election.coordinator()];
    const seen: (string | undefined)[] = [];
    client.watchLeader((leader) => seen.push(leader?.id));
    const leadingA = await a.campaign(info("a"));
    await leadingA.announce();
    const abort = new AbortController();
    const campaignB = b.campaign(info("b"), abort.signal);
    const campaignC = c.campaign(info("c"));
    abort.abort(new Error("shutting down"));
    await expect(campaignB).rejects.toThrow("shutting down");
    await a.close();
    expect(await leadingA.lost).toBeInstanceOf(LeadershipLostError);
    await expect(leadingA.announce()).rejects.toBeInstanceOf(LeadershipLostError);
    await (await campaignC).announce();
    await c.close();
    await settle();
    // No one had announced at the first report; B never led.
    expect(seen).toEqual([undefined, "a", undefined, "c", undefined]);
  });
});
