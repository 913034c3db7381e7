import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ScheduleSchema } from "../../gen/mesos/v1/maintenance/maintenance_pb.js";
import { AgentInfoSchema, FrameworkInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import { OperationSchema, RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import { decodeRegistryOperation, encodeRegistryOperation } from "../../src/core/registry/operation-codec.js";
import { encodeLogHeader, encodeLogRecord, LOG_HEADER_BYTES, readLog } from "../../src/core/registry/operation-log.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";

/** One of every kind (two for those with optional parts), with times far past 2^53 nanoseconds. */
const EVERY_KIND: RegistryOperation[] = [
  { kind: "update-weights", weights: [create(WeightInfoSchema, { role: "eng", weight: 2.5 })] },
  {
    kind: "update-quota",
    configs: [
      create(QuotaConfigSchema, { role: "eng", guarantees: { cpus: { value: 1 } }, limits: { mem: { value: 64 } } }),
    ],
  },
  {
    kind: "admit-agent",
    info: create(AgentInfoSchema, {
      id: { value: "a1" },
      hostname: "h1",
      port: 5051,
      resources: parseResources("cpus:2;mem:64"),
      attributes: [{ name: "rack", type: 3, text: { value: "r1" } }],
    }),
  },
  { kind: "mark-agent-unreachable", agentId: "a1", time: 1_764_000_000_123 },
  { kind: "mark-agent-gone", agentId: "a1", time: 1_764_000_000_456 },
  { kind: "remove-agent", agentId: "a1" },
  { kind: "prune-agents", unreachable: ["a1", "a2"], gone: ["a3"] },
  {
    kind: "add-framework",
    info: create(FrameworkInfoSchema, {
      id: { value: "f1" },
      name: "fw",
      user: "u",
      roles: ["eng"],
      failoverTimeout: 60,
    }),
  },
  { kind: "framework-disconnected", frameworkId: "f1", time: 1_764_000_000_789 },
  { kind: "framework-disconnected", frameworkId: "f1", time: undefined },
  { kind: "remove-framework", frameworkId: "f1" },
  { kind: "start-term" },
  {
    kind: "update-maintenance-schedule",
    schedule: create(ScheduleSchema, {
      windows: [{ machineIds: [{ hostname: "h1" }], unavailability: { start: { nanoseconds: 1n } } }],
    }),
  },
  { kind: "update-maintenance-schedule", schedule: create(ScheduleSchema) },
];

const throughBytes = (operation: RegistryOperation) =>
  decodeRegistryOperation(fromBinary(OperationSchema, toBinary(OperationSchema, encodeRegistryOperation(operation))));

describe("registry operation codec", () => {
  it("covers every kind the proto's oneof names", () => {
    const kinds = new Set(EVERY_KIND.map((o) => o.kind));
    expect(kinds.size).toBe(OperationSchema.oneofs[0]?.fields.length);
  });

  it.each(EVERY_KIND.map((o, i) => [`${o.kind} #${i}`, o] as const))(
    "round-trips %s through bytes",
    (_name, operation) => {
      expect(throughBytes(operation)).toEqual(operation);
    },
  );

  it("has every operation do to a registry after the round trip what it did before", () => {
    let direct = emptyRegistry();
    let decoded = emptyRegistry();
    for (const operation of EVERY_KIND) {
      const again = throughBytes(operation);
      if ("error" in again) throw new Error(again.error);
      const a = applyRegistryOperation(direct, operation);
      const b = applyRegistryOperation(decoded, again);
      expect(b.changed).toBe(a.changed);
      direct = a.registry;
      decoded = b.registry;
      expect(equals(RegistrySchema, decoded, direct)).toBe(true);
    }
  });

  it("names what an operation of no known kind lacks", () => {
    expect(decodeRegistryOperation(create(OperationSchema))).toEqual({ error: expect.stringMatching(/no kind/) });
    expect(decodeRegistryOperation(create(OperationSchema, { operation: { case: "admitAgent", value: {} } }))).toEqual({
      error: "admit_agent without info",
    });
  });
});

describe("registry log bytes", () => {
  const digest = new Uint8Array(32).fill(7);
  const log = (...parts: Uint8Array[]) => Buffer.concat([encodeLogHeader(digest), ...parts]);
  const records = EVERY_KIND.map(encodeLogRecord);

  it("reads back every record after the header", () => {
    const contents = readLog(log(...records), digest);
    expect(contents).toEqual({ kind: "records", operations: EVERY_KIND, end: log(...records).length });
  });

  it("drops a torn last record, short or garbled, and says where the good ones end", () => {
    const whole = log(...records);
    const last = records.at(-1)?.length ?? 0;
    for (const torn of [whole.subarray(0, whole.length - 1), whole.subarray(0, whole.length - last + 3)]) {
      expect(readLog(torn, digest)).toMatchObject({ kind: "records", end: whole.length - last });
    }
    const garbled = Buffer.from(whole);
    garbled[garbled.length - 1] ^= 0xff;
    expect(readLog(garbled, digest)).toMatchObject({ kind: "records", end: whole.length - last });
    const zeros = Buffer.concat([whole, Buffer.alloc(4096)]);
    expect(readLog(zeros, digest)).toMatchObject({ kind: "records", operations: EVERY_KIND, end: whole.length });
  });

  it("refuses a bad record with good ones after it", () => {
    const whole = log(...records);
    whole[LOG_HEADER_BYTES + 9] ^= 0xff;
    expect(readLog(whole, digest)).toMatchObject({ kind: "corrupt", reason: /checksum.*at byte 40/ });
  });

  it("calls a log of another snapshot, or with half a header, stale", () => {
    expect(readLog(log(...records), new Uint8Array(32))).toEqual({ kind: "stale" });
    expect(readLog(log().subarray(0, 10), digest)).toEqual({ kind: "stale" });
    expect(readLog(Buffer.from("not a log at all, not a log at all, not a log"), digest)).toMatchObject({
      kind: "corrupt",
    });
  });
});
