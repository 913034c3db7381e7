/**
 * HTTP/2 connections shared by many simulated agents: a fixed number of
 * slots, each with one connection per master it has dialled. A stream that
 * follows the leader (etcd://) asks for the connection to whichever master
 * it dials, so after a failover it rides a connection to the new leader
 * without any view of the leader but its own.
 */
import { Http2SessionManager } from "@connectrpc/connect-node";

export class SessionPool {
  private readonly managers = new Map<string, Http2SessionManager>();

  constructor(readonly slots: number) {}

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
