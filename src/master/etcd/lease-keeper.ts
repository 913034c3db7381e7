/**
 * A campaign lease kept alive by a worker thread (lease-keeper-main.ts)
 * instead of the master's event loop. On the main loop, a master admitting
 * thousands of agents answered etcd's keep-alives seconds late and lost its
 * lead again and again while the fleet registered, each loss starting a
 * re-registration storm. The worker has its own etcd connection and does
 * nothing else; it writes when etcd last confirmed the lease into shared
 * memory, which the master's deadline check reads without a message.
 *
 *   main ──grant──> worker: lease granted ──> "granted" (id)
 *   main: beats into HEARTBEAT every TTL/4  worker: keep-alive every TTL/3,
 *                                                   LAST_CONFIRMED on each answer
 *   worker: etcd says the lease is gone, or no beat for the stall limit ──> "lost"
 *   main ──revoke──> worker: revokes, closes its connection ──> "closed", exits
 *
 * A frozen process (SIGSTOP, a paused VM) stops both threads, so its lease
 * runs out as before; a main loop wedged in one task stops being covered
 * after the stall limit.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { EtcdTlsFiles } from "../../etcd/client.js";

/** Slots of the shared clocks (ms since the epoch). */
export const LAST_CONFIRMED = 0;
export const HEARTBEAT = 1;

/** What the worker is started with. */
export interface KeeperSetup {
  readonly endpoints: string[];
  readonly tls?: EtcdTlsFiles;
  readonly ttlSeconds: number;
  readonly stallLimitMs: number;
  /** Two BigInt64 slots: LAST_CONFIRMED (worker writes), HEARTBEAT (main writes). */
  readonly clocks: SharedArrayBuffer;
}

export type KeeperMessage =
  | { readonly type: "granted"; readonly id: string }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "lost"; readonly message: string }
  | { readonly type: "closed" };

export type KeeperOrder = { readonly type: "revoke"; readonly timeoutMs: number };

/** A granted lease, with what its keep-alive has told us so far. */
export interface TrackedLease {
  readonly id: string;
  /** When etcd last confirmed the lease (ms since the epoch). */
  lastKeepAlive(): number;
  /** Set once the lease is known lost. */
  lostError(): Error | undefined;
  /** Called once, when the lease is lost; returns an unsubscribe function. */
  onLost(listener: (error: Error) => void): () => void;
  /** Revokes the lease (best effort within `timeoutMs`: it expires on its own anyway) and stops the worker. */
  revoke(timeoutMs?: number): Promise<void>;
}

export interface LeaseKeeperOptions {
  readonly endpoints: string[];
  readonly tls?: EtcdTlsFiles;
  readonly ttlSeconds: number;
  /** How long the master's loop may go without a beat before the worker lets the lease go (default `stallLimitMs(ttlSeconds)`). */
  readonly stallLimitMs?: number;
}

/**
 * The worker's entry point, always compiled JS: beside this file in dist/,
 * or in dist/ when the master runs from sources (tests, tsx).
 */
const KEEPER_MAIN = (() => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith(".ts")
    ? resolve(dirname(here), "../../../dist/src/master/etcd/lease-keeper-main.js")
    : resolve(dirname(here), "lease-keeper-main.js");
})();

/** How long the master's loop may go without a beat before its worker stops covering for it. */
export function stallLimitMs(ttlSeconds: number): number {
  return Math.max(10_000, 5 * ttlSeconds * 1000);
}

/** Grants a lease of `ttlSeconds` kept alive by a worker thread; rejects if etcd does not grant it. */
export async function grantKeptLease(options: LeaseKeeperOptions): Promise<TrackedLease> {
  if (!existsSync(KEEPER_MAIN)) throw new Error(`the lease keeper ${KEEPER_MAIN} is missing; build with npm run build`);
  const clocks = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
  const slots = new BigInt64Array(clocks);
  const beat = (): void => {
    Atomics.store(slots, HEARTBEAT, BigInt(Date.now()));
  };
  beat();
  const setup: KeeperSetup = {
    endpoints: options.endpoints,
    tls: options.tls,
    ttlSeconds: options.ttlSeconds,
    stallLimitMs: options.stallLimitMs ?? stallLimitMs(options.ttlSeconds),
    clocks,
  };
  // Compiled JS needs none of the parent's flags (a loader such as tsx, `-e` code).
  const worker = new Worker(KEEPER_MAIN, { workerData: setup, execArgv: [] });
  const heartbeat = setInterval(beat, Math.max(100, (options.ttlSeconds * 1000) / 4));
  heartbeat.unref();

  let lost: Error | undefined;
  const listeners = new Set<(error: Error) => void>();
  let exited = false;
  const gone = new Promise<void>((resolveGone) =>
    worker.once("exit", () => {
      exited = true;
      clearInterval(heartbeat);
      resolveGone();
    }),
  );
  const loseWith = (error: Error): void => {
    if (lost !== undefined) return;
    lost = error;
    for (const listener of listeners) listener(error);
    listeners.clear();
  };
  // A worker that dies (it should not) leaves the lease unkept: say so.
  worker.once("error", (err) => loseWith(new Error(`the lease keeper failed: ${err.message}`)));
  worker.once("exit", () => loseWith(new Error("the lease keeper stopped")));

  const id = await new Promise<string>((resolveId, reject) => {
    const onMessage = (message: KeeperMessage): void => {
      if (message.type === "granted") return resolveId(message.id);
      if (message.type === "failed" || message.type === "lost") {
        void worker.terminate();
        reject(new Error(`etcd did not grant a lease: ${message.message}`));
      }
    };
    worker.on("message", onMessage);
    worker.once("error", (err) =>
      reject(new Error(`the lease keeper failed before etcd granted a lease: ${err.message}`)),
    );
    worker.once("exit", () => reject(new Error("the lease keeper stopped before etcd granted a lease")));
  });

  worker.on("message", (message: KeeperMessage) => {
    if (message.type === "lost") {
      loseWith(new Error(message.message));
      void worker.terminate();
    }
    if (message.type === "closed") void worker.terminate();
  });

  let revoking: Promise<void> | undefined;
  return {
    id,
    lastKeepAlive: () => Number(Atomics.load(slots, LAST_CONFIRMED)),
    lostError: () => lost,
    onLost(listener) {
      if (lost !== undefined) {
        listener(lost);
        return () => undefined;
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    revoke(timeoutMs = 2_000) {
      revoking ??= (async () => {
        if (!exited) worker.postMessage({ type: "revoke", timeoutMs } satisfies KeeperOrder);
        // The worker answers "closed" and is terminated; past the deadline it goes anyway.
        const deadline = setTimeout(() => void worker.terminate(), timeoutMs + 500);
        await gone;
        clearTimeout(deadline);
      })();
      return revoking;
    },
  };
}
