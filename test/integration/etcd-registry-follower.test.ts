/**
 * A standby follows the registry (registry-follower.ts) and, once it wins,
 * catches up under its fence (registry-catch-up.ts) instead of reading every
 * key. Whatever happened meanwhile (changes its watch applied, changes made
 * right before it won, deletions, a GC's prune, a single value of old
 * converted, a compaction past what it followed), the registry it leads
 * with is exactly what a full read of etcd gives, and its writes' CAS
 * holds.
 */
import { create, equals } from "@bufbuild/protobuf";
import { Etcd3 } from "etcd3";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AgentInfoSchema, FrameworkInfoSchema, MasterInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { createRegistryBook } from "../../src/core/registry/registry-book.js";
import { silentLogger } from "../../src/log.js";
import { type FencedRegistryOptions, openFencedRegistry } from "../../src/master/etcd/fenced-registry.js";
import { createEtcdCoordinator } from "../../src/master/etcd/index.js";
import { readMirror } from "../../src/master/etcd/registry-catch-up.js";
import { followRegistry, type RegistryFollower } from "../../src/master/etcd/registry-follower.js";
import { registryLayout } from "../../src/master/etcd/registry-layout.js";
import { readStoredRegistry } from "../../src/master/etcd/registry-read.js";
import { encodeRegistry } from "../../src/master/etcd/registry-value.js";
import { EtcdServer } from "../helpers/etcd.js";
import { registryOperation } from "../helpers/registry-operations.js";

const admit = (id: string): RegistryOperation => ({
  kind: "admit-agent",
  info: create(AgentInfoSchema, { id: { value: id }, hostname: `${id}.example`, port: 5051 }),
});
const framework = (id: string): RegistryOperation => ({
  kind: "add-framework",
  info: create(FrameworkInfoSchema, { id: { value: id }, name: id, user: "u" }),
});
const quota = (role: string, cpus?: number): RegistryOperation => ({
  kind: "update-quota",
  configs: [create(QuotaConfigSchema, { role, limits: cpus === undefined ? {} : { cpus: { value: cpus } } })],
});

describe("a standby that follows the registry, then leads", () => {
  let etcd: EtcdServer;
  let client: Etcd3;
  let prefixes = 0;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    client = new Etcd3({ hosts: [etcd.clientUrl] });
  });
  afterAll(async () => {
    client.close();
    await etcd.cleanup();
  });

  const freshPrefix = () => `/f${++prefixes}`;
  /** A leader of `prefix`'s registry (its own campaign key and lease), opened from `options.mirror` if given. */
  const leader = async (prefix: string, options: Partial<FencedRegistryOptions> = {}) => {
    const lease = client.lease(30, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    const key = `${prefix}/election/${leaseId}`;
    const put = await lease.put(key).value("{}").exec();
    const opened = await openFencedRegistry({
      client,
      fence: { key, createRevision: put.header.revision, leaseId },
      key: `${prefix}/registry`,
      isLost: () => undefined,
      fenceFailed: () => undefined,
      transientRetryMs: 1_000,
      txnLimits: { maxOps: 12, maxBytes: 1 << 20 },
      ...options,
    });
    return { ...opened, revoke: () => lease.revoke() };
  };
  const followers: RegistryFollower[] = [];
  afterEach(async () => {
    // Stopping twice is harmless: a test that failed half-way leaves none following.
    await Promise.all(followers.splice(0).map((f) => f.stop()));
  });
  const follow = (prefix: string, from?: Parameters<typeof followRegistry>[0]["from"]): RegistryFollower => {
    const follower = followRegistry({
      client: new Etcd3({ hosts: [etcd.clientUrl] }),
      key: `${prefix}/registry`,
      logger: silentLogger(),
      from,
    });
    followers.push(follower);
    return follower;
  };
  const fullRead = (prefix: string) => readStoredRegistry(client, `${prefix}/registry`, 5);
  /**
   * Waits until the follower's watch has applied everything written so far:
   * a key in the range it watches but no registry key ('.' sorts before '/')
   * marks the present, and the follower's revision passes it.
   */
  const caughtUp = async (follower: RegistryFollower, prefix: string): Promise<void> => {
    const mark = await client.put(`${prefix}/registry.mark`).value("x").exec();
    for (let i = 0; i < 250; i++) {
      if (BigInt(follower.revision() ?? "0") >= BigInt(mark.header.revision)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`the follower did not catch up to ${mark.header.revision} (at ${follower.revision()})`);
  };
  /** Waits until the follower has read the registry once. */
  const following = async (follower: RegistryFollower): Promise<void> => {
    for (let i = 0; i < 250 && follower.revision() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  };
  const modRevisionsUnder = async (prefix: string): Promise<Map<string, string>> => {
    const entries = `${prefix}/registry/`;
    const { kvs } = await client.getAll().prefix(entries).exec();
    return new Map(kvs.map((kv) => [kv.key.toString().slice(entries.length), kv.mod_revision]));
  };
  const sameAsStored = async (prefix: string, registry: ReturnType<typeof emptyRegistry>) =>
    equals(RegistrySchema, registry, await fullRead(prefix));

  it("leads with exactly what a full read gives, whether its watch or the catch-up saw the last changes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(registryOperation, { maxLength: 30 }),
        fc.array(registryOperation, { maxLength: 30 }),
        registryOperation,
        async (changes, lastMinute, afterwards) => {
          const prefix = freshPrefix();
          // Entries for the random operations to change and delete.
          const seed = [...["a1", "a2", "a10"].map(admit), ...["f1", "f2"].map(framework), quota("eng", 2)];
          const watched = [...seed, ...changes];
          const reference = createRegistryBook(emptyRegistry());
          const a = await leader(prefix);
          const follower = follow(prefix);
          const watcher = follow(prefix);
          // Both have read the empty registry: what follows reaches them by their watches.
          await Promise.all([following(follower), following(watcher)]);
          for (const op of watched) reference.apply(op);
          // The seed stored first and the changes one by one: removals delete stored keys.
          await Promise.all(seed.map((op) => a.store.apply(op)));
          for (const op of changes) await a.store.apply(op);
          await caughtUp(follower, prefix);
          // What the watch alone made of them: etcd's entries and mod revisions.
          await caughtUp(watcher, prefix);
          const seen = await watcher.stop();
          expect(seen !== undefined && equals(RegistrySchema, seen.book.snapshot(), await fullRead(prefix))).toBe(true);
          expect(seen?.modRevisions).toEqual(await modRevisionsUnder(prefix));
          // Right before the standby wins: its watch may or may not have seen these.
          for (const op of lastMinute) reference.apply(op);
          await Promise.all(lastMinute.map((op) => a.store.apply(op)));
          await a.revoke();
          const b = await leader(prefix, { mirror: await follower.stop() });
          expect(b.recovery.kind).toBe("caught-up");
          expect(equals(RegistrySchema, b.store.current, reference.snapshot())).toBe(true);
          expect(await sameAsStored(prefix, b.store.current)).toBe(true);
          // Its mod revisions are etcd's: a write's CAS holds.
          expect(await b.store.apply(afterwards)).toBe(reference.apply(afterwards));
          expect(await sameAsStored(prefix, reference.snapshot())).toBe(true);
          await b.revoke();
        },
      ),
      { numRuns: 10 },
    );
  });

  it("catches up puts and deletions (GC's prune, removals) made after what it followed", async () => {
    const prefix = freshPrefix();
    const a = await leader(prefix);
    const before = [
      ...Array.from({ length: 12 }, (_, i) => admit(`a${i}`)),
      framework("f1"),
      framework("f2"),
      quota("eng", 4),
    ];
    await Promise.all(before.map((op) => a.store.apply(op)));
    const mirror = await readMirror(
      { txn: (r) => client.kv.txn(r), range: (r) => client.kv.range(r) },
      registryLayout(`${prefix}/registry`),
    );
    const after: RegistryOperation[] = [
      { kind: "mark-agent-unreachable", agentId: "a1", time: 1_000 },
      { kind: "mark-agent-unreachable", agentId: "a2", time: 1_000 },
      { kind: "mark-agent-gone", agentId: "a3", time: 2_000 },
      { kind: "prune-agents", unreachable: ["a1", "a2"], gone: ["a3"] },
      { kind: "remove-agent", agentId: "a4" },
      { kind: "remove-framework", frameworkId: "f1" },
      quota("eng"),
      admit("a4"),
      admit("new"),
      { kind: "start-term" },
    ];
    for (const op of after) await a.store.apply(op);
    await a.revoke();
    const b = await leader(prefix, { mirror });
    expect(b.recovery).toMatchObject({ kind: "caught-up", deleted: 5 });
    const expected = [...before, ...after].reduce((r, op) => applyRegistryOperation(r, op).registry, emptyRegistry());
    expect(equals(RegistrySchema, b.store.current, expected)).toBe(true);
    expect(await sameAsStored(prefix, b.store.current)).toBe(true);
    expect(b.store.current.agents.map((agent) => agent.id?.value)).toContain("a4");
    await b.revoke();
  });

  it("follows a single value of old through its conversion, and reads it whole while it is one", async () => {
    const prefix = freshPrefix();
    const ops = [...Array.from({ length: 8 }, (_, i) => admit(`old-${i}`)), framework("f1")];
    const old = ops.reduce((r, op) => applyRegistryOperation(r, op).registry, emptyRegistry());
    await client.put(`${prefix}/registry`).value(encodeRegistry(old));
    // A conversion cut short left a key that is no entry.
    await client.put(`${prefix}/registry/agents/leftover`).value("not even an entry");

    const still = follow(prefix);
    await caughtUp(still, prefix);
    const early = await leader(prefix, { mirror: await still.stop() });
    expect(early.recovery.kind).toBe("read");
    expect(equals(RegistrySchema, early.store.current, old)).toBe(true);
    await early.revoke();

    const follower = follow(prefix);
    await caughtUp(follower, prefix);
    const a = await leader(prefix);
    expect(await a.store.apply(admit("new"))).toBe(true);
    await a.revoke();
    const b = await leader(prefix, { mirror: await follower.stop() });
    expect(b.recovery.kind).toBe("caught-up");
    expect(equals(RegistrySchema, b.store.current, applyRegistryOperation(old, admit("new")).registry)).toBe(true);
    expect(await sameAsStored(prefix, b.store.current)).toBe(true);
    await b.revoke();
  });

  it("picks up from behind a compaction, and reads whole when too much changed to catch up", async () => {
    const prefix = freshPrefix();
    const layout = registryLayout(`${prefix}/registry`);
    const a = await leader(prefix);
    await Promise.all(Array.from({ length: 10 }, (_, i) => a.store.apply(admit(`a${i}`))));
    const plain = { txn: client.kv.txn.bind(client.kv), range: client.kv.range.bind(client.kv) };
    const behind = await readMirror(plain, layout);
    const stale = await readMirror(plain, layout);
    await a.store.apply({ kind: "remove-agent", agentId: "a0" });
    await Promise.all(Array.from({ length: 40 }, (_, i) => a.store.apply(admit(`b${i}`))));
    const { header } = await client.kv.range({ key: Buffer.from(`${prefix}/registry`) });
    await client.kv.compact({ revision: header.revision, physical: true });

    // A watch from `behind`'s revision is refused now; the follower catches up by range, then watches.
    const follower = follow(prefix, behind);
    await caughtUp(follower, prefix);
    await a.store.apply(admit("c0"));
    await a.revoke();
    const b = await leader(prefix, { mirror: await follower.stop() });
    expect(b.recovery.kind).toBe("caught-up");
    expect(await sameAsStored(prefix, b.store.current)).toBe(true);
    expect(b.store.current.agents).toHaveLength(50);
    await b.revoke();

    // 41 changed keys do not fit 4 pages of 7: the full read is cheaper.
    const c = await leader(prefix, { mirror: stale, pageKeys: 7 });
    expect(c.recovery).toMatchObject({ kind: "read", why: expect.stringMatching(/changed/) });
    expect(await sameAsStored(prefix, c.store.current)).toBe(true);
    await c.revoke();
  });

  it("a standby of the coordinator catches up when the leader resigns", async () => {
    const coordinator = () =>
      createEtcdCoordinator({
        endpoints: [etcd.endpoint],
        prefix: "/coord",
        electionTtlSeconds: 2,
        logger: silentLogger(),
      });
    const masterInfo = (id: string) => create(MasterInfoSchema, { id, hostname: "localhost", port: 5000 });
    const [ca, cb] = [coordinator(), coordinator()];
    try {
      const a = await ca.campaign(masterInfo("a"));
      await Promise.all(Array.from({ length: 30 }, (_, i) => a.registry.apply(admit(`a${i}`))));
      const standby = cb.campaign(masterInfo("b"));
      await new Promise((r) => setTimeout(r, 300));
      await a.registry.apply({ kind: "remove-agent", agentId: "a7" });
      await a.registry.apply(admit("last"));
      await a.resign();
      const b = await standby;
      expect(b.recovery?.kind).toBe("caught-up");
      expect(await sameAsStored("/coord", b.registry.current)).toBe(true);
      expect(b.registry.current.agents).toHaveLength(30);
    } finally {
      await cb.close();
      await ca.close();
    }
  });
});
