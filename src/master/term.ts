/**
 * One leadership term's effect runner: the only place where the master
 * core's effects are carried out.
 *
 *   handler (a call, a stream's end, a timer)
 *        │ effects, in the order the core produced them
 *        ▼
 *   queued behind the registry writes still in flight
 *        │ each `persist` stored, in order (a failure ends the term: nothing
 *        │ queued behind it is written or sent)
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
import type { CallError } from "../core/master/events.js";
import type { Effect, MasterCore } from "../core/master/master-core.js";
import type { SessionId } from "../core/master/state.js";
import type { Timers, TimerHandle } from "../util/timers.js";
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
  /** A session's client went away. */
  sessionClosed(session: SessionId): void;
  /** A one-shot operator call (Operate RPC, v1 /api/v1): its answer once the registry holds the change. */
  operate(call: OperatorCall): Promise<Response | CallError>;
  /** Runs a core handler (a timer's) and carries out its effects. */
  tick(handler: (core: MasterCore, now: number) => Effect[]): void;
  /** Ends the term: nothing more is written or sent; resolves once the write in flight settled. */
  stop(): Promise<void>;
}

const noLongerLeads = (): ConnectError => new ConnectError("This master no longer leads", Code.Unavailable);

/** The refusals among `effects` that answer the call `callId`. */
function refusalsOf(effects: Effect[], callId: string): CallError[] {
  const refusals: CallError[] = [];
  if (callId === "") return refusals;
  for (const effect of effects) {
    if (effect.kind !== "send" || effect.response.callId !== callId || effect.response.event.case !== "error") continue;
    const { code, message, fatal } = effect.response.event.value;
    refusals.push({ code, message, fatal });
  }
  return refusals;
}

export function createTermRunner(options: TermRunnerOptions): TermRunner {
  const { core, registry, timers } = options;
  let stopped = false;
  /** The first registry write of this term that failed. */
  let failure: unknown;
  /** Every batch waits for the one before it: writes and sends keep the core's order. */
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0;
  let allocation: TimerHandle | undefined;

  const over = (): boolean => stopped || failure !== undefined;

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
      if (!over()) run(core.allocateChanged(timers.now()));
    }, 0);
  };

  const deliver = (effects: Effect[]): void => {
    options.deliver(stamp(effects));
    allocateSoon();
  };

  const store = async (effects: Effect[]): Promise<void> => {
    for (const effect of effects) {
      if (over()) throw failure ?? noLongerLeads();
      if (effect.kind === "persist") await registry.apply(effect.operation);
    }
    if (over()) throw failure ?? noLongerLeads();
    deliver(effects);
  };

  /**
   * Carries out one batch. Without a write in flight or in the batch, it
   * is delivered at once (most calls); otherwise it queues behind the
   * writes, so no answer or event gets ahead of a change not yet stored.
   * The returned promise rejects only for the caller: the term's own
   * record of a failure is `failure`, reported once through `onFailure`.
   */
  const run = (effects: Effect[]): Promise<void> => {
    if (over()) return Promise.reject(failure ?? noLongerLeads());
    if (waiting === 0 && !effects.some((e) => e.kind === "persist")) {
      deliver(effects);
      return Promise.resolve();
    }
    waiting++;
    const done = tail.then(() => store(effects));
    tail = done.then(
      () => {
        waiting--;
      },
      (err: unknown) => {
        waiting--;
        if (over()) return;
        failure = err;
        options.onFailure(err);
      },
    );
    return done;
  };

  /** For batches nobody awaits: their failure is the term's, already reported. */
  const runOwned = (effects: Effect[]): void => {
    run(effects).catch(() => undefined);
  };

  return {
    async call(session, request) {
      const effects = core.request(session, request, timers.now());
      await run(effects);
      return refusalsOf(effects, request.id);
    },
    dispatch: (session, request) => runOwned(core.request(session, request, timers.now())),
    sessionClosed: (session) => runOwned(core.sessionClosed(session, timers.now())),
    async operate(call) {
      const { result, effects } = core.operate(call, timers.now());
      await run(effects);
      return result;
    },
    tick: (handler) => {
      if (!over()) runOwned(handler(core, timers.now()));
    },
    async stop() {
      stopped = true;
      timers.clearTimeout(allocation);
      allocation = undefined;
      await tail;
    },
  };
}
