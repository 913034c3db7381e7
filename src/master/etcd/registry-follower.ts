/**
 * A candidate follows the registry while it waits to lead, so that winning
 * costs a catch-up (registry-catch-up.ts) instead of reading every key: at
 * 41,200 agents the paged read and its decoding took 5.3 s.
 *
 *   reading ──► watching ──(etcd cancels the watch, the stream drops)──┐
 *      ▲            ▲                                                  ▼
 *      │            └──────────────────────────────────────── catching up
 *      └── (a read or catch-up failed: after a pause) ◄────────────────┘
 *
 *   stop(), in any state: after the step in progress, the mirror (exact at
 *   its revision) is handed over, or nothing if it holds none.
 *
 * The watch covers `<prefix>/registry` and every key under it, from just
 * after the revision read; each event is applied to the mirror as it comes
 * and the mirror's revision becomes the last event's. When the watch ends
 * (etcd compacted past it while it lagged, the stream dropped) the mirror
 * is still exact at its revision, and catching up from there needs no
 * history. etcd3 would re-attach a dropped watch by itself, but from the
 * revision in the last answer's header, which can be past events not yet
 * sent (etcd's catch-up answers carry the current revision): the follower
 * cancels it and catches up instead.
 *
 * The follower has an etcd connection of its own: its reads are bulky, and
 * a watch etcd refuses at creation (its revision compacted) leaves etcd3's
 * queue of watches to create stuck, which must not stall the campaign's
 * own watches. It never asks for a watch below a revision it has just
 * read, and stop() closes the connection whatever state it is in.
 */
import type { Etcd3, IWatchResponse, Watcher } from "etcd3";
import { cancelQuietly } from "../../etcd/quietly.js";
import type { Logger } from "../../log.js";
import { callDeadline } from "./leader-calls.js";
import { catchUpMirror, readMirror } from "./registry-catch-up.js";
import { registryLayout } from "./registry-layout.js";
import { deleteEntry, putEntry, type RegistryMirror, registryKeyKind, setLegacy } from "./registry-mirror.js";
import type { ReadAccess } from "./registry-read.js";

/** Pause before reading again after a failed read or catch-up (etcd unreachable). */
const RETRY_MS = 1_000;

export interface RegistryFollower {
  /** Stops following: the mirror, exact at its revision, or undefined when it holds none. */
  stop(): Promise<RegistryMirror | undefined>;
  /** The revision the mirror is exact at, while it is (for tests and logs). */
  revision(): string | undefined;
  /** How often the watch ended and the mirror was caught up or read again. */
  resyncs(): number;
}

export interface FollowOptions {
  /** The follower's own connection; stop() closes it. */
  readonly client: Etcd3;
  /** `<prefix>/registry`. */
  readonly key: string;
  readonly logger: Logger;
  /** Start from this mirror (caught up first) instead of reading every key: tests leave one behind a compaction. */
  readonly from?: RegistryMirror;
}

export function followRegistry(options: FollowOptions): RegistryFollower {
  const { client, logger } = options;
  const layout = registryLayout(options.key);
  const access: ReadAccess = {
    txn: (request) => client.kv.txn(request, callDeadline()),
    range: (request) => client.kv.range(request, callDeadline()),
  };
  /** Exact at its revision, or undefined (never read, or a step failed half-way). */
  let mirror: RegistryMirror | undefined = options.from;
  let watcher: Watcher | undefined;
  let stopped = false;
  let resyncs = 0;
  let retry: NodeJS.Timeout | undefined;
  /** The read or catch-up in progress; stop() waits for it. */
  let step: Promise<void> = Promise.resolve();

  const apply = (m: RegistryMirror, response: IWatchResponse): void => {
    for (const event of response.events) {
      const key = event.kv.key.toString();
      const kind = registryKeyKind(layout, key);
      if (kind === "entry") {
        if (event.type === "Put") putEntry(m, event.kv);
        else deleteEntry(m, layout.pathOf(key));
      } else if (kind === "legacy") setLegacy(m, event.type === "Put" ? event.kv : undefined);
    }
    const last = response.events[response.events.length - 1];
    if (last !== undefined) m.revision = last.kv.mod_revision;
  };

  /** Watches from just after the mirror's revision. Listeners go on before the watch connects: no event slips by. */
  const watch = async (m: RegistryMirror): Promise<void> => {
    if (stopped) return;
    const w = client
      .watch()
      .inRange({ start: layout.legacyKey, end: layout.entryRangeEnd })
      .startRevision((BigInt(m.revision) + 1n).toString())
      .watcher();
    watcher = w;
    w.on("data", (response: IWatchResponse) => {
      if (watcher === w && !stopped) apply(m, response);
    });
    w.on("error", (error: Error) => resync(w, `etcd ended the registry watch: ${error.message}`));
    w.on("disconnected", () => resync(w, "the registry watch's connection dropped"));
  };

  /** Reads (or catches up), then watches; on failure, tries again after a pause. */
  const sync = (run: () => Promise<RegistryMirror>): void => {
    step = (async () => {
      try {
        const m = await run();
        mirror = m;
        await watch(m);
      } catch (err) {
        mirror = undefined;
        if (stopped) return;
        logger.debug({ error: String(err) }, "cannot follow the registry for now; reading it again shortly");
        retry = setTimeout(() => sync(() => readMirror(access, layout)), RETRY_MS);
      }
    })();
  };

  const catchUp = async (m: RegistryMirror): Promise<RegistryMirror> => {
    mirror = undefined; // half-way until caught up
    const outcome = await catchUpMirror(access, m);
    return outcome.kind === "caught-up" ? m : readMirror(access, layout);
  };

  const resync = (w: Watcher, why: string): void => {
    if (watcher !== w || stopped) return;
    watcher = undefined;
    resyncs++;
    void cancelQuietly(w);
    const m = mirror;
    logger.debug({ why, revision: m?.revision }, "catching the registry up");
    sync(() => (m === undefined ? readMirror(access, layout) : catchUp(m)));
  };

  const from = options.from;
  sync(() => (from === undefined ? readMirror(access, layout) : catchUp(from)));

  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await step;
      // A watch never created (refused, or etcd away) would wait forever to be cancelled.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cancelQuietly(watcher), new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
      watcher = undefined;
      client.close();
      return mirror;
    },
    revision: () => mirror?.revision,
    resyncs: () => resyncs,
  };
}
