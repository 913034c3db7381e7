import { type Attribute, Value_Type } from "../../../gen/mesos/v1/mesos_pb.js";
import {
  type AttributeConstraint,
  type OfferConstraints,
  AttributeConstraint_Selector_PseudoattributeType as Pseudo,
} from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";

/** What offer constraints can look at on an agent. */
export interface AgentFacts {
  hostname: string;
  attributes: Attribute[];
  region?: string;
  zone?: string;
}

/** Whether a role of a framework may be offered an agent. */
export type AgentPredicate = (agent: AgentFacts) => boolean;

/** A value a predicate tests: text, or "exists but is not text" (SCALAR, RANGES, SET). */
type Selected = { text: string } | { other: true } | undefined;

function select(constraint: AttributeConstraint, agent: AgentFacts): Selected {
  const selector = constraint.selector?.selector;
  if (selector?.case === "attributeName") {
    // The first attribute of that name, as Mesos does.
    const attribute = agent.attributes.find((a) => a.name === selector.value);
    if (attribute === undefined) return undefined;
    return attribute.type === Value_Type.TEXT ? { text: attribute.text?.value ?? "" } : { other: true };
  }
  if (selector?.case === "pseudoattributeType") {
    const value =
      selector.value === Pseudo.HOSTNAME
        ? agent.hostname
        : selector.value === Pseudo.REGION
          ? agent.region
          : agent.zone;
    return value === undefined ? undefined : { text: value };
  }
  return undefined;
}

/** Features of JavaScript regexes that RE2, Mesos' engine, refuses. */
const NON_RE2 = /\\[1-9]|\(\?<?[=!]|\\k</;

function compileRegex(source: string): RegExp | string {
  if (NON_RE2.test(source)) return `regex '${source}' uses backreferences or lookaround, which RE2 does not support`;
  if (source.length > 4096) return "regex is longer than 4096 characters";
  try {
    return new RegExp(`^(?:${source})$`, "u");
  } catch (err) {
    return `invalid regex '${source}': ${(err as Error).message}`;
  }
}

/**
 * One constraint as a predicate. Per Mesos, text predicates match any
 * existing non-TEXT attribute (the scheduler filters those itself); the
 * "not" predicates also match an absent attribute.
 */
function compileOne(constraint: AttributeConstraint): AgentPredicate | string {
  if (constraint.selector?.selector.case === undefined) return "an attribute constraint has no selector";
  const predicate = constraint.predicate?.predicate;
  const textTest =
    (test: (text: string) => boolean, absent: boolean): AgentPredicate =>
    (agent) => {
      const selected = select(constraint, agent);
      if (selected === undefined) return absent;
      return "other" in selected ? true : test(selected.text);
    };
  switch (predicate?.case) {
    case "exists":
      return (agent) => select(constraint, agent) !== undefined;
    case "notExists":
      return (agent) => select(constraint, agent) === undefined;
    case "textEquals":
      return textTest((t) => t === predicate.value.value, false);
    case "textNotEquals":
      return textTest((t) => t !== predicate.value.value, true);
    case "textMatches":
    case "textNotMatches": {
      const regex = compileRegex(predicate.value.regex);
      if (typeof regex === "string") return regex;
      return predicate.case === "textMatches"
        ? textTest((t) => regex.test(t), false)
        : textTest((t) => !regex.test(t), true);
    }
    default:
      return "an attribute constraint has no predicate";
  }
}

/**
 * Compiles a framework's offer constraints: per role, the groups are OR-ed
 * and the constraints within a group AND-ed. Returns an error message for a
 * constraint Mesos would refuse (unknown role, empty group, bad regex).
 */
export function compileOfferConstraints(
  constraints: OfferConstraints | undefined,
  roles: readonly string[],
): Map<string, AgentPredicate> | string {
  const out = new Map<string, AgentPredicate>();
  for (const [role, roleConstraints] of Object.entries(constraints?.roleConstraints ?? {})) {
    if (!roles.includes(role)) return `offer constraints name role '${role}', which the framework does not have`;
    if (roleConstraints.groups.length === 0) return `offer constraints for role '${role}' have no groups`;
    const groups: AgentPredicate[][] = [];
    for (const group of roleConstraints.groups) {
      if (group.attributeConstraints.length === 0) return `an offer constraint group of role '${role}' is empty`;
      const predicates = group.attributeConstraints.map(compileOne);
      const error = predicates.find((p): p is string => typeof p === "string");
      if (error !== undefined) return error;
      groups.push(predicates as AgentPredicate[]);
    }
    out.set(role, (agent) => groups.some((group) => group.every((p) => p(agent))));
  }
  return out;
}
