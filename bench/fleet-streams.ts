/**
 * The unified streams of a simulated fleet, one per member, each keeping
 * the real agent's reconnect policy (src/agent/master-link.ts's
 * AGENT_RECONNECT through src/client/backoff.ts) while the fleet shares the
 * work a real agent does alone: one leader lookup, one connection per slot
 * per master, one timer for every backoff and one sweep for every
 * heartbeat timeout.
 *
 *   idle ──start──► dialing ──target known──► open ──stream ends (any way)──┐
 *    ▲                 ▲                                                    │
 *    │                 ├── at once: a standby named the leader (≤ 3 times), │
 *    │                 │   or etcd named a new one ◄────────────────────────┤
 *    │                 └── backing off ◄── otherwise ◄──────────────────────┤
 *    └── stop(), or onDisconnected says stay away ◄─────────────────────────┘
 *
 * A member backing off is woken at once when etcd names a new leader, and
 * streams to any other master are left then (a frozen former leader cannot
 * end them), as src/client/stream.ts does for one client.
 */
import { backoffDelay, type ReconnectPolicy } from "../src/client/backoff.js";
import { createFleetTarget, type FleetTarget } from "./fleet-target.js";
import type { CallEnd, CallHandler, GrpcCall } from "./grpc-connection.js";
import { GRPC_UNAVAILABLE } from "./grpc-frames.js";
import type { SessionPool } from "./session-pool.js";
import { TimerWheel } from "./timer-wheel.js";

export interface FleetStreamsOptions {
  /** `host:port`, a comma list, or `etcd://host:port/prefix`. */
  master: string;
  size: number;
  sessions: SessionPool;
  reconnect: ReconnectPolicy;
  /** Member i's first message on every stream, framed. */
  hello(index: number): Uint8Array;
  onMessage(index: number, bytes: Uint8Array): void;
  /**
   * After each of member i's streams ends, or fails to open (`describeEnd`
   * says why, when asked: a failover should not build 10,000 messages):
   * false keeps it away until `start(i)`.
   */
  onDisconnected(index: number, end: CallEnd): boolean;
  /** No message for this long: the master is presumed gone. Undefined: no limit (yet). */
  heartbeatTimeoutMs(index: number): number | undefined;
}

export interface FleetStreams {
  /** Connects member i (if idle). */
  start(index: number): void;
  /** Resets member i's stream; it stays idle until `start`. */
  stop(index: number): void;
  /** False when member i has no stream with its hello written. */
  send(index: number, framed: Uint8Array): boolean;
  /** Half-closes every stream, lets the masters end them (200 ms at most), resets the rest. */
  close(): Promise<void>;
}

interface Member {
  readonly index: number;
  phase: "idle" | "dialing" | "open" | "backoff";
  call: GrpcCall<Member> | undefined;
  /** The master of the current (or last) stream. */
  baseUrl: string | undefined;
  attempt: number;
  redirects: number;
  /** The current stream delivered a message. */
  heard: boolean;
  lastHeardAt: number;
  /** Guards a target lookup that outlived the dial that asked for it. */
  ticket: number;
}

/** Backoffs shorter than this apart share a timer. */
const BACKOFF_TICK_MS = 5;
const HEARTBEAT_SWEEP_MS = 1000;
const MAX_REDIRECTS = 3;
const CLOSE_GRACE_MS = 200;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Why a stream ended; undefined when the master ended it cleanly. */
export function describeEnd(end: CallEnd, baseUrl: string | undefined): string | undefined {
  if (end.kind !== "status") return end.reason;
  if (end.status.code === 0) return undefined;
  return `${baseUrl} answered grpc-status ${end.status.code}: ${end.status.message}`;
}

export function openFleetStreams(options: FleetStreamsOptions): FleetStreams {
  const target: FleetTarget = createFleetTarget(options.master);
  const members: Member[] = Array.from({ length: options.size }, (_, index) => ({
    index,
    phase: "idle",
    call: undefined,
    baseUrl: undefined,
    attempt: 0,
    redirects: 0,
    heard: false,
    lastHeardAt: 0,
    ticket: 0,
  }));
  let closed = false;
  let liveCalls = 0;
  let allEnded: (() => void) | undefined;

  const handler: CallHandler<Member> = {
    hello: (m) => options.hello(m.index),
    onMessage(m, bytes, call) {
      if (call !== m.call) return;
      m.heard = true;
      m.lastHeardAt = performance.now();
      options.onMessage(m.index, bytes);
    },
    onEnd(m, end, call) {
      if (--liveCalls === 0) allEnded?.();
      if (call !== m.call) return;
      m.call = undefined;
      disconnected(m, end);
    },
  };

  const openOn = (m: Member, baseUrl: string): void => {
    m.phase = "open";
    m.baseUrl = baseUrl;
    m.heard = false;
    m.lastHeardAt = performance.now();
    liveCalls++;
    m.call = options.sessions.connection(m.index, baseUrl).call(m, handler);
  };

  const dial = (m: Member): void => {
    if (closed) return;
    wheel.cancel(m);
    m.phase = "dialing";
    const known = target.current;
    if (known !== undefined) return openOn(m, known);
    const ticket = ++m.ticket;
    const current = (): boolean => !closed && m.phase === "dialing" && m.ticket === ticket;
    target.resolve().then(
      (baseUrl) => {
        if (current()) openOn(m, baseUrl);
      },
      (err: unknown) => {
        if (!current()) return;
        m.baseUrl = undefined;
        disconnected(m, { kind: "unreachable", reason: messageOf(err) });
      },
    );
  };

  /** Where a member goes once its stream ended: the real agent's choices, in stream.ts's order. */
  const disconnected = (m: Member, end: CallEnd): void => {
    if (closed || m.phase === "idle") return;
    if (trace !== undefined) {
      const key = `${end.kind} ${describeEnd(end, m.baseUrl)}`;
      trace.set(key, (trace.get(key) ?? 0) + 1);
    }
    if (!options.onDisconnected(m.index, end)) {
      m.phase = "idle";
      return;
    }
    const base = m.baseUrl;
    const unavailable = end.kind === "status" && end.status.code === GRPC_UNAVAILABLE;
    const leader = unavailable && end.kind === "status" ? end.status.leader : undefined;
    if (leader !== undefined) {
      if (base !== undefined) target.refused(base, leader);
      if (++m.redirects <= MAX_REDIRECTS) return dial(m);
    } else if (end.kind === "moved") return dial(m);
    else if (base !== undefined && (unavailable || end.kind === "unreachable")) target.failed(base);
    if (m.heard) m.redirects = 0;
    // A stream that delivered events was healthy: start over at the smallest delay.
    m.attempt = m.heard ? 0 : m.attempt + 1;
    m.phase = "backoff";
    wheel.schedule(m, backoffDelay(m.attempt, options.reconnect));
  };

  const wheel = new TimerWheel<Member>(BACKOFF_TICK_MS, (m) => {
    if (m.phase === "backoff") dial(m);
  });

  const trace = process.env.SIM_FLEET_TRACE === undefined ? undefined : new Map<string, number>();
  const sweep = setInterval(() => {
    const now = performance.now();
    if (trace !== undefined) {
      const phases = new Map<string, number>();
      for (const m of members) phases.set(m.phase, (phases.get(m.phase) ?? 0) + 1);
      process.stderr.write(
        `fleet: target ${target.current} ${JSON.stringify(Object.fromEntries(phases))} ends ${JSON.stringify(Object.fromEntries(trace))}\n`,
      );
      trace.clear();
    }
    for (const m of members) {
      if (m.phase !== "open" || m.call === undefined) continue;
      const limit = options.heartbeatTimeoutMs(m.index);
      if (limit !== undefined && now - m.lastHeardAt > limit)
        m.call.cancel(`no event from ${m.baseUrl} for ${limit} ms`);
    }
  }, HEARTBEAT_SWEEP_MS);

  target.follow((leader) => {
    options.sessions.dropAllBut(leader, `the leading master is now ${leader}`);
    for (const m of members) if (m.phase === "backoff") dial(m);
  });

  const at = (index: number): Member => {
    const m = members[index];
    if (m === undefined) throw new Error(`no stream ${index} (the fleet has ${members.length})`);
    return m;
  };

  return {
    start(index) {
      const m = at(index);
      if (m.phase !== "idle" || closed) return;
      m.attempt = 0;
      m.redirects = 0;
      dial(m);
    },
    stop(index) {
      const m = at(index);
      m.phase = "idle";
      m.ticket++;
      wheel.cancel(m);
      const call = m.call;
      m.call = undefined;
      call?.cancel("stopped");
    },
    send(index, framed) {
      const m = at(index);
      return m.phase === "open" && m.call !== undefined && m.call.write(framed);
    },
    async close() {
      if (closed) return;
      closed = true;
      wheel.close();
      clearInterval(sweep);
      const ended = new Promise<void>((resolve) => {
        allEnded = resolve;
        if (liveCalls === 0) resolve();
      });
      for (const m of members) m.call?.end();
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(grace);
      for (const m of members) m.call?.cancel("the fleet closed");
      await target.close();
    },
  };
}
