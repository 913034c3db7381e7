import { validateRole } from "../resources/index.js";

/**
 * Reads Mesos' `--weights` form, `role1=2,role2=0.5`. Throws an Error naming
 * the bad entry: a role name Mesos would refuse, or a weight that is not a
 * positive finite number.
 */
export function parseWeights(text: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "")) {
    const eq = entry.lastIndexOf("=");
    const role = entry.slice(0, eq).trim();
    const weight = Number(entry.slice(eq + 1));
    if (eq <= 0) throw new Error(`weight '${entry}' is not ROLE=WEIGHT`);
    const problem = validateWeight(role, weight);
    if (problem !== undefined) throw new Error(problem);
    weights.set(role, weight);
  }
  return weights;
}

/** Why `weight` cannot be given to `role`, or undefined. */
export function validateWeight(role: string, weight: number): string | undefined {
  const roleProblem = role === "*" ? undefined : validateRole(role);
  if (roleProblem !== undefined) return `invalid role '${role}': ${roleProblem}`;
  if (!Number.isFinite(weight) || weight <= 0)
    return `weight of role '${role}' must be a positive number, not ${weight}`;
  return undefined;
}

/**
 * Reads Mesos' `--min_allocatable_resources` form: alternatives separated by
 * `|`, each a set of quantities `name:amount;name:amount`, e.g.
 * `cpus:0.01|mem:32`. An agent's share is offered when it reaches at least
 * one alternative in full.
 */
export function parseMinAllocatable(text: string): Array<Map<string, number>> {
  const alternatives = text.split("|").map((alt) => {
    const quantities = new Map<string, number>();
    for (const part of alt
      .split(";")
      .map((p) => p.trim())
      .filter((p) => p !== "")) {
      const colon = part.indexOf(":");
      const name = part.slice(0, colon).trim();
      const amount = Number(part.slice(colon + 1));
      if (colon <= 0 || name === "") throw new Error(`minimum '${part}' is not NAME:AMOUNT`);
      if (!Number.isFinite(amount) || amount < 0) throw new Error(`minimum of '${name}' must be a non-negative number`);
      quantities.set(name, amount);
    }
    if (quantities.size === 0) throw new Error(`empty alternative in '${text}'`);
    return quantities;
  });
  return alternatives;
}
