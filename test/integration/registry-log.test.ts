/**
 * The embedded registry's snapshot and log on a real file system (temporary
 * dirs): what it reopens to, how many syncs a burst costs, what a crash or
 * a failed write leaves behind, and compaction.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { AgentInfoSchema, FrameworkInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { openEmbeddedRegistry } from "../../src/master/registry.js";
import { LOG_FILE, nodeRegistryFiles, type RegistryFiles, SNAPSHOT_FILE } from "../../src/master/registry-files.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "plateau-registry-log-"));
  dirs.push(d);
  return d;
};

const admit = (id: string, hostname = "h"): RegistryOperation => ({
  kind: "admit-agent",
  info: create(AgentInfoSchema, { id: { value: id }, hostname, port: 5051 }),
});
const agentIds = (store: { current: { agents: { id?: { value: string } }[] } }) =>
  store.current.agents.map((a) => a.id?.value);

/** Real file operations, counted; `failAppend` makes the next appends fail (after writing `partial` of their bytes). */
function countedFiles() {
  const counts = { append: 0, replace: 0 };
  const faults = { failAppend: 0, partial: 0, failReplace: 0, replaceDelayMs: 0 };
  let replaceFailed: () => void = () => undefined;
  const replaceFailure = new Promise<void>((resolve) => (replaceFailed = resolve));
  const files: RegistryFiles = {
    async append(file, bytes) {
      counts.append++;
      if (faults.failAppend > 0) {
        faults.failAppend--;
        if (faults.partial > 0) await nodeRegistryFiles.append(file, bytes.subarray(0, faults.partial));
        throw new Error("injected: no space left on device");
      }
      await nodeRegistryFiles.append(file, bytes);
    },
    async replace(file, bytes) {
      counts.replace++;
      if (faults.replaceDelayMs > 0) await new Promise((r) => setTimeout(r, faults.replaceDelayMs));
      if (faults.failReplace > 0 && file.endsWith(LOG_FILE)) {
        faults.failReplace--;
        setImmediate(replaceFailed);
        throw new Error("injected: the log could not be replaced");
      }
      await nodeRegistryFiles.replace(file, bytes);
    },
  };
  return { files, counts, faults, replaceFailure };
}

/** Every kind of operation, in an order where each changes something. */
const MIXED: RegistryOperation[] = [
  { kind: "start-term" },
  admit("a1"),
  admit("a2"),
  { kind: "update-weights", weights: [{ $typeName: "mesos.v1.WeightInfo", role: "eng", weight: 2 }] },
  { kind: "update-quota", configs: [create(QuotaConfigSchema, { role: "eng", limits: { cpus: { value: 4 } } })] },
  { kind: "add-framework", info: create(FrameworkInfoSchema, { id: { value: "f1" }, name: "fw", user: "u" }) },
  { kind: "framework-disconnected", frameworkId: "f1", time: 7_000 },
  { kind: "mark-agent-unreachable", agentId: "a1", time: 5_000 },
  { kind: "mark-agent-gone", agentId: "a2", time: 6_000 },
  admit("a3"),
  { kind: "remove-agent", agentId: "a3" },
  { kind: "start-term" },
];
const reference = (operations: RegistryOperation[]) =>
  operations.reduce((r, op) => applyRegistryOperation(r, op).registry, emptyRegistry());

describe("embedded registry log", () => {
  it("reopens to the registry its operations made, and writes nothing for a no-op", async () => {
    const dir = tempDir();
    const { files, counts } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files });
    for (const op of MIXED) expect(await store.apply(op)).toBe(true);
    expect(await store.apply(admit("a1"))).toBe(true); // back from unreachable
    expect(await store.apply(admit("a1"))).toBe(false);
    expect(counts.append).toBe(MIXED.length + 1);
    const expected = reference([...MIXED, admit("a1")]);
    expect(equals(RegistrySchema, store.current, expected)).toBe(true);
    const reopened = openEmbeddedRegistry(dir);
    expect(equals(RegistrySchema, reopened.current, expected)).toBe(true);
    expect(reopened.current.terms).toBe(2n);
  });

  it("stores a burst with a few syncs, answering each in call order", async () => {
    const dir = tempDir();
    const { files, counts } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files });
    const answered: number[] = [];
    const ids = Array.from({ length: 500 }, (_, i) => `a${String(i).padStart(3, "0")}`);
    const results = await Promise.all(
      ids.map((id, i) => store.apply(admit(id)).then((changed) => (answered.push(i), changed))),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(answered).toEqual(ids.map((_, i) => i));
    // The first write goes alone; everything that arrived meanwhile shares the next.
    expect(counts.append).toBeLessThanOrEqual(3);
    expect(agentIds(openEmbeddedRegistry(dir))).toEqual(ids);
  });

  it("answers a no-op queued behind a change only once that change is stored", async () => {
    const dir = tempDir();
    const store = openEmbeddedRegistry(dir);
    const order: string[] = [];
    await Promise.all([
      store.apply(admit("a1")).then(() => order.push("admit")),
      store.apply(admit("a1")).then((changed) => order.push(`again ${changed}`)),
    ]);
    expect(order).toEqual(["admit", "again false"]);
  });

  it("drops a torn last record on opening, and appends cleanly after it", async () => {
    const dir = tempDir();
    const store = openEmbeddedRegistry(dir);
    await store.apply(admit("a1"));
    await store.apply(admit("a2"));
    const log = join(dir, LOG_FILE);
    truncateSync(log, statSync(log).size - 3);
    const reopened = openEmbeddedRegistry(dir);
    expect(agentIds(reopened)).toEqual(["a1"]);
    await reopened.apply(admit("a3"));
    expect(agentIds(openEmbeddedRegistry(dir))).toEqual(["a1", "a3"]);
  });

  it("refuses a log with a bad record in the middle, saying what to do", async () => {
    const dir = tempDir();
    const store = openEmbeddedRegistry(dir);
    await store.apply(admit("a1"));
    await store.apply(admit("a2"));
    const log = join(dir, LOG_FILE);
    const bytes = readFileSync(log);
    bytes[50] = (bytes[50] ?? 0) ^ 0xff;
    writeFileSync(log, bytes);
    expect(() => openEmbeddedRegistry(dir)).toThrow(
      /registry\.log cannot be read \(a record whose checksum.*move the log away/,
    );
  });

  it("opens a work dir written before the log, and carries on from it", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, SNAPSHOT_FILE), toBinary(RegistrySchema, reference(MIXED)));
    const store = openEmbeddedRegistry(dir);
    expect(equals(RegistrySchema, store.current, reference(MIXED))).toBe(true);
    await store.apply({ kind: "start-term" });
    expect(openEmbeddedRegistry(dir).current.terms).toBe(3n);
  });

  it("compacts into a new snapshot without losing or repeating an operation that arrives meanwhile", async () => {
    const dir = tempDir();
    const { files, counts, faults } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files, minCompactEntries: 10 });
    const ops = [...MIXED, ...Array.from({ length: 30 }, (_, i) => admit(`b${i}`)), { kind: "start-term" as const }];
    for (const op of ops.slice(0, 10)) await store.apply(op);
    faults.replaceDelayMs = 20;
    // The 11th passes the bound; the rest arrive while it is written, so the
    // compaction after it covers them, and the one after that goes to the new log.
    expect((await Promise.all(ops.slice(10).map((op) => store.apply(op)))).every(Boolean)).toBe(true);
    expect(await store.apply(admit("late"))).toBe(true);
    expect(counts.replace).toBe(2);
    const expected = reference([...ops, admit("late")]);
    expect(equals(RegistrySchema, store.current, expected)).toBe(true);
    const reopened = openEmbeddedRegistry(dir);
    expect(equals(RegistrySchema, reopened.current, expected)).toBe(true);
    expect(reopened.current.terms).toBe(3n);
    expect(statSync(join(dir, LOG_FILE)).size).toBeLessThan(200);
  });

  it("ignores the old log after a crash between a compaction's snapshot and its new log", async () => {
    const dir = tempDir();
    const { files, faults, replaceFailure } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files, minCompactEntries: 3 });
    faults.failReplace = 1;
    // The fourth passes the bound; the compaction after it fails once the
    // snapshot is replaced, leaving the log of the snapshot before.
    for (const op of MIXED.slice(0, 4)) expect(await store.apply(op)).toBe(true);
    await replaceFailure;
    const atCrash = openEmbeddedRegistry(dir);
    expect(atCrash.current.terms).toBe(1n); // start-term is not replayed on top of the snapshot holding it
    expect(equals(RegistrySchema, atCrash.current, reference(MIXED.slice(0, 4)))).toBe(true);
    // The store itself starts again from what is stored.
    expect(await store.apply(MIXED[4] as RegistryOperation)).toBe(true);
    expect(equals(RegistrySchema, openEmbeddedRegistry(dir).current, reference(MIXED.slice(0, 5)))).toBe(true);
  });

  it("rejects a failed write and everything queued behind it, then starts again from what is stored", async () => {
    const dir = tempDir();
    const { files, faults } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files });
    await store.apply(admit("a1"));
    faults.failAppend = 1;
    faults.partial = 5; // half a record reaches the disk
    const first = store.apply(admit("a2"));
    const behind = store.apply(admit("a3"));
    await expect(first).rejects.toThrow(/injected/);
    await expect(behind).rejects.toThrow(/injected/);
    expect(agentIds(store)).toEqual(["a1"]); // what is stored, not what was lost
    // The next operation is stored on what was stored, not on the lost ones.
    expect(await store.apply(admit("a4"))).toBe(true);
    expect(agentIds(store)).toEqual(["a1", "a4"]);
    expect(agentIds(openEmbeddedRegistry(dir))).toEqual(["a1", "a4"]);
  });

  it("rejects at once while it cannot even reread what is stored", async () => {
    const dir = tempDir();
    const { files, faults } = countedFiles();
    const store = openEmbeddedRegistry(dir, { files });
    faults.failAppend = 1;
    await expect(store.apply(admit("a1"))).rejects.toThrow(/injected/);
    writeFileSync(join(dir, SNAPSHOT_FILE), Buffer.from([0xff, 0xff, 0xff]));
    await expect(store.apply(admit("a2"))).rejects.toThrow(/cannot be read/);
  });
});
