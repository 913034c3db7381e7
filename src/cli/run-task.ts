/**
 * Pure pieces of `plateau run`: what the task needs, whether an offer fits,
 * and the TaskInfo built from the offer's own resources (so reservations and
 * allocation info carry over exactly as offered).
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  type CommandInfo,
  CommandInfoSchema,
  Environment_Variable_Type,
  type Offer,
  type Resource,
  ResourceSchema,
  type TaskInfo,
  TaskInfoSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { UsageError } from "./flags.js";

/** What `plateau run` was asked to run. */
export interface RunSpec {
  name: string;
  /** Scalar needs by resource name: cpus, mem, disk. */
  needs: Record<string, number>;
  env: Record<string, string>;
  /** `--shell 'cmd'` or `-- argv...`. */
  command: { shell: string } | { argv: string[] };
}

/** Parses repeated `--env K=V` values. */
export function parseEnv(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env expects NAME=VALUE, got "${value}"`);
    env[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return env;
}

/** The CommandInfo for the command executor. */
export function commandInfo(spec: RunSpec): CommandInfo {
  const environment = {
    variables: Object.entries(spec.env).map(([name, value]) => ({
      name,
      value,
      type: Environment_Variable_Type.VALUE,
    })),
  };
  if ("shell" in spec.command) {
    return create(CommandInfoSchema, { shell: true, value: spec.command.shell, environment });
  }
  const argv = spec.command.argv;
  return create(CommandInfoSchema, { shell: false, value: argv[0] ?? "", arguments: argv, environment });
}

function scalarTotal(resources: Resource[], name: string): number {
  return resources.reduce((sum, r) => (r.name === name ? sum + (r.scalar?.value ?? 0) : sum), 0);
}

/** True when the offer holds at least what the task needs of each scalar. */
export function offerFits(offer: Offer, needs: Record<string, number>): boolean {
  // A small epsilon: Mesos keeps scalars to three decimals.
  return Object.entries(needs).every(([name, amount]) => scalarTotal(offer.resources, name) + 1e-9 >= amount);
}

/**
 * Takes `needs` out of the offer's resources, copying each resource it draws
 * from (role, reservation, allocation info intact) with the amount taken.
 */
export function takeResources(offer: Offer, needs: Record<string, number>): Resource[] {
  const taken: Resource[] = [];
  for (const [name, amount] of Object.entries(needs)) {
    let remaining = amount;
    for (const r of offer.resources) {
      if (remaining <= 1e-9) break;
      if (r.name !== name || r.scalar === undefined) continue;
      const part = Math.min(remaining, r.scalar.value);
      if (part <= 0) continue;
      const copy = clone(ResourceSchema, r);
      copy.scalar = create(ResourceSchema, { scalar: { value: Math.round(part * 1000) / 1000 } }).scalar;
      taken.push(copy);
      remaining -= part;
    }
  }
  return taken;
}

/** The one task `plateau run` launches on `offer`. */
export function buildTask(offer: Offer, spec: RunSpec, taskId: string): TaskInfo {
  return create(TaskInfoSchema, {
    name: spec.name,
    taskId: { value: taskId },
    agentId: offer.agentId,
    resources: takeResources(offer, spec.needs),
    command: commandInfo(spec),
  });
}
