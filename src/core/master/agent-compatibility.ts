/**
 * Whether an agent that registers again under its id may offer something
 * else than the master knows it for: Mesos' agent --reconfiguration_policy
 * (1.5), checked by the master against the AgentInfo it holds (the
 * registry's after a master restart).
 *
 *   equal      nothing it offers may change
 *   additive   resources and attributes may be added (a domain too, where
 *              there was none); scalar resources may grow, ranges and sets
 *              may gain values, range and set attributes likewise. Nothing
 *              may be removed, shrunk or changed, nor the hostname.
 *
 * The port is left out on purpose: it is where the agent serves, not what
 * it offers, and `--port 0` picks another one at every start.
 */
import { equals } from "@bufbuild/protobuf";
import {
  type AgentInfo,
  type Attribute,
  DomainInfoSchema,
  type Resource,
  Value_Type,
} from "../../../gen/mesos/v1/mesos_pb.js";
import { AgentCall_ReconfigurationPolicy as Policy } from "../../../gen/mesos/v2/mesos_pb.js";
import {
  addResources,
  containsRanges,
  containsResources,
  formatAttributes,
  formatResources,
  kindKey,
} from "../resources/index.js";

/** One difference between two registrations; `additive` when the additive policy allows it. */
export interface AgentInfoChange {
  what: string;
  additive: boolean;
}

/** Every difference in what the agent offers, previous to current (the port aside). */
export function agentInfoChanges(previous: AgentInfo, current: AgentInfo): AgentInfoChange[] {
  const changes: AgentInfoChange[] = [];
  if (previous.hostname !== current.hostname)
    changes.push({ what: `hostname changed from ${previous.hostname} to ${current.hostname}`, additive: false });
  if (!sameDomain(previous, current)) {
    const added = previous.domain === undefined;
    changes.push({ what: added ? "a fault domain was added" : "the fault domain changed", additive: added });
  }
  return [
    ...changes,
    ...resourceChanges(previous.resources, current.resources),
    ...attributeChanges(previous, current),
  ];
}

/**
 * The master's answer to a registration under a known id: undefined when
 * `policy` allows every change, else a message naming what changed that it
 * does not allow.
 */
export function reconfigurationRefusal(
  agentId: string,
  policy: Policy,
  previous: AgentInfo,
  current: AgentInfo,
): string | undefined {
  if (offersTheSame(previous, current)) return undefined;
  const additive = policy === Policy.ADDITIVE;
  const refused = agentInfoChanges(previous, current).filter((c) => !(additive && c.additive));
  if (refused.length === 0) return undefined;
  const name = additive ? "additive" : "equal";
  // Naming the additive policy helps only where it would allow every change.
  const remedy =
    !additive && refused.every((c) => c.additive)
      ? "start it with its earlier --resources and --attributes, or with --reconfiguration-policy=additive"
      : `start it with its earlier --resources and --attributes${additive ? " (or more)" : ""}`;
  return (
    `Agent ${agentId} offers other than when it registered before, which its reconfiguration policy '${name}' ` +
    `does not allow: ${refused.map((c) => c.what).join("; ")}. To keep its id, ${remedy}; ` +
    "to join as a new agent, start it with an empty work dir"
  );
}

/** Whether `current` is `previous` again, port included (what the registry holds of an agent), judged cheaply. */
export function sameAgentInfo(previous: AgentInfo, current: AgentInfo): boolean {
  return previous.port === current.port && offersTheSame(previous, current);
}

/**
 * The common case, cheaply: a fleet re-registering with a new leader offers
 * exactly what it did, in the same order, and comparing kind by kind cost
 * more than the rest of a re-registration. Anything unusual (reservations,
 * disks, a domain, another order) is left to the full comparison.
 */
function offersTheSame(previous: AgentInfo, current: AgentInfo): boolean {
  return (
    previous.hostname === current.hostname &&
    previous.domain === undefined &&
    current.domain === undefined &&
    sameList(previous.resources, current.resources, samePlainResource) &&
    sameList(previous.attributes, current.attributes, sameAttribute)
  );
}

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i] as T, b[i] as T)) return false;
  return true;
}

const isPlain = (r: Resource): boolean =>
  r.providerId === undefined &&
  r.allocationInfo === undefined &&
  r.reservation === undefined &&
  r.reservations.length === 0 &&
  r.disk === undefined &&
  r.revocable === undefined &&
  r.shared === undefined;

function samePlainResource(a: Resource, b: Resource): boolean {
  return isPlain(a) && isPlain(b) && a.name === b.name && a.role === b.role && sameValue(a, b);
}

function sameAttribute(a: Attribute, b: Attribute): boolean {
  return a.name === b.name && a.text?.value === b.text?.value && sameValue(a, b);
}

type Valued = Pick<Resource, "type" | "scalar" | "ranges" | "set">;

function sameValue(a: Valued, b: Valued): boolean {
  return (
    a.type === b.type &&
    a.scalar?.value === b.scalar?.value &&
    sameList(a.ranges?.range ?? [], b.ranges?.range ?? [], (x, y) => x.begin === y.begin && x.end === y.end) &&
    (a.ranges === undefined) === (b.ranges === undefined) &&
    sameList(a.set?.item ?? [], b.set?.item ?? [], (x, y) => x === y) &&
    (a.set === undefined) === (b.set === undefined)
  );
}

function sameDomain(previous: AgentInfo, current: AgentInfo): boolean {
  if (previous.domain === undefined || current.domain === undefined) return previous.domain === current.domain;
  return equals(DomainInfoSchema, previous.domain, current.domain);
}

/** Resources are compared kind by kind (name, type, reservations, disk...), as Mesos matches them. */
function resourceChanges(previous: Resource[], current: Resource[]): AgentInfoChange[] {
  const before = new Map(addResources([], previous).map((r) => [kindKey(r), r]));
  const after = new Map(addResources([], current).map((r) => [kindKey(r), r]));
  const changes: AgentInfoChange[] = [];
  for (const [key, old] of before) {
    const now = after.get(key);
    if (now === undefined) {
      changes.push({ what: `resource ${formatResources([old])} was removed`, additive: false });
    } else {
      const grew = containsResources([now], [old]);
      if (grew && containsResources([old], [now])) continue;
      const verb = grew ? "grew" : old.type === Value_Type.SCALAR ? "shrank" : "changed";
      changes.push({
        what: `resource ${old.name} ${verb} from ${formatResources([old])} to ${formatResources([now])}`,
        additive: grew,
      });
    }
  }
  for (const [key, added] of after)
    if (!before.has(key)) changes.push({ what: `resource ${formatResources([added])} was added`, additive: true });
  return changes;
}

/** Attributes are matched by name, as Mesos does. */
function attributeChanges(previous: AgentInfo, current: AgentInfo): AgentInfoChange[] {
  const changes: AgentInfoChange[] = [];
  for (const old of previous.attributes) {
    const now = current.attributes.find((a) => a.name === old.name);
    if (now === undefined) {
      changes.push({ what: `attribute ${formatAttributes([old])} was removed`, additive: false });
      continue;
    }
    const comparison = compareAttribute(old, now);
    if (comparison === "same") continue;
    changes.push({
      what: `attribute ${old.name} ${comparison} from ${formatAttributes([old])} to ${formatAttributes([now])}`,
      additive: comparison === "grew",
    });
  }
  for (const added of current.attributes)
    if (!previous.attributes.some((a) => a.name === added.name))
      changes.push({ what: `attribute ${formatAttributes([added])} was added`, additive: true });
  return changes;
}

function compareAttribute(old: Attribute, now: Attribute): "same" | "grew" | "changed" {
  if (old.type !== now.type) return "changed";
  switch (old.type) {
    case Value_Type.SCALAR:
      return old.scalar?.value === now.scalar?.value ? "same" : "changed";
    case Value_Type.TEXT:
      return old.text?.value === now.text?.value ? "same" : "changed";
    case Value_Type.RANGES: {
      const [o, n] = [old.ranges?.range ?? [], now.ranges?.range ?? []];
      if (containsRanges(o, n) && containsRanges(n, o)) return "same";
      return containsRanges(n, o) ? "grew" : "changed";
    }
    case Value_Type.SET: {
      const [o, n] = [new Set(old.set?.item ?? []), new Set(now.set?.item ?? [])];
      if (o.size === n.size && [...o].every((i) => n.has(i))) return "same";
      return [...o].every((i) => n.has(i)) ? "grew" : "changed";
    }
    default:
      return "same";
  }
}
