/**
 * A whole cluster in one process, with no sockets and on fake timers, in
 * the spirit of connect-es' createRouterTransport: the master's real leading
 * term (`lead()`: core, session table, effect runner, its intervals) over
 * the embedded election's in-memory registry, the real agent shell over a
 * containerizer twin (in-process-agent.ts), and schedulers that are plain
 * recorders. Streams are in-memory wires: every message takes `latencyMs`
 * of fake time and arrives in the order it was sent, on a later turn than
 * the one that sent it, as over a socket.
 *
 *   scheduler ──wire──► sessions.request() ──► term runner ──► core
 *       ▲    ◄──wire── its refusals (awaited)      │ registry writes first (embedded registry)
 *       └────◄──wire── sink ◄── sessions.apply ◄───┘ then sends, ends; allocation flag
 *   agent shell ──wire──► sessions.serve() (a Connect stream) ──► term runner (dispatch)
 *
 * Schedulers are modelled on a v1 HTTP framework (a sink session; each call
 * awaits exactly its refusals), agents on `plateau agent` (a Connect
 * stream, whose refusals come back on the stream): between them they cover
 * both kinds of session the master serves.
 *
 * Nothing moves until the test awaits `settle()` (everything due now, until
 * quiet) or `advance(ms)`; both let promise chains (registry writes, stream
 * readers) run between two timers, as Node's event loop does. Agents
 * reconnect only when told (`connect()`); a real agent redials with backoff.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema } from "../../gen/mesos/v2/mesos_pb.js";
import type { MasterCore } from "../../src/core/master/master-core.js";
import type { Registry } from "../../src/core/registry/registry.js";
import type { Logger } from "../../src/log.js";
import { createEmbeddedElection, type Term } from "../../src/master/election.js";
import { type Leading, lead } from "../../src/master/leading.js";
import { masterInfoOf } from "../../src/master/master-info.js";
import { defaultMasterOptions, type MasterOptions } from "../../src/master/options.js";
import type { RegistryStore } from "../../src/master/registry.js";
import { createFakeTimers, type FakeTimers } from "../../src/util/timers.js";
import {
  type ClusterAgent,
  type ClusterAgentOptions,
  createClusterAgent,
  type OwnedAgent,
  type Wire,
} from "./in-process-agent.js";
import { type ClusterScheduler, createScheduler } from "./in-process-scheduler.js";

export type { ClusterAgent, ClusterScheduler };

export interface InProcessClusterOptions {
  /** Time each message spends on a wire; default 0 (still a later turn). */
  latencyMs?: number;
  /**
   * Time each registry write takes before the embedded registry stores it;
   * default 0. Longer lets calls arrive while a write is in flight, as with
   * a registry on disk or in etcd.
   */
  registryWriteMs?: number;
  /** The master's flags, over `plateau master`'s defaults (intervals, timeouts, ...). */
  master?: Partial<MasterOptions>;
}

export interface InProcessCluster {
  readonly timers: FakeTimers;
  /** The leading master's term: its core, sessions, runner. */
  readonly leading: Leading;
  readonly master: MasterCore;
  /** What the master has stored so far. */
  readonly registry: Registry;
  addAgent(name: string, options?: ClusterAgentOptions): ClusterAgent;
  /** A scheduler whose SUBSCRIBE is on the wire (FrameworkInfo fields; user and name default). */
  addScheduler(name: string, info?: Record<string, unknown>): ClusterScheduler;
  /** Runs everything due now, until nothing is; throws if the master logged a bug meanwhile. */
  settle(): Promise<void>;
  /** Moves time forward, running what falls due on the way, as `settle` does. */
  advance(ms: number): Promise<void>;
  /** Stops the agents (their executors exit), then the master's term, then drains the wires. */
  close(): Promise<void>;
}

/** Lets every promise chain run that can: nothing here waits on I/O, so one macrotask turn drains them all. */
const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The master's logger: errors are bugs (the runner logs a core exception
 * and carries on), so they are kept for `settle()` to throw; the rest is dropped.
 */
function bugRecorder(bugs: string[]): Logger {
  return pino({ level: "error" }, { write: (line: string) => void bugs.push(line.trim()) });
}

/** `store`, each write of which starts only when `wait` lets it (in call order). */
function slowed(store: RegistryStore, wait: (start: () => void) => void): RegistryStore {
  return {
    get current() {
      return store.current;
    },
    location: store.location,
    apply: (operation) => new Promise<void>((start) => wait(start)).then(() => store.apply(operation)),
  };
}

export async function createInProcessCluster(options: InProcessClusterOptions = {}): Promise<InProcessCluster> {
  const timers = createFakeTimers();
  const latency = options.latencyMs ?? 0;
  /** Messages on a wire and registry writes, not yet arrived. */
  let inTransit = 0;
  const after = (ms: number, arrive: () => void): void => {
    inTransit++;
    timers.setTimeout(() => {
      inTransit--;
      arrive();
    }, ms);
  };
  const wire: Wire = (deliver) => after(latency, deliver);
  const writeMs = options.registryWriteMs ?? 0;
  const bugs: string[] = [];

  const masterOptions: MasterOptions = { ...defaultMasterOptions, hostname: "master", ...options.master };
  const info = masterInfoOf("master", masterOptions);
  const election = createEmbeddedElection(undefined);
  const won = await election.campaign(info);
  const term: Term = writeMs === 0 ? won : { ...won, registry: slowed(won.registry, (store) => after(writeMs, store)) };
  const leading = lead({
    options: masterOptions,
    info,
    term,
    timers,
    logger: bugRecorder(bugs),
    onRegistryFailure: (err) => bugs.push(`a registry write failed, ending the term: ${String(err)}`),
  });
  await term.announce();
  const { sessions } = leading;

  const agents: OwnedAgent[] = [];
  const addAgent: InProcessCluster["addAgent"] = (name, agentOptions) => {
    const agent = createClusterAgent(name, { timers, wire, sessions }, agentOptions);
    agents.push(agent);
    return agent;
  };

  /** Calls awaiting their answer; `close` awaits them. */
  const inFlight = new Set<Promise<void>>();
  const addScheduler: InProcessCluster["addScheduler"] = (name, frameworkInfo = {}) => {
    // Calls whose answer is awaited: an error event carrying one's id is
    // its refusal, which the answer reports (the v1 gateway drops it likewise).
    const awaited = new Set<string>();
    let calls = 0;
    // The session opens before its SUBSCRIBE arrives; the core learns of it only then.
    const session = sessions.open({
      send(response) {
        if (response.event.case === "error" && awaited.has(response.callId)) return;
        wire(() => scheduler.end.deliver(response));
      },
      end: (error) => wire(() => scheduler.end.end(error)),
    });
    const send = (init: MessageInitShape<typeof ConnectRequestSchema>): void => {
      const request = create(ConnectRequestSchema, { ...init, id: `${session}-${++calls}` });
      wire(() => {
        if (!sessions.has(session)) return;
        awaited.add(request.id);
        const answered: Promise<void> = sessions
          .request(session, request)
          .then(
            (refusals) => refusals.map((r) => r.message),
            (err: unknown) => [ConnectError.from(err).message],
          )
          .then((messages) => {
            awaited.delete(request.id);
            inFlight.delete(answered);
            for (const message of messages) wire(() => scheduler.end.refused(message));
          });
        inFlight.add(answered);
      });
    };
    const scheduler = createScheduler(session, send);
    scheduler.call({
      type: SchedulerCallType.SUBSCRIBE,
      subscribe: { frameworkInfo: { user: "test", name, ...frameworkInfo } },
    });
    return scheduler;
  };

  /** Runs timers one at a time up to `until`, letting promise chains run after each; never throws. */
  const runUntil = async (until: number): Promise<void> => {
    for (;;) {
      await flushMicrotasks();
      if (!timers.runNext(until - timers.now())) break;
    }
    timers.advance(until - timers.now());
  };
  const noBugs = (): void => {
    if (bugs.length > 0) throw new Error(`the master logged errors (bugs):\n${bugs.join("\n")}`);
  };

  return {
    timers,
    leading,
    master: leading.core,
    get registry() {
      return term.registry.current;
    },
    addAgent,
    addScheduler,
    async settle() {
      await runUntil(timers.now());
      noBugs();
    },
    async advance(ms) {
      await runUntil(timers.now() + ms);
      noBugs();
    },
    async close() {
      for (const agent of agents) await agent.close();
      await leading.stop(new ConnectError("the in-process cluster is closing", Code.Unavailable));
      await term.resign();
      await election.close();
      // What is still on a wire (the streams' ends, the last answers) is
      // delivered, and a write in flight lands (the runner no longer awaits
      // it); nobody is left to send more, so a few rounds suffice.
      for (let round = 0; round < 10 && (inTransit > 0 || inFlight.size > 0); round++)
        await runUntil(timers.now() + Math.max(latency, writeMs));
      await Promise.all(inFlight);
      noBugs();
    },
  };
}
