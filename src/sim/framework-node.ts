/**
 * A scheduler that keeps the cluster full: it subscribes (again with its
 * framework id after a failover or a crash), launches tasks on the offers it
 * gets, acknowledges every update that carries a uuid, kills a task now and
 * then, reconciles, and redials a master that went silent. Its view (the
 * latest state of each task it heard of) is what the checker compares with
 * the agents' truth.
 *
 *   dial ──SUBSCRIBE──► SUBSCRIBED ──OFFERS──► ACCEPT (LAUNCH) / DECLINE
 *     ▲                     │ UPDATE ──► ACKNOWLEDGE (when it carries a uuid)
 *     └── backoff ◄── stream closes, silent too long, failed over
 *   removed (failover timeout passed, or TEARDOWN) ──► done for good
 */
import { create } from "@bufbuild/protobuf";
import {
  FrameworkInfo_Capability_Type,
  type Offer,
  type TaskState,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type Call, Call_Type, CallSchema, type Event, Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema, type ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { parseResources } from "../core/resources/index.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { EventQueue } from "./event-queue.js";
import type { MasterNode } from "./master-node.js";
import type { Connection, Network } from "./network.js";
import type { Rng } from "./rng.js";

/** What the framework believes of one task it launched. */
export interface TaskView {
  state: TaskState | undefined;
  agentId: string;
}

/** What the checker hears from the framework. */
export interface FrameworkObserver {
  /** An UPDATE reached the scheduler. */
  updated(framework: FrameworkNode, taskId: string, status: TaskStatus): void;
}

export interface FrameworkNode {
  readonly name: string;
  readonly id: string | undefined;
  /** Removed by the master (or torn down): it will not come back. */
  readonly done: boolean;
  readonly tasks: ReadonlyMap<string, TaskView>;
  /** Launching, killing and tearing down stop (the quiet phase); acknowledging and reconciling go on. */
  quiet: boolean;
  start(): void;
  crash(): void;
  restart(): void;
  leaderChanged(): void;
}

export interface FrameworkNodeDeps {
  name: string;
  queue: EventQueue;
  rng: Rng;
  net: Network;
  leader(): MasterNode | undefined;
  observer: FrameworkObserver;
}

const TASK_RESOURCES = "cpus:1;mem:512";
/** Tasks it wants running at once. */
const WANTED = 10;

export function createFrameworkNode(deps: FrameworkNodeDeps): FrameworkNode {
  const { queue, rng, net, name } = deps;
  const failoverTimeout = rng.pick([3, 60, 3600]);
  const tasks = new Map<string, TaskView>();
  let id: string | undefined;
  let done = false;
  let alive = false;
  let incarnation = 0;
  let conn: Connection | undefined;
  let master: MasterNode | undefined;
  let subscribed = false;
  let lastHeard = 0;
  let backoff = 200;
  let launched = 0;
  const node: FrameworkNode = {
    name,
    get id() {
      return id;
    },
    get done() {
      return done;
    },
    tasks,
    quiet: false,
    start: () => boot(),
    crash() {
      if (!alive) return;
      alive = false;
      conn?.close("client", false);
      conn = undefined;
      subscribed = false;
    },
    restart() {
      if (!alive && !done) boot();
    },
    leaderChanged() {
      if (!alive || conn === undefined || deps.leader() === master) return;
      conn.close("client", false);
      disconnected();
    },
  };

  const call = (init: Omit<Parameters<typeof create<typeof CallSchema>>[1], "frameworkId">): void => {
    if (!subscribed || id === undefined) return;
    const c: Call = create(CallSchema, { ...init, frameworkId: { value: id } });
    conn?.toMaster(create(ConnectRequestSchema, { id: `${name}-${queue.now}`, call: { case: "scheduler", value: c } }));
  };

  const live = (): number =>
    [...tasks.values()].filter((t) => t.state === undefined || !isTerminalState(t.state)).length;

  const offers = (list: Offer[]): void => {
    for (const offer of list) {
      const offerId = offer.id;
      if (offerId === undefined) continue;
      const cpus = offer.resources.find((r) => r.name === "cpus")?.scalar?.value ?? 0;
      const mem = offer.resources.find((r) => r.name === "mem")?.scalar?.value ?? 0;
      const fit = Math.min(Math.floor(cpus), Math.floor(mem / 512), WANTED - live());
      // Now and then an offer is held unanswered: the master's offer timeout rescinds it.
      if (!node.quiet && rng.chance(0.05)) continue;
      if (node.quiet || fit <= 0) {
        // Idle in the quiet phase: a long filter, as an idle scheduler sets, keeps offers from churning.
        const refuseSeconds = node.quiet ? 30 : 1;
        call({ type: Call_Type.DECLINE, decline: { offerIds: [offerId], filters: { refuseSeconds } } });
        continue;
      }
      const taskInfos = Array.from({ length: fit }, () => {
        const taskId = `${name}-t${++launched}`;
        tasks.set(taskId, { state: undefined, agentId: offer.agentId?.value ?? "" });
        return {
          name: taskId,
          taskId: { value: taskId },
          agentId: offer.agentId,
          resources: parseResources(TASK_RESOURCES),
          command: { shell: true, value: "sleep 1000" },
        };
      });
      call({
        type: Call_Type.ACCEPT,
        accept: {
          offerIds: [offerId],
          operations: [{ type: 1, launch: { taskInfos } }],
          filters: { refuseSeconds: 1 },
        },
      });
    }
  };

  const reconcile = (): void => {
    const open = [...tasks].filter(([, t]) => t.state === undefined || !isTerminalState(t.state));
    call({
      type: Call_Type.RECONCILE,
      reconcile: {
        tasks: open.map(([taskId, t]) => ({
          taskId: { value: taskId },
          agentId: t.agentId ? { value: t.agentId } : undefined,
        })),
      },
    });
  };

  const onScheduler = (event: Event): void => {
    switch (event.type) {
      case Event_Type.SUBSCRIBED:
        id = event.subscribed?.frameworkId?.value;
        subscribed = true;
        backoff = 200;
        return reconcile();
      case Event_Type.OFFERS:
        return offers(event.offers?.offers ?? []);
      case Event_Type.UPDATE: {
        const status = event.update?.status;
        const taskId = status?.taskId?.value ?? "";
        if (status === undefined) return;
        deps.observer.updated(node, taskId, status);
        const view = tasks.get(taskId);
        // Once it ended the scheduler is done with it (a late answer to an
        // earlier reconciliation may still say "cannot see it").
        if (view !== undefined && (view.state === undefined || !isTerminalState(view.state))) {
          view.state = status.state;
          if (status.agentId?.value) view.agentId = status.agentId.value;
        }
        if (status.uuid.length > 0)
          call({
            type: Call_Type.ACKNOWLEDGE,
            acknowledge: { agentId: status.agentId, taskId: status.taskId, uuid: status.uuid },
          });
        return;
      }
      case Event_Type.ERROR:
        // Another scheduler took over this framework, or the master says it is gone.
        conn?.close("client", false);
        return disconnected();
      default:
        return;
    }
  };

  const onEvent = (c: Connection, response: ConnectResponse): void => {
    if (c !== conn || !alive) return;
    lastHeard = queue.now;
    if (response.event.case === "error") {
      if (!response.event.value.fatal) return;
      // Removed (failover timeout passed): a scheduler cannot come back under this id.
      done = true;
      alive = false;
      conn.close("client", false);
      conn = undefined;
      return;
    }
    if (response.event.case === "scheduler") onScheduler(response.event.value);
  };

  const disconnected = (): void => {
    conn = undefined;
    master = undefined;
    subscribed = false;
    if (!alive) return;
    const inc = incarnation;
    const wait = rng.int(backoff / 2, backoff);
    backoff = Math.min(backoff * 2, 10_000);
    queue.after(wait, `${name} redials`, () => {
      if (alive && inc === incarnation && conn === undefined) dial();
    });
  };

  const dial = (): void => {
    const leader = deps.leader();
    const c = net.connect(
      name,
      leader?.name ?? "nobody",
      { onEvent: (r) => onEvent(c, r), onClosed: () => c === conn && disconnected() },
      leader ?? { onRequest: () => undefined, onClosed: () => undefined },
    );
    conn = c;
    master = leader;
    lastHeard = queue.now;
    if (leader === undefined) return c.close("master", false);
    leader.accept(c);
    const frameworkId = id === undefined ? undefined : { value: id };
    const subscribe: Call = create(CallSchema, {
      type: Call_Type.SUBSCRIBE,
      frameworkId,
      subscribe: {
        frameworkInfo: {
          user: "sim",
          name,
          id: frameworkId,
          failoverTimeout,
          capabilities: [{ type: FrameworkInfo_Capability_Type.PARTITION_AWARE }],
        },
      },
    });
    c.toMaster(
      create(ConnectRequestSchema, {
        id: `${name}-subscribe-${queue.now}`,
        call: { case: "scheduler", value: subscribe },
      }),
    );
  };

  /** Every two seconds: a silent master is left, a task is killed now and then, and the view reconciled. */
  const tick = (inc: number): void => {
    queue.after(2000, `${name} tick`, () => {
      if (!alive || inc !== incarnation) return;
      if (conn !== undefined && queue.now - lastHeard > 3 * 5_000 + 5_000) {
        conn.close("client", false);
        disconnected();
      }
      if (subscribed && !node.quiet && rng.chance(0.1)) {
        const running = [...tasks].filter(([, t]) => t.state !== undefined && !isTerminalState(t.state));
        if (running.length > 0) {
          const [taskId, t] = rng.pick(running);
          call({ type: Call_Type.KILL, kill: { taskId: { value: taskId }, agentId: { value: t.agentId } } });
        }
      }
      if (subscribed && rng.chance(node.quiet ? 0.3 : 0.1)) reconcile();
      tick(inc);
    });
  };

  const boot = (): void => {
    alive = true;
    incarnation++;
    backoff = 200;
    tick(incarnation);
    dial();
  };

  return node;
}
