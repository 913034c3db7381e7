/**
 * One agent machine: the real agent core behind a link modelled on
 * src/agent/master-link.ts (Register on every new stream, leader epochs,
 * heartbeat answers, a watchdog that redials a silent master) and the
 * effects src/agent/effects.ts performs, with executors from executors.ts.
 *
 *   (dial the known leader) ──Register──► registering ──Registered──► registered
 *   registered ──events of the newest epoch──► core; older epochs ignored
 *   (stream closes, or silent too long) ──► core.disconnected() ──backoff──► dial again
 *   crash ──► executors and tasks vanish with it ──restart──► a new core, same id
 *                                                           (or a wiped work dir: none)
 */
import { create } from "@bufbuild/protobuf";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import {
  AgentCall_ReconfigurationPolicy,
  type AgentEvent,
  ConnectRequestSchema,
  type ConnectResponse,
} from "../../gen/mesos/v2/mesos_pb.js";
import { type AgentCore, type AgentEffect, createAgentCore } from "../core/agent/agent-core.js";
import { createCounterIds } from "../core/clock.js";
import { parseResources } from "../core/resources/index.js";
import type { EventQueue } from "./event-queue.js";
import { createExecutorModel, type ExecutorModel, type ExecutorObserver } from "./executors.js";
import type { MasterNode } from "./master-node.js";
import type { Connection, Network } from "./network.js";
import type { Rng } from "./rng.js";

export const AGENT_RESOURCES = "cpus:4;mem:4096";

export interface AgentNode {
  readonly name: string;
  /** The current incarnation's core; undefined while crashed. */
  readonly core: AgentCore | undefined;
  /** Bumped by every restart: tasks of an earlier incarnation died with it. */
  readonly incarnation: number;
  /** Tasks its executors are running now (`framework/task`): the machine's truth. */
  running(): string[];
  /** The master it is registered with now, if any. */
  readonly registeredWith: MasterNode | undefined;
  start(): void;
  crash(): void;
  /** Starts again; `wiped`: with an empty work dir, so a new agent id. */
  restart(wiped: boolean): void;
  /** The leader it would dial changed: it leaves its master and dials the new one. */
  leaderChanged(): void;
}

export interface AgentNodeDeps {
  name: string;
  /** Its address: a wiped agent comes back at the same one, which tells the master the old one is gone. */
  ip: string;
  queue: EventQueue;
  rng: Rng;
  net: Network;
  /** The master this agent would dial now, as its leader watch last told it. */
  leader(): MasterNode | undefined;
  observer: ExecutorObserver;
  bug(message: string): void;
}

export function createAgentNode(deps: AgentNodeDeps): AgentNode {
  const { queue, rng, net, name } = deps;
  let core: AgentCore | undefined;
  let executors: ExecutorModel | undefined;
  let incarnation = 0;
  let savedId: string | undefined;
  let conn: Connection | undefined;
  let master: MasterNode | undefined;
  let registered = false;
  let leaderEpoch = 0n;
  let lastHeard = 0;
  let heartbeatSeconds: number | undefined;
  let backoff = 200;
  let resendAt: number | undefined;

  const alive = (inc: number) => () => core !== undefined && incarnation === inc;

  const send = (call: AgentEffect & { kind: "to-master" }): void => {
    conn?.toMaster(create(ConnectRequestSchema, { call: { case: "agent", value: call.call } }));
  };

  const apply = (effects: AgentEffect[]): void => {
    for (const effect of effects) {
      switch (effect.kind) {
        case "to-master":
          send(effect);
          break;
        case "to-executor":
          executors?.deliver(effect.frameworkId, effect.executorId, effect.event);
          break;
        case "launch-executor":
          executors?.launch(effect.launch);
          break;
        case "stop-executor":
          executors?.stop(effect.frameworkId, effect.executorId, effect.graceMs);
          break;
        case "apply-operation":
          if (core !== undefined) apply(core.operationApplied(effect.uuid));
          break;
        default:
          break;
      }
    }
    scheduleResend();
  };

  /** One resend timer, re-armed after every batch for the core's next due update. */
  const scheduleResend = (): void => {
    const at = core?.nextTickAt();
    if (at === undefined || at === resendAt) return;
    resendAt = at;
    const inc = incarnation;
    queue.after(at - queue.now, `${name} resends updates`, () => {
      if (!alive(inc)() || resendAt !== at || core === undefined) return;
      resendAt = undefined;
      apply(core.tick(queue.now));
    });
  };

  const dispatch = (event: AgentEvent): void => {
    if (core === undefined) return;
    const now = queue.now;
    const e = event.event;
    switch (e.case) {
      case "registered":
        savedId = e.value.agentId?.value;
        registered = true;
        backoff = 200;
        heartbeatSeconds = e.value.heartbeatIntervalSeconds || undefined;
        return apply(core.registered(e.value.agentId?.value ?? "", now));
      case "runTask":
        if (e.value.frameworkInfo !== undefined && e.value.task !== undefined)
          apply(core.runTask(e.value.frameworkInfo, e.value.task, now));
        return;
      case "killTask":
        return apply(
          core.killTask(e.value.frameworkId?.value ?? "", e.value.taskId?.value ?? "", e.value.killPolicy, now),
        );
      case "acknowledge":
        return apply(
          core.acknowledge(e.value.frameworkId?.value ?? "", e.value.taskId?.value ?? "", e.value.uuid, now),
        );
      case "reconcileTasks":
        if (e.value.frameworkInfo === undefined) return;
        return apply(
          core.reconcileTasks(
            e.value.frameworkInfo,
            e.value.taskIds.map((id) => id.value),
            now,
          ),
        );
      case "resendUpdates":
        return apply(core.resendUpdates(e.value.frameworkId?.value ?? "", now));
      case "shutdownFramework":
        return apply(core.shutdownFramework(e.value.frameworkId?.value ?? "", now));
      case "shutdownExecutor":
        return apply(core.shutdownExecutor(e.value.frameworkId?.value ?? "", e.value.executorId?.value ?? "", now));
      case "heartbeat":
        conn?.toMaster(
          create(ConnectRequestSchema, { call: { case: "agent", value: { call: { case: "heartbeat", value: {} } } } }),
        );
        return;
      default:
        return;
    }
  };

  const onEvent = (c: Connection, response: ConnectResponse): void => {
    if (c !== conn || core === undefined) return;
    lastHeard = queue.now;
    if (response.event.case === "error") {
      if (response.event.value.fatal) deps.bug(`${name} was refused for good: ${response.event.value.message}`);
      return;
    }
    if (response.event.case !== "agent") return;
    const event = response.event.value;
    // As master-link.ts: a deposed master (an older epoch than one seen) gives no orders.
    if (event.event.case === "registered") leaderEpoch = event.leaderEpoch;
    if (event.leaderEpoch < leaderEpoch) return;
    leaderEpoch = event.leaderEpoch;
    dispatch(event);
  };

  const disconnected = (): void => {
    conn = undefined;
    master = undefined;
    registered = false;
    core?.disconnected();
    const inc = incarnation;
    const wait = rng.int(backoff / 2, backoff);
    backoff = Math.min(backoff * 2, 10_000);
    queue.after(wait, `${name} redials`, () => {
      if (alive(inc)() && conn === undefined) dial();
    });
  };

  const dial = (): void => {
    if (core === undefined) return;
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
    const registration = core.registration();
    c.toMaster(
      create(ConnectRequestSchema, {
        id: `${name}-register-${queue.now}`,
        call: {
          case: "agent",
          value: {
            call: {
              case: "register",
              value: { ...registration, ip: deps.ip, reconfigurationPolicy: AgentCall_ReconfigurationPolicy.EQUAL },
            },
          },
        },
      }),
    );
  };

  /** Three missed heartbeats and 5 s (master-link.ts): the master is presumed gone. */
  const watchdog = (inc: number): void => {
    queue.after(2000, `${name} watchdog`, () => {
      if (!alive(inc)()) return;
      const timeout = heartbeatSeconds === undefined ? 15_000 : (heartbeatSeconds * 3 + 5) * 1000;
      if (conn !== undefined && queue.now - lastHeard > timeout) {
        conn.close("client", false);
        disconnected();
      }
      watchdog(inc);
    });
  };

  const boot = (id: string | undefined): void => {
    incarnation++;
    const inc = incarnation;
    const resources = parseResources(AGENT_RESOURCES);
    core = createAgentCore(
      {
        workDir: `/sim/${name}`,
        agentInfo: create(AgentInfoSchema, { hostname: name, port: 5051, resources }),
        version: "sim",
        ids: createCounterIds(`${name}.${inc}`),
        uuid: () => rng.uuid(),
        updateRetry: { minMs: 1_000, maxMs: 8_000 },
      },
      id,
    );
    const current = core;
    executors = createExecutorModel({
      agent: name,
      core: current,
      queue,
      rng,
      alive: alive(inc),
      apply,
      observer: deps.observer,
    });
    leaderEpoch = 0n;
    heartbeatSeconds = undefined;
    backoff = 200;
    resendAt = undefined;
    watchdog(inc);
    dial();
  };

  return {
    name,
    get core() {
      return core;
    },
    get incarnation() {
      return incarnation;
    },
    running: () => executors?.running() ?? [],
    get registeredWith() {
      return registered ? master : undefined;
    },
    start: () => boot(undefined),
    crash() {
      if (core === undefined) return;
      conn?.close("client", false);
      conn = undefined;
      master = undefined;
      registered = false;
      core = undefined;
      executors = undefined;
    },
    restart(wiped) {
      if (core !== undefined) return;
      if (wiped) savedId = undefined;
      boot(savedId);
    },
    leaderChanged() {
      if (core === undefined || conn === undefined || deps.leader() === master) return;
      conn.close("client", false);
      disconnected();
    },
  };
}
