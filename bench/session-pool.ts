/**
 * HTTP/2 connections shared by many simulated agents: a fixed number of
 * slots, each with one connection per master it has dialled. A stream that
 * follows the leader (etcd://) asks for the connection to whichever master
 * it dials, so after a failover it rides a connection to the new leader
 * without any view of the leader but its own.
 */
import { Http2SessionManager } from "@connectrpc/connect-node";

/**
 * A master takes at most 1,000 concurrent streams per HTTP/2 connection
 * (src/transport/server.ts); a fleet keeps well under that per slot.
 */
const STREAMS_PER_SLOT = 500;

export class SessionPool {
  private readonly managers = new Map<string, Http2SessionManager>();

  constructor(readonly slots: number) {}

  /** At least `slots`, and enough that no connection carries more streams than a master takes. */
  static forFleet(agents: number, slots = 8): SessionPool {
    return new SessionPool(Math.max(slots, Math.ceil(agents / STREAMS_PER_SLOT)));
  }

  /** For StreamOptions.sessionManager: slot `index % slots`, to the master the stream dials. */
  forStream(index: number): (baseUrl: string) => Http2SessionManager {
    const slot = index % this.slots;
    return (baseUrl) => {
      const key = `${slot} ${baseUrl}`;
      let manager = this.managers.get(key);
      if (manager === undefined) {
        manager = new Http2SessionManager(baseUrl);
        this.managers.set(key, manager);
      }
      return manager;
    };
  }

  abort(): void {
    for (const manager of this.managers.values()) manager.abort();
    this.managers.clear();
  }
}
