/**
 * HTTP/2 connections shared by many simulated agents: a fixed number of
 * slots, each with one connection per master it has dialled. Two kinds:
 * connect-node session managers for streams opened with openStream
 * (bench/state-fleet.ts), and bare gRPC connections for the simulated fleet
 * (bench/sim-agents.ts), whose streams follow the leader the fleet follows.
 */
import { Http2SessionManager } from "@connectrpc/connect-node";
import { GrpcConnection } from "./grpc-connection.js";

/**
 * A master takes at most 1,000 concurrent streams per HTTP/2 connection
 * (src/transport/server.ts); a fleet keeps well under that per slot.
 */
const STREAMS_PER_SLOT = 500;

/**
 * A connection that just failed answers callers with that failure for this
 * long: agents whose backoffs end together toward a master that is down
 * cost one refused socket, not one each.
 */
const FAILURE_REUSE_MS = 50;

export class SessionPool {
  private readonly managers = new Map<string, Http2SessionManager>();
  private readonly connections = new Map<string, GrpcConnection>();

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

  /** The bare gRPC connection of slot `index % slots` to `baseUrl`, dialled anew once the last one is gone. */
  connection(index: number, baseUrl: string): GrpcConnection {
    const key = `${index % this.slots} ${baseUrl}`;
    const current = this.connections.get(key);
    if (current !== undefined) {
      if (current.usable) return current;
      if (performance.now() - (current.goneAt ?? 0) < FAILURE_REUSE_MS) return current;
    }
    const fresh = new GrpcConnection(baseUrl);
    this.connections.set(key, fresh);
    return fresh;
  }

  /**
   * Drops every bare connection to a master other than `leader`: a master
   * that stopped leading while frozen or cut off cannot end them itself.
   */
  dropAllBut(leader: string, reason: string): void {
    for (const [key, connection] of this.connections)
      if (connection.baseUrl !== leader) {
        this.connections.delete(key);
        connection.drop({ kind: "moved", reason });
      }
  }

  abort(): void {
    for (const manager of this.managers.values()) manager.abort();
    this.managers.clear();
    for (const connection of this.connections.values())
      connection.drop({ kind: "unreachable", reason: "the session pool was closed" });
    this.connections.clear();
  }
}
