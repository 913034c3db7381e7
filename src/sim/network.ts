/**
 * The simulated network: one connection per client stream (an agent's or
 * a scheduler's unified stream to a master), with each direction in order,
 * as HTTP/2 over TCP keeps it. Chance decides each message's delay, so
 * messages on different streams overtake each other freely.
 *
 * A stream never loses a message and carries on: that cannot happen over
 * TCP. Loss is a broken stream instead:
 *
 *   open ──close (one side)──► the other side hears of it after what was sent before
 *    │                         (a master's `end` flushes first; a crash does not)
 *    └──a message crosses a partition──► broken: nothing more arrives either way;
 *                                        each side hears of it once it can be reached
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import {
  Call_Type as SchedulerCallType,
  Event_Type as SchedulerEventType,
} from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import type { EventQueue } from "./event-queue.js";
import type { Rng } from "./rng.js";

/** The client's end: an agent or a scheduler. */
export interface ClientEnd {
  onEvent(response: ConnectResponse): void;
  onClosed(): void;
}

/** The master's end of every stream it serves. */
export interface MasterEnd {
  onRequest(session: string, request: ConnectRequest): void;
  onClosed(session: string): void;
}

export type Side = "client" | "master";

export interface Connection {
  readonly session: string;
  readonly client: string;
  readonly master: string;
  /** False once either side closed it or it broke. */
  readonly open: boolean;
  /** False when the stream is no longer open: the request is dropped, as a closed channel drops it. */
  toMaster(request: ConnectRequest): boolean;
  toClient(response: ConnectResponse): void;
  /** Closes from one side. `flush`: what that side sent before still arrives (a master's `end`). */
  close(by: Side, flush: boolean): void;
}

export interface Network {
  connect(client: string, master: string, clientEnd: ClientEnd, masterEnd: MasterEnd): Connection;
  /** Cuts `node` off until `untilMs`: every stream that carries a message meanwhile breaks. */
  isolate(node: string, untilMs: number): void;
  isolated(node: string): boolean;
  /** When `node` can be reached again (now if it can). */
  reachableAt(node: string): number;
  /** Breaks one open stream, as a reset connection would. */
  breakOne(): void;
  /** Heals every partition at once (the quiet phase). */
  healAll(): void;
  /** Delays get long now and then while true. */
  faulty: boolean;
  /** Messages carried, for the summary. */
  readonly carried: number;
}

interface Conn extends Connection {
  readonly clientEnd: ClientEnd;
  readonly masterEnd: MasterEnd;
  /** Which sides still take deliveries. */
  reads: Record<Side, boolean>;
  writes: Record<Side, boolean>;
  /** When the last message in each direction arrives (directions stay in order). */
  lastAt: Record<Side, number>;
  told: Record<Side, boolean>;
}

export function createNetwork(queue: EventQueue, rng: Rng): Network {
  const isolatedUntil = new Map<string, number>();
  const open = new Set<Conn>();
  let sessions = 0;
  let carried = 0;
  let faulty = false;

  const isolated = (node: string): boolean => (isolatedUntil.get(node) ?? 0) > queue.now;
  const reachableAt = (node: string): number => Math.max(queue.now, isolatedUntil.get(node) ?? 0);
  const delay = (): number => (faulty && rng.chance(0.03) ? rng.int(200, 3000) : rng.int(1, 30));

  const tell = (conn: Conn, side: Side, atLeast: number): void => {
    if (conn.told[side]) return;
    conn.told[side] = true;
    const node = side === "client" ? conn.client : conn.master;
    const at = Math.max(atLeast, reachableAt(node)) + rng.int(5, 500);
    queue.after(at - queue.now, `${conn.session} closed at ${side}`, () => {
      if (side === "client") conn.clientEnd.onClosed();
      else conn.masterEnd.onClosed(conn.session);
    });
  };

  const broken = (conn: Conn): void => {
    open.delete(conn);
    conn.reads = { client: false, master: false };
    conn.writes = { client: false, master: false };
    tell(conn, "client", queue.now);
    tell(conn, "master", queue.now);
  };

  /** Delivers `message` to side `to`, in order behind what was sent before. */
  const carry = (conn: Conn, to: Side, what: string, deliver: () => void): void => {
    const at = Math.max(conn.lastAt[to], queue.now + delay());
    conn.lastAt[to] = at;
    const label =
      to === "master"
        ? `${conn.client} -> ${conn.master} (${conn.session}): ${what}`
        : `${conn.master} -> ${conn.client} (${conn.session}): ${what}`;
    queue.after(at - queue.now, label, () => {
      if (!conn.reads[to]) return;
      if (isolated(conn.client) || isolated(conn.master)) return broken(conn);
      carried++;
      deliver();
    });
  };

  return {
    connect(client, master, clientEnd, masterEnd) {
      const conn: Conn = {
        session: `s${++sessions}`,
        client,
        master,
        clientEnd,
        masterEnd,
        reads: { client: true, master: true },
        writes: { client: true, master: true },
        lastAt: { client: 0, master: 0 },
        told: { client: false, master: false },
        get open() {
          return this.writes.client && this.writes.master;
        },
        toMaster(request) {
          if (!conn.open) return false;
          // Through the wire format, as a real stream carries it: nothing shared by reference.
          const copy = fromBinary(ConnectRequestSchema, toBinary(ConnectRequestSchema, request));
          carry(conn, "master", describeRequest(copy), () => masterEnd.onRequest(conn.session, copy));
          return true;
        },
        toClient(response) {
          if (!conn.open) return;
          const copy = fromBinary(ConnectResponseSchema, toBinary(ConnectResponseSchema, response));
          carry(conn, "client", describeResponse(copy), () => clientEnd.onEvent(copy));
        },
        close(by, flush) {
          if (!conn.open) {
            conn.reads[by] = false;
            return;
          }
          open.delete(conn);
          const other: Side = by === "client" ? "master" : "client";
          conn.reads[by] = false;
          conn.writes = { client: false, master: false };
          if (!flush) conn.reads[other] = false;
          tell(conn, other, flush ? conn.lastAt[other] : queue.now);
          conn.told[by] = true;
        },
      };
      open.add(conn);
      return conn;
    },
    isolate(node, untilMs) {
      isolatedUntil.set(node, Math.max(untilMs, isolatedUntil.get(node) ?? 0));
    },
    isolated,
    reachableAt,
    breakOne() {
      if (open.size === 0) return;
      broken(rng.pick([...open]));
    },
    healAll() {
      isolatedUntil.clear();
    },
    get faulty() {
      return faulty;
    },
    set faulty(value) {
      faulty = value;
    },
    get carried() {
      return carried;
    },
  };
}

/** A request in a few words, for the trace of a failing seed. */
function describeRequest(request: ConnectRequest): string {
  const call = request.call;
  if (call.case === "scheduler") {
    const c = call.value;
    const task = c.kill?.taskId?.value ?? c.acknowledge?.taskId?.value ?? "";
    const launches = c.accept?.operations.flatMap((o) => o.launch?.taskInfos.map((t) => t.taskId?.value) ?? []) ?? [];
    return `${SchedulerCallType[c.type]} ${task}${launches.join(",")}`;
  }
  if (call.case === "agent") {
    const c = call.value.call;
    if (c.case === "statusUpdate")
      return `statusUpdate ${c.value.status?.taskId?.value} ${TaskState[c.value.status?.state ?? 0]}`;
    return c.case ?? "none";
  }
  return call.case ?? "none";
}

function describeResponse(response: ConnectResponse): string {
  const event = response.event;
  if (event.case === "scheduler") {
    const e = event.value;
    const status = e.update?.status;
    const detail =
      status !== undefined
        ? ` ${status.taskId?.value} ${TaskState[status.state]}${status.uuid.length ? "" : ` (no uuid: ${status.message})`}`
        : "";
    return `${SchedulerEventType[e.type]}${detail}`;
  }
  if (event.case === "agent") {
    const e = event.value.event;
    const task =
      e.case === "runTask"
        ? ` ${e.value.task?.taskId?.value}`
        : e.case === "killTask" || e.case === "acknowledge"
          ? ` ${e.value.taskId?.value}`
          : "";
    return `${e.case}${task} (epoch ${event.value.leaderEpoch})`;
  }
  if (event.case === "error") return `error: ${event.value.message}`;
  return event.case ?? "none";
}
