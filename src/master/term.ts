/**
 * One leadership term's effect runner: the only place where the master
 * core's effects are carried out.
 *
 *   handler (a call, a stream's end, a timer)
 *        │ effects, in the order the core produced them
 *        ▼
 *   queued behind the registry writes still in flight
 *        │ each `persist` handed to the store at once, stored in order (so
 *        │ writes that arrive together share one commit); a failure ends the
 *        │ term: nothing queued behind it is sent. Writes already handed over
 *        │ may still be stored: each is applied to the registry as stored, so
 *        │ it stands on its own
 *        ▼
 *   sends and ends handed to the sessions (agent events stamped with the
 *   term's epoch) ──► the caller's promise resolves with the refusals that
 *        │            carry its call id
 *        ▼
 *   allocation flag read: one pass over the agents that changed, on a later
 *   turn, shared by every batch that asked in the meantime
 *
 * Why a promise per call: whoever answers a caller (the v1 gateway's 202 or
 * 4xx, the Operate RPC) must see exactly that call's outcome, even when its
 * effects wait behind an agent's admission being written. Stream clients
 * get the same refusals as Error events echoing their call id.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Call as OperatorCall, Response } from "../../gen/mesos/v1/master/master_pb.js";
import type { ConnectRequest } from "../../gen/mesos/v2/mesos_pb.js";
import { type CallError, ErrorCode, errorEvent } from "../core/master/events.js";
import type { Effect, MasterCore } from "../core/master/master-core.js";
import type { SessionId } from "../core/master/state.js";
import type { Logger } from "../log.js";
import type { TimerHandle, Timers } from "../util/timers.js";
import type { RegistryStore } from "./registry.js";

export interface TermRunnerOptions {
  core: MasterCore;
  registry: RegistryStore;
  /** Stamped on every agent event: agents drop orders from an older epoch than one they have seen. */
  epoch: bigint;
  /** Carries out sends and ends (the session table). */
  deliver(effects: Effect[]): void;
  timers: Timers;
  /** Called once, with the first registry write that failed: the term is over. */
  onFailure(error: unknown): void;
  logger: Logger;
}

export interface TermRunner {
  /**
   * One call on a session. Resolves once its effects are stored and sent,
   * with the refusals the core reported for it (empty: accepted). Rejects
   * with UNAVAILABLE when the term ends first.
   */
  call(session: SessionId, request: ConnectRequest): Promise<CallError[]>;
  /** One call from a stream, whose client learns the outcome from the stream itself. */
  dispatch(session: SessionId, request: ConnectRequest): void;
  /**
   * A session's client went away. Settles once the effects it caused are
   * delivered, which come after those of the session's earlier calls
   * (undefined: delivered at once).
   */
  sessionClosed(session: SessionId): Promise<void> | undefined;
  /** A one-shot operator call (Operate RPC, v1 /api/v1): its answer once the registry holds the change. */
  operate(call: OperatorCall): Promise<Response | CallError>;
  /** Runs a core handler (a timer's) and carries out its effects. */
  tick(handler: (core: MasterCore, now: number) => Effect[]): void;
  /**
   * Ends the term at once: nothing more is written or sent, and every call
   * still waiting is refused. A registry write in flight is not awaited:
   * fencing makes it harmless if it lands late, and etcd calls have a deadline.
   */
  stop(): void;
}

/**
 * Why a call got no outcome: the term ended (lost, resigned, or a registry
 * write failed) before its effects were carried out. Clients retry with
 * the leader, so it is UNAVAILABLE on both APIs (v1: 503). A plain
 * ConnectError, not a subclass: Connect recognises its errors by name.
 */
const noLongerLeads = (): ConnectError => new ConnectError("This master no longer leads", Code.Unavailable);
const cannotStore = (error: unknown): ConnectError =>
  new ConnectError(
    `This master could not store the change and no longer leads: ${error instanceof Error ? error.message : String(error)}`,
    Code.Unavailable,
    undefined,
    undefined,
    error,
  );

/** The refusals among `effects` that answer the call `callId` of `session`. */
function refusalsOf(effects: Effect[], session: SessionId, callId: string): CallError[] {
  const refusals: CallError[] = [];
  if (callId === "") return refusals;
  for (const effect of effects) {
    if (effect.kind !== "send" || effect.session !== session || effect.response.callId !== callId) continue;
    if (effect.response.event.case !== "error") continue;
    const { code, message, fatal } = effect.response.event.value;
    refusals.push({ code, message, fatal });
  }
  return refusals;
}

function hasWrite(effects: Effect[]): boolean {
  for (const effect of effects) if (effect.kind === "persist") return true;
  return false;
}

/** A batch of effects waiting for the writes ahead of it. */
interface Batch {
  readonly effects: Effect[];
  settle(error?: unknown): void;
  /** Its registry writes, once handed to the store. */
  writes?: Promise<unknown>[];
}

/** How long the write loop may deliver before it lets timers and I/O run. */
const PUMP_TURN_MS = 20;

export function createTermRunner(options: TermRunnerOptions): TermRunner {
  const { core, registry, timers, logger } = options;
  let stopped = false;
  /** Set once the first registry write of this term failed. */
  let failure: ConnectError | undefined;
  /** Batches in order; the first is being written while `pumping`. */
  const queue: Batch[] = [];
  // The tail of `queue` whose writes are not yet handed to the store: a
  // fleet registering queues thousands of batches, and rescanning the whole
  // queue per write made that quadratic.
  let unissued: Batch[] = [];
  let pumping = false;
  let allocation: TimerHandle | undefined;

  const over = (): boolean => stopped || failure !== undefined;
  const whyOver = (): ConnectError => failure ?? noLongerLeads();

  const stamp = (effects: Effect[]): Effect[] => {
    for (const e of effects) {
      if (e.kind === "send" && e.response.event.case === "agent") e.response.event.value.leaderEpoch = options.epoch;
    }
    return effects;
  };

  // Allocation requests from a burst of batches share one pass on a later
  // turn; the pass's own effects take the same road as everything else.
  const allocateSoon = (): void => {
    if (over() || allocation !== undefined || !core.allocationRequested) return;
    allocation = timers.setTimeout(() => {
      allocation = undefined;
      if (!over()) void runOwned(() => core.allocateChanged(timers.now()));
    }, 0);
  };

  // A delivery can cause another (a dropped slow stream is a disconnect the
  // core answers at once): that one goes out after the batch that caused
  // it, as it would if it had queued behind a write.
  let delivering = false;
  const deferred: Effect[][] = [];

  /** Sends and ends go out; a failure here is a bug in a session, never a reason to stop leading. */
  const deliver = (effects: Effect[]): void => {
    if (delivering) {
      deferred.push(effects);
      return;
    }
    delivering = true;
    try {
      for (let next: Effect[] | undefined = effects; next !== undefined; next = deferred.shift()) {
        try {
          options.deliver(stamp(next));
        } catch (err) {
          logger.error({ err }, "delivering the core's effects failed (a bug); carrying on");
        }
      }
    } finally {
      delivering = false;
    }
    allocateSoon();
  };

  /**
   * Hands every queued batch's writes to the store at once, in order, so the
   * store can commit writes that arrive together as one (an agent fleet
   * registering after a failover); the store applies them in call order.
   */
  const issueWrites = (): void => {
    const batches = unissued;
    unissued = [];
    for (const batch of batches) {
      batch.writes = batch.effects.flatMap((effect) => {
        if (effect.kind !== "persist") return [];
        const write = registry.apply(effect.operation);
        // Awaited below in order; one left behind when the term ends is not an unhandled rejection.
        write.catch(() => undefined);
        return [write];
      });
    }
  };

  /** Writes the batches in order; each one's sends go out once its writes are stored. */
  const pump = async (): Promise<void> => {
    pumping = true;
    let turnStarted = performance.now();
    try {
      while (queue.length > 0 && !over()) {
        // Writes stored together settle together: delivering thousands of
        // batches on resolved promises alone would hold timers and sockets
        // (pings, the lease keeper's heartbeat) for seconds. Let them in.
        if (performance.now() - turnStarted > PUMP_TURN_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          turnStarted = performance.now();
          continue;
        }
        issueWrites();
        const batch = queue[0] as Batch;
        for (const write of batch.writes ?? []) {
          try {
            await write;
          } catch (err) {
            if (over()) return;
            failure = cannotStore(err);
            options.onFailure(err);
            return;
          }
          if (over()) return;
        }
        queue.shift();
        deliver(batch.effects);
        batch.settle();
      }
    } finally {
      pumping = false;
      // Once a write failed or the term ended, nothing queued may be written
      // or sent: it could depend on a change that is not stored.
      unissued = [];
      for (const batch of queue.splice(0)) batch.settle(whyOver());
    }
  };

  /**
   * Carries out one batch. Without a write in flight or in the batch, it
   * is delivered at once (most calls) and `run` returns undefined rather
   * than a settled promise, which a stream's call would only have to
   * discard; otherwise it queues behind the writes, so no answer or event
   * gets ahead of a change not yet stored.
   */
  const run = (effects: Effect[]): Promise<void> | undefined => {
    if (over()) return Promise.reject(whyOver());
    if (!pumping && !hasWrite(effects)) {
      deliver(effects);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const batch: Batch = { effects, settle: (error) => (error === undefined ? resolve() : reject(error)) };
      queue.push(batch);
      unissued.push(batch);
      // The pump owns itself: it ends when the queue is empty or the term is
      // over, and settles every batch it leaves behind.
      if (!pumping) pump().catch((err: unknown) => logger.error({ err }, "the registry write loop failed (a bug)"));
    });
  };

  /**
   * For handlers nobody awaits (a stream's call, a timer): a refusal reaches
   * the client on its stream, the term's end through `onFailure` and the
   * stream's end; an exception in the core is a bug, logged, and the master
   * carries on.
   */
  const runOwned = (handler: () => Effect[], session?: SessionId, callId = ""): Promise<void> | undefined => {
    let effects: Effect[];
    try {
      effects = handler();
    } catch (err) {
      logger.error({ err, session, callId }, "the master core failed on a call (a bug)");
      if (session === undefined) return undefined;
      effects = [
        {
          kind: "send",
          session,
          response: errorEvent(
            { code: ErrorCode.INTERNAL, message: "The master failed on this call; see its log" },
            callId,
          ),
        },
      ];
    }
    return run(effects)?.catch(() => undefined);
  };

  return {
    async call(session, request) {
      const effects = core.request(session, request, timers.now());
      await run(effects);
      return refusalsOf(effects, session, request.id);
    },
    dispatch: (session, request) => {
      void runOwned(() => core.request(session, request, timers.now()), session, request.id);
    },
    sessionClosed: (session) => runOwned(() => core.sessionClosed(session, timers.now())),
    async operate(call) {
      const { result, effects } = core.operate(call, timers.now());
      await run(effects);
      return result;
    },
    tick: (handler) => {
      if (!over()) void runOwned(() => handler(core, timers.now()));
    },
    stop() {
      stopped = true;
      timers.clearTimeout(allocation);
      allocation = undefined;
      unissued = [];
      for (const batch of queue.splice(0)) batch.settle(whyOver());
    },
  };
}
