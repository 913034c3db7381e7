/**
 * Finding the leading master. `--master` (and every client's `master`
 * option) is one of:
 *
 *   host:port                     that master
 *   host:port,host:port,...       several masters: the client tries them in turn
 *   etcd://host:port[,...]/prefix the leader published in etcd
 *
 * A standby refuses calls with UNAVAILABLE and names the leader in the
 * `plateau-leader` trailer; the client goes there next, without backing off.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import { type Logger, silentLogger } from "../log.js";
import { LEADER_HEADER, masterEndpoint } from "../wire/masters.js";
import { normalizeBaseUrl } from "./backoff.js";

export interface MasterLocator {
  /** The base URL to dial next: the leader named by the last refusal, else the next candidate. */
  next(): Promise<string>;
  /** Learns from a failed call: a refusal naming the leader makes it the next target. Returns true when it did. */
  learn(error: unknown): boolean;
  /** What the user gave, for messages. */
  readonly description: string;
  /**
   * Resolves when the announced leader changes (etcd only): a client waiting
   * out a backoff after losing its master dials the new one at once, and one
   * still connected to a master that no longer leads (paused, cut off)
   * leaves it. Never resolves once `signal` aborts.
   */
  leaderChanged?(signal?: AbortSignal): Promise<void>;
  /** The leader etcd announces now (etcd only; undefined while none is known). */
  announced?(): string | undefined;
  close(): Promise<void>;
}

/**
 * Resolves with the newly announced leader once etcd announces one other
 * than `baseUrl` (a master that stopped leading while frozen or cut off
 * cannot tell its clients itself). Never resolves for locators without an
 * announcement (a list of masters), nor once `signal` aborts.
 */
export function leaderMovedFrom(locator: MasterLocator, baseUrl: string, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve) => {
    if (locator.leaderChanged === undefined || locator.announced === undefined) return;
    const check = (): void => {
      if (signal.aborted) return;
      const leader = locator.announced?.();
      if (leader !== undefined && leader !== baseUrl) resolve(leader);
      else void locator.leaderChanged?.(signal).then(check);
    };
    // From the next change on: a client just sent to `baseUrl` by a standby's
    // hint may know better than its own etcd view for a moment.
    void locator.leaderChanged(signal).then(check);
  });
}

/** The leader a standby named in its refusal, if any. */
export function leaderHint(error: unknown): string | undefined {
  if (!(error instanceof ConnectError) || error.code !== Code.Unavailable) return undefined;
  const hint = error.metadata.get(LEADER_HEADER);
  return hint === null || hint === "" ? undefined : hint;
}

/** Whether `spec` names several masters or etcd (rather than one master). */
export function isMasterList(spec: string): boolean {
  return spec.trim().startsWith("etcd://") || spec.includes(",");
}

export function createMasterLocator(spec: string, logger: Logger = silentLogger()): MasterLocator {
  const trimmed = spec.trim();
  let hint: string | undefined;
  const learn = (error: unknown): boolean => {
    const named = leaderHint(error);
    if (named === undefined) return false;
    hint = normalizeBaseUrl(named);
    return true;
  };
  if (trimmed.startsWith("etcd://"))
    return etcdLocator(
      trimmed,
      logger,
      () => hint,
      (h) => (hint = h),
      learn,
    );
  const candidates = trimmed
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(normalizeBaseUrl);
  if (candidates.length === 0) throw new Error(`no master in '${spec}'`);
  let index = -1;
  return {
    description: trimmed,
    async next() {
      if (hint !== undefined) {
        const target = hint;
        hint = undefined;
        return target;
      }
      index = (index + 1) % candidates.length;
      return candidates[index] as string;
    },
    learn,
    close: () => Promise.resolve(),
  };
}

type EtcdModule = typeof import("../etcd/index.js");
type Follower = import("../etcd/index.js").LeaderFollower;

/**
 * One etcd connection and leader watch per etcd URL in a process, shared by
 * every stream that names it (an agent host or a bench with many streams
 * would otherwise open one each).
 */
interface SharedLeader {
  refs: number;
  follower: Promise<Follower>;
  /** The leader's base URL as last reported; undefined while there is none. */
  leader: string | undefined;
  known: boolean;
  /** Woken at every leader change. */
  waiters: Set<() => void>;
  close(): Promise<void>;
}

const sharedLeaders = new Map<string, SharedLeader>();

function baseUrlOf(leader: MasterInfo): string {
  const { host, port } = masterEndpoint(leader);
  return normalizeBaseUrl(`${host}:${port}`);
}

function acquireLeader(url: string, logger: Logger): SharedLeader {
  let shared = sharedLeaders.get(url);
  if (shared === undefined) {
    // Loaded on first use: clients that name a master directly never load the etcd client.
    const follower = import("../etcd/index.js").then(({ createLeaderFollower, parseEtcdUrl }: EtcdModule) => {
      const { endpoints, prefix } = parseEtcdUrl(url);
      return createLeaderFollower({ endpoints, prefix, logger });
    });
    const entry: SharedLeader = {
      refs: 0,
      follower,
      leader: undefined,
      known: false,
      waiters: new Set(),
      async close() {
        watch?.close();
        await (await follower).close();
      },
    };
    let watch: { close(): void } | undefined;
    void follower.then(
      (c) => {
        if (entry.refs === 0) return;
        watch = c.watchLeader((leader) => {
          entry.leader = leader === undefined ? undefined : baseUrlOf(leader);
          entry.known = true;
          const waiters = [...entry.waiters];
          entry.waiters.clear();
          for (const wake of waiters) wake();
        });
      },
      () => undefined,
    );
    sharedLeaders.set(url, entry);
    shared = entry;
  }
  shared.refs++;
  return shared;
}

function etcdLocator(
  url: string,
  logger: Logger,
  getHint: () => string | undefined,
  setHint: (hint: string | undefined) => void,
  learn: (error: unknown) => boolean,
): MasterLocator {
  const shared = acquireLeader(url, logger);
  let released = false;
  return {
    description: url,
    async next() {
      const hinted = getHint();
      if (hinted !== undefined) {
        setHint(undefined);
        return hinted;
      }
      let leader = shared.leader;
      if (!shared.known) {
        const info = await (await shared.follower).leader();
        leader = info === undefined ? undefined : baseUrlOf(info);
      }
      if (leader === undefined) throw new ConnectError(`no leading master is published in ${url}`, Code.Unavailable);
      return leader;
    },
    learn,
    leaderChanged(signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return;
        const forget = () => shared.waiters.delete(wake);
        const wake = () => {
          signal?.removeEventListener("abort", forget);
          resolve();
        };
        shared.waiters.add(wake);
        signal?.addEventListener("abort", forget, { once: true });
      });
    },
    announced: () => (shared.known ? shared.leader : undefined),
    async close() {
      if (released) return;
      released = true;
      shared.refs--;
      if (shared.refs > 0) return;
      sharedLeaders.delete(url);
      await shared.close();
    },
  };
}
