/**
 * HTTP/2 connections shared by many streams that follow the leading master.
 *
 * `StreamOptions.sessionManager` is used for every peer a stream dials, and
 * connect-node refuses a request whose origin differs from the manager's
 * `authority`. With `etcd://` a stream dials whichever master leads, so one
 * plain manager would be stuck on the first leader after a failover. This
 * manager keeps one inner manager per master origin and presents the
 * current leader's origin as its `authority`; the leader comes from one
 * etcd watch for the whole fleet. A stream whose own etcd lookup disagrees
 * for a moment (the two reads race by milliseconds) gets an INTERNAL error
 * and reconnects after its usual backoff, as it would after dialling a dead
 * master.
 */
import type * as http2 from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { createEtcdCoordinator, type EtcdCoordinator, type LeaderWatch } from "../src/master/etcd/index.js";
import { silentLogger } from "../src/log.js";

/** The leader's origin (`http://host:port`), or undefined while none is published. */
export interface LeaderSource {
  current(): string | undefined;
  close(): Promise<void>;
}

/** Watches `<prefix>/election/` in etcd once for every shared session. */
export async function watchLeaderOrigin(endpoints: string[], prefix: string): Promise<LeaderSource> {
  const coordinator: EtcdCoordinator = createEtcdCoordinator({ endpoints, prefix, electionTtlSeconds: 10, logger: silentLogger() });
  let origin: string | undefined;
  let first: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (first = resolve));
  const watch: LeaderWatch = coordinator.watchLeader((leader) => {
    origin = leader === undefined ? undefined : `http://${leader.address?.ip || leader.hostname}:${leader.address?.port ?? leader.port}`;
    first();
  });
  await ready;
  return {
    current: () => origin,
    async close() {
      watch.close();
      await coordinator.close();
    },
  };
}

/** A shared session manager that always talks to the current leader (see the file comment). */
export class LeaderSessionManager extends Http2SessionManager {
  private readonly inner = new Map<string, Http2SessionManager>();
  private readonly owner = new WeakMap<http2.ClientHttp2Stream, Http2SessionManager>();

  constructor(private readonly leader: LeaderSource) {
    super("http://127.0.0.1:1");
    // The base class assigns `authority` once; it must follow the leader.
    Object.defineProperty(this, "authority", {
      get: () => this.leader.current() ?? "http://leader-unknown.invalid",
      set: () => undefined,
      configurable: true,
    });
  }

  private target(): Http2SessionManager {
    const origin = this.authority;
    let manager = this.inner.get(origin);
    if (manager === undefined) {
      manager = new Http2SessionManager(origin);
      this.inner.set(origin, manager);
    }
    return manager;
  }

  override state(): ReturnType<Http2SessionManager["state"]> {
    return this.target().state();
  }

  override error(): unknown {
    return this.target().error();
  }

  override connect(): ReturnType<Http2SessionManager["connect"]> {
    return this.target().connect();
  }

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<http2.ClientHttp2Stream> {
    const manager = this.target();
    const stream = await manager.request(...args);
    this.owner.set(stream, manager);
    return stream;
  }

  override notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.owner.get(stream)?.notifyResponseByteRead(stream);
  }

  override abort(reason?: Error): void {
    for (const manager of this.inner.values()) manager.abort(reason);
    this.inner.clear();
  }
}
