/**
 * The registry stored one key per entry in a real etcd: what a new leader
 * reads equals what the old one wrote (against the registry book, with
 * batches split across transactions and reads across pages), a deposed
 * leader's write changes no key, and a registry stored as one value by an
 * older version is read and converted.
 */
import { create, equals } from "@bufbuild/protobuf";
import { Etcd3, type IKeyValue, type ITxnRequest } from "etcd3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentInfoSchema, FrameworkInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { createRegistryBook } from "../../src/core/registry/registry-book.js";
import { LeadershipLostError } from "../../src/master/etcd/errors.js";
import { type FencedRegistryOptions, openFencedRegistry } from "../../src/master/etcd/fenced-registry.js";
import { TOMBSTONE } from "../../src/master/etcd/registry-layout.js";
import { readStoredRegistry } from "../../src/master/etcd/registry-read.js";
import { decodeRegistry, encodeRegistry } from "../../src/master/etcd/registry-value.js";
import { EtcdServer } from "../helpers/etcd.js";
import { registryOperation } from "../helpers/registry-operations.js";

/** Small limits, so a few hundred entries take several transactions and pages. */
const SMALL = { txnLimits: { maxOps: 12, maxBytes: 1 << 20 }, pageKeys: 7 };

const admit = (id: string): RegistryOperation => ({
  kind: "admit-agent",
  info: create(AgentInfoSchema, { id: { value: id }, hostname: `${id}.example`, port: 5051 }),
});
const weights = (role: string, weight: number): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight })],
});

describe("the registry in etcd, one key per entry", () => {
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

  /** A campaign key of its own (under a fresh prefix) and the registry store fenced by it. */
  const leader = async (prefix: string, options: Partial<FencedRegistryOptions> = {}) => {
    const lease = client.lease(30, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    const key = `${prefix}/election/${leaseId}`;
    const put = await lease.put(key).value("{}").exec();
    const fence = { key, createRevision: put.header.revision, leaseId };
    const opened = await openFencedRegistry({
      client,
      fence,
      key: `${prefix}/registry`,
      isLost: () => undefined,
      fenceFailed: () => undefined,
      transientRetryMs: 1_000,
      ...SMALL,
      ...options,
    });
    /** Replaces the campaign key (same name and lease, new create revision): this leader is deposed. */
    const depose = async () => {
      await client.delete().key(key);
      await lease.put(key).value("{}");
    };
    return { store: opened.store, depose, revoke: () => lease.revoke() };
  };
  const freshPrefix = () => `/t${++prefixes}`;
  /** Every key under `prefix` with its value and mod revision. */
  const keysUnder = async (prefix: string): Promise<Map<string, string>> => {
    const response = await client.getAll().prefix(`${prefix}/registry`).exec();
    return new Map(
      response.kvs.map((kv: IKeyValue) => [kv.key.toString(), `${kv.mod_revision}:${kv.value.toString("hex")}`]),
    );
  };

  it("a new leader reads what the last one wrote, however the writes were batched, split and paged", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.array(registryOperation, { maxLength: 40 }),
        async (agents, operations) => {
          const prefix = freshPrefix();
          const all = [...Array.from({ length: agents }, (_, i) => admit(`bulk-${i}`)), ...operations];
          const reference = createRegistryBook(emptyRegistry());
          const expected = all.map((op) => reference.apply(op));
          const a = await leader(prefix);
          // All at once: they group-commit into batches of several transactions each.
          expect(await Promise.all(all.map((op) => a.store.apply(op)))).toEqual(expected);
          await a.revoke();
          const b = await leader(prefix);
          expect(equals(RegistrySchema, b.store.current, reference.snapshot())).toBe(true);
          expect(
            equals(RegistrySchema, await readStoredRegistry(client, `${prefix}/registry`, 5), reference.snapshot()),
          ).toBe(true);
          await b.revoke();
        },
      ),
      { numRuns: 12 },
    );
  });

  it("reads more entries than one page holds with the default page sizes and transaction limits", async () => {
    const prefix = freshPrefix();
    const defaults = { txnLimits: undefined, pageKeys: undefined };
    const a = await leader(prefix, defaults);
    const ids = Array.from({ length: 2_500 }, (_, i) => `agent-${String(i).padStart(5, "0")}`);
    await Promise.all(ids.map((id) => a.store.apply(admit(id))));
    await a.revoke();
    const b = await leader(prefix, defaults);
    expect(b.store.current.agents.map((agent) => agent.id?.value)).toEqual(ids);
    await b.revoke();
  });

  it("a deposed leader's write fails and changes no key", async () => {
    const prefix = freshPrefix();
    const a = await leader(prefix);
    await Promise.all(Array.from({ length: 30 }, (_, i) => a.store.apply(admit(`a${i}`))));
    const before = await keysUnder(prefix);
    await a.depose();
    const writes = [weights("late", 1), ...Array.from({ length: 30 }, (_, i) => admit(`late-${i}`))].map((op) =>
      a.store.apply(op),
    );
    for (const write of writes) await expect(write).rejects.toBeInstanceOf(LeadershipLostError);
    expect(await keysUnder(prefix)).toEqual(before);
    await a.revoke();
  });

  it("a leader deposed while a batch's transactions are in flight: each stores all its keys or none, none after the fence failed", async () => {
    const prefix = freshPrefix();
    // The batch's 20 keys take three transactions (9, 9, 2 keys), sent together as the
    // third, fourth and fifth transactions of this client (after the first read and the
    // write of "first"). The fourth waits until the campaign key has been replaced.
    let txns = 0;
    let depose: (() => Promise<void>) | undefined;
    const hooked = {
      kv: {
        txn: async (request: ITxnRequest) => {
          if (++txns === 4 && depose !== undefined) await depose();
          return client.kv.txn(request);
        },
        range: client.kv.range.bind(client.kv),
      },
    } as unknown as Etcd3;
    const a = await leader(prefix, { client: hooked });
    depose = a.depose;
    await a.store.apply(admit("first"));
    const batch = Array.from({ length: 20 }, (_, i) => a.store.apply(admit(`b${i}`)));
    for (const write of batch) await expect(write).rejects.toBeInstanceOf(LeadershipLostError);
    await expect(a.store.apply(admit("after"))).rejects.toBeInstanceOf(LeadershipLostError);
    await a.revoke();

    const b = await leader(prefix);
    const stored = new Set(b.store.current.agents.map((agent) => agent.id?.value));
    const chunk = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => stored.has(`b${from + i}`));
    const [first, second, third] = [chunk(0, 9), chunk(9, 18), chunk(18, 20)];
    expect(stored.has("first")).toBe(true);
    expect(second.some(Boolean)).toBe(false);
    for (const keys of [first, third]) expect(new Set(keys).size).toBe(1);
    expect(stored.has("after")).toBe(false);
    await b.revoke();
  });

  it("reads a registry stored as one value by an older version, and converts it on the first write", async () => {
    const prefix = freshPrefix();
    let old = emptyRegistry();
    const history: RegistryOperation[] = [
      { kind: "start-term" },
      weights("prod", 2),
      ...Array.from({ length: 25 }, (_, i) => admit(`old-${i}`)),
      { kind: "mark-agent-unreachable", agentId: "old-3", time: 1_000 },
      { kind: "mark-agent-gone", agentId: "old-4", time: 2_000 },
      { kind: "add-framework", info: create(FrameworkInfoSchema, { id: { value: "f1" }, name: "f", user: "u" }) },
    ];
    for (const op of history) old = applyRegistryOperation(old, op).registry;
    await client.put(`${prefix}/registry`).value(encodeRegistry(old));
    // A conversion cut short left an entry the old value does not hold.
    await client.put(`${prefix}/registry/agents/leftover`).value("not even an entry");

    const a = await leader(prefix);
    expect(equals(RegistrySchema, a.store.current, old)).toBe(true);
    expect(await a.store.apply(admit("new"))).toBe(true);
    const expected = applyRegistryOperation(old, admit("new")).registry;

    const legacy = await client.get(`${prefix}/registry`).buffer();
    expect(legacy?.equals(TOMBSTONE)).toBe(true);
    // An older master refuses to lead on it rather than start empty.
    expect(() => decodeRegistry(legacy ?? Buffer.alloc(0), `${prefix}/registry`)).toThrow(/cannot be read/);
    const keys = [...(await keysUnder(prefix)).keys()];
    expect(keys).toContain(`${prefix}/registry/agents/old-3`);
    expect(keys).toContain(`${prefix}/registry/frameworks/f1`);
    expect(keys).not.toContain(`${prefix}/registry/agents/leftover`);
    expect(keys).toHaveLength(1 + 1 + 1 + 26 + 1);
    expect(equals(RegistrySchema, await readStoredRegistry(client, `${prefix}/registry`), expected)).toBe(true);
    await a.revoke();

    const b = await leader(prefix);
    expect(equals(RegistrySchema, b.store.current, expected)).toBe(true);
    await b.revoke();
  });

  it("converts a single-value registry whose first write leaves it empty", async () => {
    const prefix = freshPrefix();
    const framework = create(FrameworkInfoSchema, { id: { value: "f1" }, name: "f", user: "u" });
    const old = applyRegistryOperation(emptyRegistry(), { kind: "add-framework", info: framework }).registry;
    await client.put(`${prefix}/registry`).value(encodeRegistry(old));
    const a = await leader(prefix);
    expect(await a.store.apply({ kind: "remove-framework", frameworkId: "f1" })).toBe(true);
    expect((await client.get(`${prefix}/registry`).buffer())?.equals(TOMBSTONE)).toBe(true);
    expect(equals(RegistrySchema, await readStoredRegistry(client, `${prefix}/registry`), emptyRegistry())).toBe(true);
    await a.revoke();
  });
});
