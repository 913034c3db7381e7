/**
 * The registry's named operations: each says what it changes and whether it
 * changed anything, so a backend can skip a write that would change nothing
 * and apply the rest with compare-and-set. Pure: registries are values.
 */
import { clone, create, equals } from "@bufbuild/protobuf";
import { QuotaConfigSchema, type QuotaConfig } from "../../../gen/mesos/v1/quota/quota_pb.js";
import { WeightInfoSchema, type WeightInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { RegistrySchema, type Registry } from "../../../gen/plateau/registry/v1/registry_pb.js";

export type { Registry };

export type RegistryOperation =
  /** UPDATE_WEIGHTS: sets each named role's weight. */
  | { kind: "update-weights"; weights: WeightInfo[] }
  /** UPDATE_QUOTA: replaces each named role's quota; a config with no guarantees and no limits removes it. */
  | { kind: "update-quota"; configs: QuotaConfig[] };

/** An empty registry: what a master starts from the first time. */
export function emptyRegistry(): Registry {
  return create(RegistrySchema);
}

const byRole = <T extends { role: string }>(a: T, b: T): number => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0);

function isEmptyQuota(config: QuotaConfig): boolean {
  return Object.keys(config.guarantees).length === 0 && Object.keys(config.limits).length === 0;
}

/** The registry after `operation`, and whether that differs from `registry` (which is left as it was). */
export function applyRegistryOperation(registry: Registry, operation: RegistryOperation): { registry: Registry; changed: boolean } {
  const next = clone(RegistrySchema, registry);
  switch (operation.kind) {
    case "update-weights": {
      const weights = new Map(next.weights.map((w) => [w.role, w]));
      for (const w of operation.weights) weights.set(w.role, create(WeightInfoSchema, { role: w.role, weight: w.weight }));
      next.weights = [...weights.values()].sort(byRole);
      break;
    }
    case "update-quota": {
      const quotas = new Map(next.quotas.map((q) => [q.role, q]));
      for (const config of operation.configs) {
        if (isEmptyQuota(config)) quotas.delete(config.role);
        else quotas.set(config.role, clone(QuotaConfigSchema, config));
      }
      next.quotas = [...quotas.values()].sort(byRole);
      break;
    }
  }
  return { registry: next, changed: !equals(RegistrySchema, registry, next) };
}
