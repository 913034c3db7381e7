/**
 * One master's term as leader, on simulated time: the real master core
 * and allocator, driven the way src/master/term.ts and src/master/leading.ts
 * drive them (same order of writes and sends, same timers), but
 * synchronously on the event queue so a seed replays exactly.
 *
 *   handler ──effects──► queued behind registry writes in flight
 *                          │ each persist handed to the registry at once, stored in order;
 *                          │ a failed write ends the term: nothing behind it goes out
 *                          ▼
 *                        sends (agent events stamped with the epoch) and ends
 *                          ▼
 *                        one pass over changed agents if a handler asked, on a later event
 */
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { ConnectRequest } from "../../gen/mesos/v2/mesos_pb.js";
import type { Allocator } from "../core/allocator/index.js";
import { createAllocator } from "../core/allocator/index.js";
import { createCounterIds } from "../core/clock.js";
import { createMasterCore, type Effect, type MasterCore } from "../core/master/master-core.js";
import type { EventQueue } from "./event-queue.js";
import type { Connection, MasterEnd } from "./network.js";
import type { SimRegistry, WriteFailure } from "./registry.js";

/** The master's flags in the simulation: Mesos' meanings, shorter times so a run sees many of them expire. */
export const SIM_MASTER = {
  heartbeatIntervalSeconds: 5,
  agentPingTimeoutSeconds: 2,
  maxAgentPingTimeouts: 3,
  agentReregisterTimeoutSeconds: 20,
  offerTimeoutSeconds: 10,
  allocationIntervalSeconds: 1,
} as const;

export interface MasterNode extends MasterEnd {
  readonly name: string;
  readonly epoch: bigint;
  readonly core: MasterCore;
  readonly allocator: Allocator;
  /** True until the term ends (deposed and told, a failed write, a crash). */
  readonly serving: boolean;
  /** Core handlers run so far: the core's state changes only when this grows. */
  readonly handled: number;
  /** A client's stream reached this master. */
  accept(conn: Connection): void;
  /** The term ends: every stream is ended (`flush`: as a stepping-down master ends them; else a crash). */
  stop(why: string, flush: boolean): void;
}

export interface MasterNodeDeps {
  name: string;
  queue: EventQueue;
  registry: SimRegistry;
  /** A handler threw, or the runner saw something that must never happen. */
  bug(message: string): void;
  /** Told when the term ends by itself (a registry write failed). */
  onStopped(node: MasterNode, why: string): void;
}

interface Batch {
  effects: Effect[];
  /** Writes not yet stored. */
  waiting: number;
}

export function createMasterNode(deps: MasterNodeDeps): MasterNode {
  const { queue, registry } = deps;
  const epoch = registry.elect();
  const info: MasterInfo = {
    $typeName: "mesos.v1.MasterInfo",
    id: `${deps.name}-e${epoch}`,
    ip: 0,
    port: 5050,
    pid: "",
    hostname: deps.name,
    version: "sim",
    capabilities: [],
  };
  const allocator = createAllocator({});
  const core = createMasterCore({
    allocator,
    ids: createCounterIds(`e${epoch}`),
    now: queue.now,
    registry: registry.current,
    options: {
      info,
      heartbeatIntervalSeconds: SIM_MASTER.heartbeatIntervalSeconds,
      agentReregisterTimeoutSeconds: SIM_MASTER.agentReregisterTimeoutSeconds,
      agentPingTimeoutSeconds: SIM_MASTER.agentPingTimeoutSeconds,
      maxAgentPingTimeouts: SIM_MASTER.maxAgentPingTimeouts,
      offerTimeoutSeconds: SIM_MASTER.offerTimeoutSeconds,
      flags: {},
      version: "sim",
    },
  });
  const sessions = new Map<string, Connection>();
  const batches: Batch[] = [];
  let serving = true;
  let allocationDue = false;
  let handled = 0;

  const deliver = (effects: Effect[]): void => {
    for (const effect of effects) {
      if (effect.kind === "persist") continue;
      const conn = sessions.get(effect.session);
      if (effect.kind === "send") {
        if (effect.response.event.case === "agent") effect.response.event.value.leaderEpoch = epoch;
        conn?.toClient(effect.response);
      } else {
        // The core already decided what ending it means: its closing is no disconnect.
        sessions.delete(effect.session);
        conn?.close("master", true);
      }
    }
    allocateSoon();
  };

  /** Delivers the batches at the head whose writes are all stored. */
  const pump = (): void => {
    while (serving && batches[0] !== undefined && batches[0].waiting === 0) {
      deliver((batches.shift() as Batch).effects);
    }
  };

  const run = (effects: Effect[]): void => {
    if (!serving) return;
    const writes = effects.filter((e) => e.kind === "persist");
    if (batches.length === 0 && writes.length === 0) return deliver(effects);
    const batch: Batch = { effects, waiting: writes.length };
    batches.push(batch);
    for (const write of writes) {
      registry.write(epoch, write.operation, (failure?: WriteFailure) => {
        if (!serving) return;
        if (failure !== undefined) return endTerm(`a registry write (${write.operation.kind}) ${failure}`);
        batch.waiting--;
        pump();
      });
    }
  };

  /** Runs a core handler; an exception in the core is a bug the run reports. */
  const handle = (what: string, handler: () => Effect[]): void => {
    if (!serving) return;
    handled++;
    let effects: Effect[];
    try {
      effects = handler();
    } catch (err) {
      deps.bug(`the master core threw on ${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return;
    }
    run(effects);
  };

  const allocateSoon = (): void => {
    if (!serving || allocationDue || !core.allocationRequested) return;
    allocationDue = true;
    queue.after(0, `${deps.name} allocate changed`, () => {
      allocationDue = false;
      handle("allocateChanged", () => core.allocateChanged(queue.now));
    });
  };

  const every = (seconds: number, what: string, handler: () => Effect[]): void => {
    const tick = (): void => {
      if (!serving) return;
      handle(what, handler);
      queue.after(seconds * 1000, `${deps.name} ${what}`, tick);
    };
    queue.after(seconds * 1000, `${deps.name} ${what}`, tick);
  };

  const stop = (why: string, flush: boolean): void => {
    if (!serving) return;
    serving = false;
    batches.length = 0;
    for (const conn of sessions.values()) conn.close("master", flush);
    sessions.clear();
    void why;
  };

  const endTerm = (why: string): void => {
    stop(why, true);
    deps.onStopped(node, why);
  };

  const node: MasterNode = {
    name: deps.name,
    epoch,
    core,
    allocator,
    get serving() {
      return serving;
    },
    get handled() {
      return handled;
    },
    accept(conn) {
      if (serving) sessions.set(conn.session, conn);
      else conn.close("master", false);
    },
    onRequest(session: string, request: ConnectRequest) {
      if (!sessions.has(session)) return;
      handle(`request ${request.call.case ?? "none"}`, () => core.request(session, request, queue.now));
    },
    onClosed(session: string) {
      if (!sessions.delete(session)) return;
      handle("sessionClosed", () => core.sessionClosed(session, queue.now));
    },
    stop,
  };
  every(SIM_MASTER.allocationIntervalSeconds, "allocate", () => core.allocate(queue.now));
  every(SIM_MASTER.heartbeatIntervalSeconds, "heartbeat", () => core.heartbeat(queue.now));
  every(SIM_MASTER.agentPingTimeoutSeconds, "ping agents", () => core.pingAgents(queue.now));
  every(1, "expire", () => core.expire(queue.now));
  return node;
}
