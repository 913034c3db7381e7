/**
 * What every multi-master election promises the master (src/master/election.ts),
 * run against each backend: the in-memory twin (test/unit) and etcd
 * (test/integration). A backend that passes can stand in for the other.
 *
 *   - one term at a time: a candidate leads only once the leader's term has ended;
 *   - each term's epoch is higher than every earlier term's;
 *   - a term starts with the registry earlier terms wrote;
 *   - clients see a leader only once it announces itself, and no longer once its term ends;
 *   - watchLeader reports the announced leader now, then each change, in order;
 *   - resign, close and an aborted campaign let the next candidate lead at once;
 *   - a term that ends resolves `lost`; its registry writes and announcements are refused (fencing).
 */
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { type MasterInfo, MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { Registry, RegistryOperation } from "../../src/core/registry/registry.js";
import type { Election, Term } from "../../src/master/election.js";
import { LeadershipLostError } from "../../src/master/etcd/errors.js";
import { eventually } from "./processes.js";

/** Elections that share one store for one test, as masters share one etcd. */
export interface ElectionBackend {
  /** The election of one more master (or of a client that only follows the leader). */
  election(): Election;
  /** Ends the leader's lease from outside, as an expiry or an operator's revoke would. */
  expireLeader(): Promise<void>;
  /** Closes every election it made and what they share. */
  close(): Promise<void>;
}

const masterInfo = (id: string, port: number): MasterInfo =>
  create(MasterInfoSchema, {
    id,
    ip: 0x0100007f,
    port,
    hostname: "localhost",
    version: "test",
    address: { hostname: "localhost", ip: "127.0.0.1", port },
  });
const weights = (role: string, weight = 1): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight })],
});
const weightsOf = (registry: Registry) => registry.weights.map((w) => [w.role, w.weight]);

/** Whether `promise` has settled by now (after a turn of the event loop). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

/** Registers the contract's tests; `start` makes a fresh backend for each. */
export function describeElectionContract(name: string, start: () => Promise<ElectionBackend>): void {
  describe(`the election contract: ${name}`, () => {
    let backend: ElectionBackend | undefined;
    afterEach(async () => {
      await backend?.close();
      backend = undefined;
    });
    const open = async (): Promise<ElectionBackend> => (backend = await start());

    it("one term at a time: the next candidate leads once the leader resigns, with a higher epoch each term", async () => {
      const b = await open();
      const [a, x, y] = [b.election(), b.election(), b.election()];
      const first = await a.campaign(masterInfo("a", 5001));
      expect(first.epoch).toBeGreaterThan(0n);
      const [campaignX, campaignY] = [x.campaign(masterInfo("x", 5002)), y.campaign(masterInfo("y", 5003))];
      // Round trips through the shared store, while the others wait.
      expect(await first.registry.apply(weights("a"))).toBe(true);
      expect(await a.leader()).toBeUndefined();
      expect([await settled(campaignX), await settled(campaignY)]).toEqual([false, false]);

      await first.resign();
      expect(await first.lost).toBeInstanceOf(LeadershipLostError);
      await expect(first.registry.apply(weights("late"))).rejects.toBeInstanceOf(LeadershipLostError);
      // Either may lead next; the other must keep waiting.
      const { second, other } = await Promise.race([
        campaignX.then((term) => ({ second: term, other: campaignY })),
        campaignY.then((term) => ({ second: term, other: campaignX })),
      ]);
      expect(second.epoch).toBeGreaterThan(first.epoch);
      expect(await second.registry.apply(weights("second"))).toBe(true);
      expect(await settled(other)).toBe(false);

      await second.resign();
      const third = await other;
      expect(third.epoch).toBeGreaterThan(second.epoch);
      expect(weightsOf(third.registry.current)).toEqual([
        ["a", 1],
        ["second", 1],
      ]);
    });

    it("a term starts with the registry earlier terms wrote; a write that changes nothing says so; writes apply in call order", async () => {
      const b = await open();
      const a = b.election();
      const leading = await a.campaign(masterInfo("a", 5001));
      expect(leading.registry.current.weights).toEqual([]);
      expect(await leading.registry.apply(weights("prod", 2))).toBe(true);
      expect(await leading.registry.apply(weights("prod", 2))).toBe(false);
      const results = await Promise.all([3, 4, 5, 6, 7].map((w) => leading.registry.apply(weights("prod", w))));
      expect(results).toEqual([true, true, true, true, true]);
      expect(weightsOf(leading.registry.current)).toEqual([["prod", 7]]);
      await a.close();

      const next = await b.election().campaign(masterInfo("b", 5002));
      expect(weightsOf(next.registry.current)).toEqual([["prod", 7]]);
    });

    it("clients see a leader only once it announces itself, and no longer once its term ends; a deposed leader cannot announce", async () => {
      const b = await open();
      const [a, client] = [b.election(), b.election()];
      expect(await client.leader()).toBeUndefined();
      const leading = await a.campaign(masterInfo("a", 5001));
      // Elected but not yet serving: clients are not sent to it.
      expect(await client.leader()).toBeUndefined();
      await leading.announce();
      const seen = await client.leader();
      expect([seen?.id, seen?.address?.port, seen?.hostname, seen?.version]).toEqual(["a", 5001, "localhost", "test"]);
      expect((await a.leader())?.id).toBe("a");

      await leading.resign();
      // The announcement went with the term.
      expect(await client.leader()).toBeUndefined();
      await expect(leading.announce()).rejects.toBeInstanceOf(LeadershipLostError);
      expect(await client.leader()).toBeUndefined();
    });

    it("watchLeader reports the announced leader now, then each change, in order and without repeats", async () => {
      const b = await open();
      const [a, x, client] = [b.election(), b.election(), b.election()];
      const seen: (string | undefined)[] = [];
      const watch = client.watchLeader((leader) => seen.push(leader?.id));
      await eventually(() => (seen.length > 0 ? true : undefined), "the first report");
      expect(seen).toEqual([undefined]);

      const leadingA = await a.campaign(masterInfo("a", 5001));
      await leadingA.announce();
      await eventually(() => (seen.at(-1) === "a" ? true : undefined), "a reported");
      const late: (string | undefined)[] = [];
      const lateWatch = client.watchLeader((leader) => late.push(leader?.id));
      await eventually(() => (late.length > 0 ? true : undefined), "the late watcher's first report");
      expect(late).toEqual(["a"]);
      lateWatch.close();

      const campaignX = x.campaign(masterInfo("x", 5002));
      await leadingA.resign();
      await (await campaignX).announce();
      await eventually(() => (seen.at(-1) === "x" ? true : undefined), "x reported");
      await x.close();
      await eventually(() => (seen.at(-1) === undefined ? true : undefined), "no leader reported");
      watch.close();

      // An undefined between the two leaders may or may not be seen,
      // depending on when the backend looked.
      expect(seen.filter((id, i) => i === 0 || id !== seen[i - 1])).toEqual(seen);
      expect(seen.filter((id) => id !== undefined)).toEqual(["a", "x"]);
    });

    it("an aborted campaign withdraws and rejects with the reason; an abort after election leaves the term alone", async () => {
      const b = await open();
      const [a, x, y] = [b.election(), b.election(), b.election()];
      const electedAbort = new AbortController();
      const leadingA = await a.campaign(masterInfo("a", 5001), electedAbort.signal);
      electedAbort.abort(new Error("too late"));
      expect(await leadingA.registry.apply(weights("a"))).toBe(true);

      const abort = new AbortController();
      const campaignX = x.campaign(masterInfo("x", 5002), abort.signal);
      const campaignY = y.campaign(masterInfo("y", 5003));
      abort.abort(new Error("shutting down"));
      await expect(campaignX).rejects.toThrow("shutting down");
      const already = new AbortController();
      already.abort(new Error("never started"));
      await expect(x.campaign(masterInfo("x", 5002), already.signal)).rejects.toThrow("never started");

      await leadingA.resign();
      const leadingY = await campaignY;
      await leadingY.announce();
      expect((await a.leader())?.id).toBe("y");
      expect(leadingY.epoch).toBeGreaterThan(leadingA.epoch);
    });

    it("closing an election ends its term and its campaigns: the next candidate leads, and it campaigns no more", async () => {
      const b = await open();
      const [a, x] = [b.election(), b.election()];
      const leading = await a.campaign(masterInfo("a", 5001));
      await leading.announce();
      const campaignX = x.campaign(masterInfo("x", 5002));
      await a.close();
      expect(await leading.lost).toBeInstanceOf(LeadershipLostError);
      const leadingX = await campaignX;
      expect(leadingX.epoch).toBeGreaterThan(leading.epoch);
      await expect(a.campaign(masterInfo("a", 5001))).rejects.toThrow();

      const y = b.election();
      const campaignY = y.campaign(masterInfo("y", 5003));
      await y.close();
      await expect(campaignY).rejects.toThrow();
    });

    it("fencing: a leader whose lease expires loses its term; its writes and announcement are refused, and the next leader's writes stand", async () => {
      const b = await open();
      const [a, x, client] = [b.election(), b.election(), b.election()];
      const leadingA: Term = await a.campaign(masterInfo("a", 5001));
      await leadingA.announce();
      expect(await leadingA.registry.apply(weights("before"))).toBe(true);
      const campaignX = x.campaign(masterInfo("x", 5002));

      await b.expireLeader();
      expect(await leadingA.lost).toBeInstanceOf(LeadershipLostError);
      await expect(leadingA.registry.apply(weights("from-a"))).rejects.toBeInstanceOf(LeadershipLostError);
      await expect(leadingA.announce()).rejects.toBeInstanceOf(LeadershipLostError);
      const leadingX = await campaignX;
      expect(leadingX.epoch).toBeGreaterThan(leadingA.epoch);
      expect(await client.leader()).toBeUndefined();
      expect(await leadingX.registry.apply(weights("from-x"))).toBe(true);

      // The deposed master campaigns again: a new term, behind the leader.
      const again = a.campaign(masterInfo("a", 5001));
      await leadingX.resign();
      const leadingAgain = await again;
      expect(leadingAgain.epoch).toBeGreaterThan(leadingX.epoch);
      expect(weightsOf(leadingAgain.registry.current)).toEqual([
        ["before", 1],
        ["from-x", 1],
      ]);
    });
  });
}
