/**
 * Section 1: the unified stream against a bare connect-node echo.
 *
 * Both targets get the same requests (operator GET_HEALTH envelopes) from the
 * same lean client (stream-client.ts) over one Connect stream:
 *   - sequential: one call in flight → p50/p99 round-trip latency, calls/s;
 *   - pipelined: a window of calls in flight → calls/s.
 * The bare server answers ConnectResponse{call_id} without looking inside;
 * the master routes the call through its session table and core, so the
 * ratio unified/bare is what Plateau's own layers cost.
 *
 * The measuring is stream-rounds.ts's: both servers started once and warmed
 * up, then several rounds alternating between them; the figures here are
 * medians over the rounds, and `ratios` the median and spread of the
 * per-round ratios. (One phase of each, one after the other, swung the
 * ratio between 0.63 and 1.65 from one run to the next on this machine.)
 */
import { DEFAULT_STREAM_ROUNDS, runStreamRounds, type StreamRoundsResult, type TargetRatios } from "./stream-rounds.js";

/** What each run does (per target: warm-up, then `rounds` × a sequential and a pipelined phase). */
export const STREAM_LIMITS = {
  warmupCalls: DEFAULT_STREAM_ROUNDS.warmupCalls,
  rounds: DEFAULT_STREAM_ROUNDS.rounds,
  sequentialCalls: DEFAULT_STREAM_ROUNDS.sequentialCalls,
  pipelinedCalls: DEFAULT_STREAM_ROUNDS.pipelinedCalls,
  window: DEFAULT_STREAM_ROUNDS.window,
} as const;

/** What one target measured: medians over the rounds. */
export interface StreamFigures {
  p50Ms: number;
  p99Ms: number;
  sequentialPerSec: number;
  /** Calls measured one at a time, over all rounds. */
  sequentialCalls: number;
  pipelinedPerSec: number;
  pipelinedCalls: number;
  /** CPU time per pipelined call, µs: the server process's, and this (client) process's. */
  serverCpuPerCallUs: number | undefined;
  clientCpuPerCallUs: number;
}

/** Both targets; a failed target is an error string. */
export interface StreamResults {
  bare: StreamFigures | string;
  unified: StreamFigures | string;
  /** Median and spread of the per-round ratios unified/bare, when both ran. */
  ratios?: TargetRatios;
  /** The machine while it ran. */
  load?: StreamRoundsResult["load"];
}

function figuresOf(result: StreamRoundsResult, name: string): StreamFigures {
  const median = result.medians[name];
  const latency = result.latency[name];
  if (median === undefined || latency === undefined) throw new Error(`no figures for ${name}`);
  const rounds = result.rounds.length;
  return {
    ...latency,
    sequentialPerSec: median.sequential.callsPerSec,
    sequentialCalls: rounds * result.options.sequentialCalls,
    pipelinedPerSec: median.pipelined.callsPerSec,
    pipelinedCalls: rounds * result.options.pipelinedCalls,
    serverCpuPerCallUs: median.pipelined.serverCpuUs,
    clientCpuPerCallUs: median.pipelined.clientCpuUs,
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs both targets in alternating rounds; a failure is reported, not thrown. */
export async function runStreamBench(): Promise<StreamResults> {
  try {
    const result = await runStreamRounds();
    return {
      bare: figuresOf(result, "bare"),
      unified: figuresOf(result, "unified"),
      ...(result.ratios.unified === undefined ? {} : { ratios: result.ratios.unified }),
      load: result.load,
    };
  } catch (err) {
    const why = `stream bench failed: ${message(err)}`;
    return { bare: why, unified: why };
  }
}
