/**
 * The registry cut into entries: one per agent, framework, role weight and
 * role quota, plus the term count and the maintenance schedule. A backend
 * that stores each entry on its own (etcd, one key each) writes only the
 * entries an operation touched, so a write costs what it changes.
 *
 * An entry's content is a `Registry` holding just that entry (a fragment):
 * one agent in `agents`, `unreachable` or `gone`; one framework; one
 * weight; one quota; `terms`; `maintenance_schedule`. Fragments merged back
 * give the registry, and nothing else is needed to describe an entry.
 *
 * Paths are `agents/<id>`, `frameworks/<id>`, `weights/<role>`,
 * `quotas/<role>`, `terms`, `maintenance`. An agent is in at most one of
 * the three agent lists (the book moves it between them), so one path per
 * agent id holds wherever it is.
 */
import { create } from "@bufbuild/protobuf";
import type { AgentInfo } from "../../../gen/mesos/v1/mesos_pb.js";
import { type Registry, RegistrySchema } from "../../../gen/plateau/registry/v1/registry_pb.js";
import type { RegistryOperation } from "./registry.js";

export type RegistryEntry =
  | { readonly kind: "agent"; readonly id: string }
  | { readonly kind: "framework"; readonly id: string }
  | { readonly kind: "weight"; readonly role: string }
  | { readonly kind: "quota"; readonly role: string }
  | { readonly kind: "terms" }
  | { readonly kind: "maintenance" };

const FOLDERS = { agents: "agent", frameworks: "framework", weights: "weight", quotas: "quota" } as const;

export function entryPath(entry: RegistryEntry): string {
  switch (entry.kind) {
    case "agent":
      return `agents/${entry.id}`;
    case "framework":
      return `frameworks/${entry.id}`;
    case "weight":
      return `weights/${entry.role}`;
    case "quota":
      return `quotas/${entry.role}`;
    case "terms":
      return "terms";
    case "maintenance":
      return "maintenance";
  }
}

/** The entry a path names, or undefined for a path no entry has. */
export function parseEntryPath(path: string): RegistryEntry | undefined {
  if (path === "terms" || path === "maintenance") return { kind: path };
  const slash = path.indexOf("/");
  const rest = path.slice(slash + 1);
  if (slash < 0 || rest === "") return undefined;
  const kind = FOLDERS[path.slice(0, slash) as keyof typeof FOLDERS] as RegistryEntry["kind"] | undefined;
  if (kind === "agent" || kind === "framework") return { kind, id: rest };
  if (kind === "weight" || kind === "quota") return { kind, role: rest };
  return undefined;
}

/**
 * The paths an operation may change, in the order it names them. An
 * operation changes no entry outside this list (the property test in
 * test/unit/registry-entries.test.ts holds the book to that).
 */
export function entriesTouchedBy(operation: RegistryOperation): string[] {
  switch (operation.kind) {
    case "update-weights":
      return operation.weights.map((w) => entryPath({ kind: "weight", role: w.role }));
    case "update-quota":
      return operation.configs.map((c) => entryPath({ kind: "quota", role: c.role }));
    case "admit-agent":
      return [entryPath({ kind: "agent", id: operation.info.id?.value ?? "" })];
    case "mark-agent-unreachable":
    case "mark-agent-gone":
    case "remove-agent":
      return [entryPath({ kind: "agent", id: operation.agentId })];
    case "prune-agents":
      return [...operation.unreachable, ...operation.gone].map((id) => entryPath({ kind: "agent", id }));
    case "add-framework":
      return [entryPath({ kind: "framework", id: operation.info.id?.value ?? "" })];
    case "framework-disconnected":
    case "remove-framework":
      return [entryPath({ kind: "framework", id: operation.frameworkId })];
    case "start-term":
      return ["terms"];
    case "update-maintenance-schedule":
      return ["maintenance"];
  }
}

const idOf = (info: AgentInfo | undefined): string => info?.id?.value ?? "";

/** Every path that holds something in `registry`. */
export function entriesOf(registry: Registry): string[] {
  const paths = [
    ...registry.weights.map((w) => entryPath({ kind: "weight", role: w.role })),
    ...registry.quotas.map((q) => entryPath({ kind: "quota", role: q.role })),
    ...registry.agents.map((a) => entryPath({ kind: "agent", id: idOf(a) })),
    ...registry.unreachable.map((m) => entryPath({ kind: "agent", id: idOf(m.info) })),
    ...registry.gone.map((m) => entryPath({ kind: "agent", id: idOf(m.info) })),
    ...registry.frameworks.map((f) => entryPath({ kind: "framework", id: f.info?.id?.value ?? "" })),
  ];
  if (registry.terms > 0n) paths.push("terms");
  if (registry.maintenanceSchedule !== undefined) paths.push("maintenance");
  return paths;
}

/** Whether `fragment` holds exactly the one entry that `path` names. */
export function fragmentFits(path: string, fragment: Registry): boolean {
  const entry = parseEntryPath(path);
  if (entry === undefined) return false;
  const counts = [
    fragment.weights.length,
    fragment.quotas.length,
    fragment.agents.length + fragment.unreachable.length + fragment.gone.length,
    fragment.frameworks.length,
    fragment.terms > 0n ? 1 : 0,
    fragment.maintenanceSchedule === undefined ? 0 : 1,
  ];
  if (counts.reduce((a, b) => a + b, 0) !== 1) return false;
  switch (entry.kind) {
    case "weight":
      return fragment.weights[0]?.role === entry.role;
    case "quota":
      return fragment.quotas[0]?.role === entry.role;
    case "agent": {
      const info = fragment.agents[0] ?? fragment.unreachable[0]?.info ?? fragment.gone[0]?.info;
      return info !== undefined && idOf(info) === entry.id;
    }
    case "framework":
      return fragment.frameworks[0]?.info?.id?.value === entry.id;
    case "terms":
      return fragment.terms > 0n;
    case "maintenance":
      return fragment.maintenanceSchedule !== undefined;
  }
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The registry the fragments make up, sorted as registry.ts sorts it.
 * Throws, naming the path, on a fragment that does not hold exactly the
 * entry its path names: stored data that would otherwise be half-read.
 */
export function mergeFragments(fragments: Iterable<readonly [string, Registry]>): Registry {
  const merged = create(RegistrySchema);
  for (const [path, fragment] of fragments) {
    if (!fragmentFits(path, fragment)) throw new Error(`${path} does not hold the one registry entry its name says`);
    merged.weights.push(...fragment.weights);
    merged.quotas.push(...fragment.quotas);
    merged.agents.push(...fragment.agents);
    merged.unreachable.push(...fragment.unreachable);
    merged.gone.push(...fragment.gone);
    merged.frameworks.push(...fragment.frameworks);
    if (fragment.terms > 0n) merged.terms = fragment.terms;
    if (fragment.maintenanceSchedule !== undefined) merged.maintenanceSchedule = fragment.maintenanceSchedule;
  }
  merged.weights.sort((a, b) => order(a.role, b.role));
  merged.quotas.sort((a, b) => order(a.role, b.role));
  merged.agents.sort((a, b) => order(idOf(a), idOf(b)));
  merged.unreachable.sort((a, b) => order(idOf(a.info), idOf(b.info)));
  merged.gone.sort((a, b) => order(idOf(a.info), idOf(b.info)));
  merged.frameworks.sort((a, b) => order(a.info?.id?.value ?? "", b.info?.id?.value ?? ""));
  return merged;
}
