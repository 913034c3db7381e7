/**
 * The reconnecting unified stream: one `MesosService.Connect` stream that
 * every client role (scheduler, executor, agent, operator) sits on.
 *
 *            open ──► connecting ──(hello written)──► connected
 *              ▲          │                              │
 *              │     error/end                  error/end/heartbeat timeout
 *              │          ▼                              ▼
 *              └──── backing off ◄───────────────────────┘
 *                         │ close()
 *                         ▼
 *                       closed
 *
 * The server never connects back to a client, so the client owns recovery:
 * after a drop it waits (exponential backoff with jitter) and opens a new
 * stream whose first message is rebuilt by `hello()` (so a scheduler
 * resubscribes with the framework id it learned meanwhile).
 *
 * Ownership: one loop promise drives every connection; the heartbeat timer,
 * the backoff sleep and each pending call's timer belong to it, and `close()`
 * cancels them all and awaits the loop, so nothing outlives the stream.
 */
import { randomUUID } from "node:crypto";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  MesosService,
} from "../../gen/mesos/v2/mesos_pb.js";
import { type Logger, silentLogger } from "../log.js";
import { type AsyncQueue, createAsyncQueue } from "../util/async-queue.js";
import { createPieceAssembler } from "../wire/pieces.js";
import { backoffDelay, normalizeBaseUrl, type ReconnectPolicy } from "./backoff.js";
import { createMasterLocator, isMasterList, leaderMovedFrom, type MasterLocator } from "./masters.js";

export { backoffDelay, normalizeBaseUrl, type ReconnectPolicy };

/** How to open and keep a unified stream. */
export interface StreamOptions {
  /**
   * "http://127.0.0.1:5050" or just "127.0.0.1:5050"; for masters also a
   * comma-separated list or `etcd://host:port/prefix` (see masters.ts): each
   * connection then goes to the leader.
   */
  baseUrl: string;
  /** First request of every (re)connection; rebuilt each time. */
  hello: () => ConnectRequest;
  /** Every event that does not answer a pending `call()`. */
  onEvent: (event: ConnectResponse) => void;
  /** After the hello has been written on a new connection. */
  onConnected?: () => void;
  /**
   * After every connection attempt ends, whether or not it got connected;
   * `error` is undefined when the server ended the stream cleanly or the
   * client closed it.
   */
  onDisconnected?: (error: Error | undefined) => void;
  /** Default {initialMs: 250, maxMs: 10000}; false: one connection only. */
  reconnect?: ReconnectPolicy | false;
  /**
   * Read after the hello and after each event: if no event arrives for this
   * long the peer is presumed dead and the connection is dropped. Undefined
   * disables the check (e.g. before the heartbeat interval is known).
   */
  heartbeatTimeoutMs?: () => number | undefined;
  /** How long close() lets the server end the stream before aborting it. */
  closeGraceMs?: number;
  /**
   * An HTTP/2 connection shared with other streams to the same peer (e.g.
   * the command executors of one executor host), or, for a stream that
   * follows the leading master, one per master it dials. Its owner closes
   * it; a stream then drops only itself on a heartbeat timeout or close.
   */
  sessionManager?: Http2SessionManager | ((baseUrl: string) => Http2SessionManager);
  logger?: Logger;
}

/** A live, self-healing stream. */
export interface UnifiedStream {
  /** Queues a request on the current connection; false when not connected. */
  send(request: ConnectRequest): boolean;
  /**
   * Sends `request` (giving it a fresh id when empty) and resolves with the
   * first event whose `call_id` matches; that event is not passed to
   * `onEvent`. Rejects on timeout (default 30 s), disconnect or close.
   */
  call(request: ConnectRequest, timeoutMs?: number): Promise<ConnectResponse>;
  readonly connected: boolean;
  /** Stops reconnecting, ends the stream, resolves when fully closed. */
  close(): Promise<void>;
}

const defaultReconnect: ReconnectPolicy = { initialMs: 250, maxMs: 10_000 };
const defaultCallTimeoutMs = 30_000;

/** A fresh id for `ConnectRequest.id`. */
export function newCallId(): string {
  return randomUUID();
}

/** Opens a unified stream; it connects in the background right away. */
export function openStream(options: StreamOptions): UnifiedStream {
  return new ReconnectingStream(options);
}

interface PendingCall {
  resolve: (event: ConnectResponse) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One connection attempt's resources. */
interface Connection {
  queue: AsyncQueue<ConnectRequest>;
  abort: AbortController;
  connected: boolean;
  /** Why the client dropped this connection itself (heartbeat timeout, the leader moved). */
  dropReason?: Error;
  /** Dropped because etcd announced another leader: dial it without a backoff. */
  moved?: boolean;
}

/** A client for one peer, with the HTTP/2 connection it rides on. */
interface Peer {
  client: Client<typeof MesosService>;
  sessions: Http2SessionManager;
}

class ReconnectingStream implements UnifiedStream {
  /** The peer of the current (or last) connection. */
  private baseUrl: string;
  private readonly locator: MasterLocator | undefined;
  private readonly peers = new Map<string, Peer>();
  /** The session managers are ours to abort (not shared). */
  private readonly ownsSessions: boolean;
  private readonly log: Logger;
  private readonly pending = new Map<string, PendingCall>();
  private readonly pieces = createPieceAssembler(ConnectResponseSchema);
  private readonly loop: Promise<void>;
  private closing: Promise<void> | undefined;
  private closed = false;
  private current: Connection | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private wakeSleep: (() => void) | undefined;

  constructor(private readonly options: StreamOptions) {
    const several = isMasterList(options.baseUrl);
    this.baseUrl = several ? options.baseUrl.trim() : normalizeBaseUrl(options.baseUrl);
    this.log = (options.logger ?? silentLogger()).child({ peer: this.baseUrl });
    // One master is a list of one: a standby named directly still names the
    // leader in its refusal, and the stream follows it there.
    this.locator = createMasterLocator(options.baseUrl, this.log);
    // Our own session managers, so a dead peer's connection can be torn down
    // (not only the stream) and close() leaves no socket behind.
    this.ownsSessions = options.sessionManager === undefined;
    this.loop = this.run();
  }

  private peer(baseUrl: string): Peer {
    let peer = this.peers.get(baseUrl);
    if (peer === undefined) {
      const shared = this.options.sessionManager;
      const sessions = typeof shared === "function" ? shared(baseUrl) : (shared ?? new Http2SessionManager(baseUrl));
      peer = {
        sessions,
        client: createClient(MesosService, createGrpcTransport({ baseUrl, sessionManager: sessions })),
      };
      this.peers.set(baseUrl, peer);
    }
    return peer;
  }

  private abortSessions(reason?: Error): void {
    if (!this.ownsSessions) return;
    for (const peer of this.peers.values()) peer.sessions.abort(reason);
  }

  get connected(): boolean {
    return !this.closed && (this.current?.connected ?? false);
  }

  send(request: ConnectRequest): boolean {
    const conn = this.current;
    if (this.closed || conn === undefined || !conn.connected) return false;
    return conn.queue.push(request);
  }

  call(request: ConnectRequest, timeoutMs = defaultCallTimeoutMs): Promise<ConnectResponse> {
    if (request.id === "") request.id = newCallId();
    const id = request.id;
    return new Promise<ConnectResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConnectError(`call ${id} got no answer in ${timeoutMs} ms`, Code.DeadlineExceeded));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send(request)) {
        this.failCall(id, new ConnectError(`not connected to ${this.baseUrl}`, Code.Unavailable));
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.wakeSleep?.();
    // Ending the request side flushes what was sent (e.g. a TEARDOWN) and
    // half-closes; a well-behaved server then ends its side. Abort only if it
    // does not within the grace period.
    this.current?.queue.end();
    const grace = setTimeout(() => {
      this.current?.abort.abort(new ConnectError("stream closed", Code.Canceled));
    }, this.options.closeGraceMs ?? 1000);
    try {
      await this.loop;
    } finally {
      clearTimeout(grace);
      this.failAll(new ConnectError("stream closed", Code.Canceled));
      this.abortSessions();
      await this.locator?.close().catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    const policy = this.options.reconnect === false ? undefined : (this.options.reconnect ?? defaultReconnect);
    let attempt = 0;
    let redirects = 0;
    while (!this.closed) {
      const { error, receivedEvent, moved } = await this.connectOnce();
      this.failAll(
        this.closed
          ? new ConnectError("stream closed", Code.Canceled)
          : (error ?? new ConnectError(`stream to ${this.baseUrl} ended`, Code.Unavailable)),
      );
      this.notifyDisconnected(error);
      if (this.closed || policy === undefined) break;
      // A standby that named the leader: go there at once (unless standbys
      // keep naming each other mid-election; then back off as usual).
      if (this.locator?.learn(error) === true && ++redirects <= 3) continue;
      if (moved) continue;
      if (receivedEvent) redirects = 0;
      // A connection that delivered events was healthy: start over at the
      // smallest delay; repeated failures back off further.
      attempt = receivedEvent ? 0 : attempt + 1;
      const delay = backoffDelay(attempt, policy);
      this.log.debug({ delay, attempt, err: error?.message }, "reconnecting");
      // A new leader published in etcd ends the wait: no reason to sit out a backoff then.
      const sleeping = new AbortController();
      void this.locator?.leaderChanged?.(sleeping.signal).then(() => this.wakeSleep?.());
      await this.sleep(delay);
      sleeping.abort();
    }
    this.current = undefined;
  }

  private async connectOnce(): Promise<{ error: Error | undefined; receivedEvent: boolean; moved: boolean }> {
    const conn: Connection = { queue: createAsyncQueue(), abort: new AbortController(), connected: false };
    this.current = conn;
    let receivedEvent = false;
    let error: Error | undefined;
    try {
      if (this.locator !== undefined) this.baseUrl = await this.locator.next();
      this.leaveWhenDeposed(conn, this.baseUrl);
      const responses = this.peer(this.baseUrl).client.connect(this.requests(conn), { signal: conn.abort.signal });
      for await (const response of responses) {
        receivedEvent = true;
        // An answer means the hello is through, even if the transport has
        // not yet pulled the next request: a send() from this event's
        // handler (a reply to Registered) must not be refused.
        this.markConnected(conn);
        this.armHeartbeat(conn);
        this.dispatch(response);
      }
    } catch (err) {
      error = conn.dropReason ?? ConnectError.from(err);
    } finally {
      this.disarmHeartbeat();
      conn.connected = false;
      conn.queue.end();
      conn.abort.abort();
    }
    return { error: this.closed ? undefined : error, receivedEvent, moved: conn.moved === true };
  }

  /**
   * A master that stops leading while paused or cut off cannot end our
   * stream itself; once etcd announces another leader, leave it rather than
   * wait for the heartbeat timeout.
   */
  private leaveWhenDeposed(conn: Connection, baseUrl: string): void {
    if (this.locator === undefined) return;
    void leaderMovedFrom(this.locator, baseUrl, conn.abort.signal).then((leader) => {
      const reason = new ConnectError(`${baseUrl} no longer leads; the leading master is ${leader}`, Code.Unavailable);
      this.log.info(reason.message);
      conn.dropReason = reason;
      conn.moved = true;
      conn.abort.abort(reason);
      // The old leader may be frozen with our connection open: dial anew next time.
      if (this.ownsSessions) this.peers.get(baseUrl)?.sessions.abort(reason);
    });
  }

  /** The request side: the hello, then whatever `send()` queues. */
  private async *requests(conn: Connection): AsyncGenerator<ConnectRequest> {
    yield this.options.hello();
    // The transport pulls the next message only after writing the previous,
    // so reaching this line means the hello is on the wire.
    if (conn.queue.ended) return;
    this.markConnected(conn);
    yield* conn.queue;
  }

  private markConnected(conn: Connection): void {
    if (conn.connected || conn.queue.ended) return;
    conn.connected = true;
    this.log.debug("connected");
    this.armHeartbeat(conn);
    this.options.onConnected?.();
  }

  private dispatch(piece: ConnectResponse): void {
    // Large operator answers come in pieces: callers and handlers see them whole.
    const response = this.pieces.add(piece.callId, piece);
    if (response === undefined) return;
    const pending = response.callId === "" ? undefined : this.pending.get(response.callId);
    if (pending !== undefined) {
      this.pending.delete(response.callId);
      clearTimeout(pending.timer);
      pending.resolve(response);
      return;
    }
    try {
      this.options.onEvent(response);
    } catch (err) {
      // A handler bug must not take the connection down with it.
      this.log.error({ err }, "onEvent handler threw");
    }
  }

  private armHeartbeat(conn: Connection): void {
    this.disarmHeartbeat();
    const ms = this.options.heartbeatTimeoutMs?.();
    if (ms === undefined || !conn.connected) return;
    this.heartbeat = setTimeout(() => {
      const reason = new ConnectError(`no event from ${this.baseUrl} for ${ms} ms`, Code.DeadlineExceeded);
      this.log.warn(reason.message);
      conn.dropReason = reason;
      conn.abort.abort(reason);
      // The TCP connection itself may be dead; make the next attempt dial anew.
      if (this.ownsSessions) this.peers.get(this.baseUrl)?.sessions.abort(reason);
    }, ms);
  }

  private disarmHeartbeat(): void {
    if (this.heartbeat !== undefined) clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    }).finally(() => {
      this.wakeSleep = undefined;
    });
  }

  private notifyDisconnected(error: Error | undefined): void {
    try {
      this.options.onDisconnected?.(error);
    } catch (err) {
      this.log.error({ err }, "onDisconnected handler threw");
    }
  }

  private failCall(id: string, error: Error): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.failCall(id, error);
  }
}
