/**
 * Packs as many identical tasks as fit into one offer. Each task's resources
 * are copies of the offer's own resource entries (role, reservations and
 * allocation info intact) with the amount taken, so the master's validation
 * sees exactly what it offered.
 */
import { clone, create } from "@bufbuild/protobuf";
import { type Offer, type Resource, ResourceSchema, type TaskInfo, TaskInfoSchema } from "../gen/mesos/v1/mesos_pb.js";

/** Scalar needs of one task by resource name (cpus, mem, disk). */
export type Needs = Record<string, number>;

/** What each task runs: `argv[0]` is the program, run without a shell. */
export interface TaskTemplate {
  namePrefix: string;
  argv: string[];
  needs: Needs;
}

const EPSILON = 1e-9;
/** Mesos keeps scalars to three decimals. */
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

interface Slot {
  resource: Resource;
  left: number;
}

function slotsOf(offer: Offer, needs: Needs): Map<string, Slot[]> {
  const slots = new Map<string, Slot[]>();
  for (const name of Object.keys(needs)) slots.set(name, []);
  for (const resource of offer.resources) {
    const list = slots.get(resource.name);
    if (list !== undefined && resource.scalar !== undefined) list.push({ resource, left: resource.scalar.value });
  }
  return slots;
}

function fits(slots: Map<string, Slot[]>, needs: Needs): boolean {
  return Object.entries(needs).every(([name, amount]) => {
    const total = (slots.get(name) ?? []).reduce((sum, s) => sum + s.left, 0);
    return total + EPSILON >= amount;
  });
}

function take(slots: Map<string, Slot[]>, needs: Needs): Resource[] {
  const taken: Resource[] = [];
  for (const [name, amount] of Object.entries(needs)) {
    let remaining = amount;
    for (const slot of slots.get(name) ?? []) {
      if (remaining <= EPSILON) break;
      const part = round3(Math.min(remaining, slot.left));
      if (part <= 0) continue;
      const copy = clone(ResourceSchema, slot.resource);
      copy.scalar = create(ResourceSchema, { scalar: { value: part } }).scalar;
      taken.push(copy);
      slot.left = round3(slot.left - part);
      remaining = round3(remaining - part);
    }
  }
  return taken;
}

/**
 * Takes task ids from the front of `pending` while they fit into `offer`,
 * and returns their TaskInfos (the ids are removed from `pending`).
 */
export function packTasks(offer: Offer, pending: string[], template: TaskTemplate): TaskInfo[] {
  const slots = slotsOf(offer, template.needs);
  const tasks: TaskInfo[] = [];
  while (pending.length > 0 && fits(slots, template.needs)) {
    const taskId = pending.shift() as string;
    tasks.push(
      create(TaskInfoSchema, {
        name: `${template.namePrefix}-${taskId}`,
        taskId: { value: taskId },
        agentId: offer.agentId,
        resources: take(slots, template.needs),
        command: { shell: false, value: template.argv[0] ?? "", arguments: template.argv },
      }),
    );
  }
  return tasks;
}
