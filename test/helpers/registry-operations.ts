/** Random registry operations over a few ids and roles, so that sequences collide (for property tests). */
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { ScheduleSchema } from "../../gen/mesos/v1/maintenance/maintenance_pb.js";
import { AgentInfoSchema, FrameworkInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { QuotaConfigSchema } from "../../gen/mesos/v1/quota/quota_pb.js";
import type { RegistryOperation } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";

const ids = fc.constantFrom("a1", "a2", "a10", "");
const frameworkIds = fc.constantFrom("f1", "f2", "f10", "");
const roles = fc.constantFrom("eng", "ops", "eng/web");
const times = fc.constantFrom(1_000, 2_000);

export const registryOperation: fc.Arbitrary<RegistryOperation> = fc.oneof(
  fc.record({
    kind: fc.constant("admit-agent" as const),
    info: fc
      .tuple(ids, fc.constantFrom("cpus:1", "cpus:2;mem:64"), fc.constantFrom("h1", "h2"))
      .map(([id, resources, hostname]) =>
        create(AgentInfoSchema, {
          id: id === "" ? undefined : { value: id },
          hostname,
          resources: parseResources(resources),
        }),
      ),
  }),
  fc.record({ kind: fc.constant("mark-agent-unreachable" as const), agentId: ids, time: times }),
  fc.record({ kind: fc.constant("mark-agent-gone" as const), agentId: ids, time: times }),
  fc.record({ kind: fc.constant("remove-agent" as const), agentId: ids }),
  fc.record({
    kind: fc.constant("prune-agents" as const),
    unreachable: fc.uniqueArray(ids, { maxLength: 2 }),
    gone: fc.uniqueArray(ids, { maxLength: 2 }),
  }),
  fc.record({
    kind: fc.constant("add-framework" as const),
    info: fc
      .tuple(frameworkIds, fc.constantFrom("one", "two"))
      .map(([id, name]) => create(FrameworkInfoSchema, { id: id === "" ? undefined : { value: id }, name, user: "u" })),
  }),
  fc.record({
    kind: fc.constant("framework-disconnected" as const),
    frameworkId: frameworkIds,
    time: fc.option(times, { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("remove-framework" as const), frameworkId: frameworkIds }),
  fc.record({
    kind: fc.constant("update-weights" as const),
    weights: fc.array(
      fc.tuple(roles, fc.constantFrom(1, 2.5)).map(([role, weight]) => create(WeightInfoSchema, { role, weight })),
      { maxLength: 2 },
    ),
  }),
  fc.record({
    kind: fc.constant("update-quota" as const),
    configs: fc.array(
      fc
        .tuple(roles, fc.boolean())
        .map(([role, empty]) => create(QuotaConfigSchema, { role, guarantees: empty ? {} : { cpus: { value: 1 } } })),
      { maxLength: 2 },
    ),
  }),
  fc.constant({ kind: "start-term" as const }),
  fc.constantFrom(0, 1).map((n) => ({
    kind: "update-maintenance-schedule" as const,
    schedule: create(ScheduleSchema, {
      windows: n === 0 ? [] : [{ machineIds: [{ hostname: "h1" }], unavailability: { start: { nanoseconds: 1n } } }],
    }),
  })),
);
