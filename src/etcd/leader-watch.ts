/**
 * Follows the leader for standbys and clients: reports the announced leader
 * (`<prefix>/leader`), then each change. Every event on the key triggers a
 * fresh read rather than a deduction from the event: simpler, and right
 * even after a missed event or a compacted history.
 */
import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import type { MasterInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { Logger } from "../log.js";
import { decodeMasterInfo, type EtcdKeys } from "./keys.js";
import { cancelQuietly } from "./quietly.js";

const RETRY_MS = 1_000;

export interface LeaderWatch {
  close(): void;
}

/** An announced leader as the announcement says: its MasterInfo and the lease it is on. */
export interface AnnouncedLeader {
  readonly info: MasterInfo;
  readonly lease: string;
}

/** The announced leader's key-value, if any. */
export async function readLeaderKv(client: Etcd3, keys: EtcdKeys): Promise<IKeyValue | undefined> {
  const response = await client.kv.range({ key: Buffer.from(keys.leader) });
  return response.kvs[0];
}

export function decodeLeader(kv: IKeyValue | undefined): MasterInfo | undefined {
  return kv === undefined ? undefined : decodeMasterInfo(kv.value, kv.key.toString());
}

export function watchLeader(
  client: Etcd3,
  keys: EtcdKeys,
  logger: Logger,
  onChange: (leader: MasterInfo | undefined) => void,
): LeaderWatch {
  return watchLeaderKv(client, keys, logger, decodeLeader, onChange);
}

/** As watchLeader, with the lease the announcement is on (a standby watching the leader's process revokes it). */
export function watchAnnouncedLeader(
  client: Etcd3,
  keys: EtcdKeys,
  logger: Logger,
  onChange: (leader: AnnouncedLeader | undefined) => void,
): LeaderWatch {
  const decode = (kv: IKeyValue | undefined): AnnouncedLeader | undefined => {
    const info = decodeLeader(kv);
    return info === undefined || kv === undefined ? undefined : { info, lease: kv.lease };
  };
  return watchLeaderKv(client, keys, logger, decode, onChange);
}

function watchLeaderKv<T>(
  client: Etcd3,
  keys: EtcdKeys,
  logger: Logger,
  decode: (kv: IKeyValue | undefined) => T,
  onChange: (leader: T) => void,
): LeaderWatch {
  let stopped = false;
  // What was last reported: the announcement's mod revision ("" for none).
  let reported: string | undefined;
  let retry: NodeJS.Timeout | undefined;
  let reads: Promise<void> = Promise.resolve();
  let watcher: Watcher | undefined;

  const later = (what: () => void) => {
    clearTimeout(retry);
    if (!stopped) retry = setTimeout(what, RETRY_MS);
  };
  // Reads run one after another, so reports come in order and never overlap.
  const refresh = (): void => {
    reads = reads.then(async () => {
      if (stopped) return;
      try {
        const kv = await readLeaderKv(client, keys);
        const id = kv === undefined ? "" : kv.mod_revision;
        if (stopped || id === reported) return;
        const leader = decode(kv);
        reported = id;
        try {
          onChange(leader);
        } catch (err) {
          logger.error({ error: String(err) }, "a leader watch callback threw");
        }
      } catch (err) {
        logger.warn({ error: String(err) }, "cannot read the leader from etcd; retrying");
        later(refresh);
      }
    });
  };
  const startWatching = (): void => {
    if (stopped) return;
    client
      .watch()
      .key(keys.leader)
      .create()
      .then((w) => {
        if (stopped) return void cancelQuietly(w);
        watcher = w;
        w.on("put", refresh);
        w.on("delete", refresh);
        // After a reconnect, events may have been coalesced: read again.
        w.on("connected", refresh);
        // etcd cancelled the watch: start another and catch up with a read.
        w.on("error", (error) => {
          logger.warn({ error: String(error) }, "the leader watch was cancelled; watching again");
          watcher = undefined;
          later(() => {
            startWatching();
            refresh();
          });
        });
      })
      .catch((err: unknown) => {
        logger.warn({ error: String(err) }, "cannot watch the leader in etcd; retrying");
        later(startWatching);
      });
  };
  startWatching();
  refresh();
  return {
    close() {
      stopped = true;
      clearTimeout(retry);
      void cancelQuietly(watcher);
    },
  };
}
