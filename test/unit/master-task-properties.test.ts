/**
 * Property test of the master's task bookkeeping, driving the pure master
 * core as the shell does, under random interleavings of launches, agent
 * status updates (legal or not), kills, agent disconnects, silence past the
 * ping timeouts, re-registration with or without the tasks, and agents
 * marked gone. Fake agents stand in for real ones and may misbehave.
 */

import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CallSchema as OperatorCallSchema,
  Call_Type as OperatorCallType,
} from "../../gen/mesos/v1/master/master_pb.js";
import { FrameworkInfo_Capability_Type as Capability, type Resource, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { parseResources } from "../../src/core/resources/index.js";
import { isTerminalState, TASK_STATES } from "../../src/core/task-lifecycle.js";
import { MasterHarness } from "../helpers/master-harness.js";

const AGENT_RESOURCES = "cpus:4;mem:1024";
const FRAMEWORKS = [
  {
    session: "s-aware",
    info: { name: "aware", failoverTimeout: 1e6, capabilities: [{ type: Capability.PARTITION_AWARE }] },
  },
  { session: "s-plain", info: { name: "plain", failoverTimeout: 1e6 } },
];
const FORWARD_STATES = [
  TaskState.TASK_STARTING,
  TaskState.TASK_RUNNING,
  TaskState.TASK_KILLING,
  TaskState.TASK_FINISHED,
  TaskState.TASK_FAILED,
  TaskState.TASK_KILLED,
];

const action = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("allocate" as const) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("launch" as const),
      framework: fc.nat(),
      offer: fc.nat(),
      cpus: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      agent: fc.nat(),
      task: fc.nat(),
      state: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...FORWARD_STATES) },
        { weight: 1, arbitrary: fc.constantFrom(...TASK_STATES) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("kill" as const), framework: fc.nat(), task: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("forget" as const), agent: fc.nat(), task: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), agent: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("silence" as const), agent: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("reregister" as const),
      agent: fc.nat(),
      report: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      keepUnreported: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 100 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mark-gone" as const), agent: fc.nat() }) },
);
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;

interface FakeTask {
  frameworkId: string;
  taskId: string;
  resources: Resource[];
  state: TaskState;
}

/** An agent as the master sees it from outside: it runs what it is told and says what it likes. */
interface FakeAgent {
  id: string;
  session: string | undefined;
  sessions: number;
  /** Stops answering pings while connected (a partition the stream does not notice). */
  silent: boolean;
  gone: boolean;
  tasks: Map<string, FakeTask>;
}

const key = (frameworkId: string, taskId: string) => `${frameworkId}/${taskId}`;

function scalars(resources: Resource[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) if (r.scalar !== undefined) out.set(r.name, (out.get(r.name) ?? 0) + r.scalar.value);
  return out;
}

class World {
  readonly h = new MasterHarness();
  readonly agents: FakeAgent[] = [];
  readonly frameworkIds: string[];
  /** Every task the master sent to an agent: the framework must be able to account for each. */
  readonly launched = new Set<string>();
  /** Tasks seen ended in the master's books, with their state. */
  readonly ended = new Map<string, TaskState>();
  private tasks = 0;
  private uuids = 0;

  constructor() {
    for (const name of ["a1", "a2"]) {
      const id = this.h.registerAgent(`${name}-1`, AGENT_RESOURCES, name);
      this.agents.push({ id, session: `${name}-1`, sessions: 1, silent: false, gone: false, tasks: new Map() });
    }
    this.frameworkIds = FRAMEWORKS.map((f) => this.h.subscribe(f.session, f.info));
    this.h.allocate();
    this.deliver();
  }

  agent(n: number): FakeAgent {
    return this.agents[n % this.agents.length] as FakeAgent;
  }

  /** Hands each fake agent what the master sent it, and notices streams the master ended. */
  deliver(): void {
    for (const agent of this.agents) {
      const session = agent.session;
      if (session === undefined) continue;
      for (const response of this.h.take(session)) {
        if (response.event.case !== "agent") continue;
        const event = response.event.value.event;
        if (event.case === "runTask") {
          const task = event.value.task;
          const frameworkId = event.value.frameworkInfo?.id?.value ?? "";
          const taskId = task?.taskId?.value ?? "";
          this.launched.add(key(frameworkId, taskId));
          agent.tasks.set(key(frameworkId, taskId), {
            frameworkId,
            taskId,
            resources: task?.resources ?? [],
            state: TaskState.TASK_STAGING,
          });
        } else if (event.case === "heartbeat" && !agent.silent) {
          this.h.send(session, { case: "agent", value: { call: { case: "heartbeat", value: {} } } });
        }
      }
      if (this.h.ended.has(session)) {
        agent.session = undefined;
        this.h.closed(session);
      }
    }
    for (const f of FRAMEWORKS) this.h.take(f.session);
  }

  apply(a: Action): void {
    const h = this.h;
    switch (a.kind) {
      case "allocate":
        h.allocate();
        break;
      case "launch": {
        const frameworkId = this.frameworkIds[a.framework % this.frameworkIds.length] ?? "";
        const offers = [...h.core.state.offers.values()].filter((o) => o.frameworkId === frameworkId);
        const offer = offers[a.offer % Math.max(1, offers.length)];
        if (offer === undefined) break;
        const session = FRAMEWORKS[this.frameworkIds.indexOf(frameworkId)]?.session ?? "";
        const taskInfos = a.cpus.map((cpus) => ({
          name: "t",
          taskId: { value: `t${++this.tasks}` },
          agentId: { value: offer.agentId },
          resources: parseResources(`cpus:${cpus};mem:64`),
          command: { value: "true" },
        }));
        h.scheduler(session, {
          frameworkId: { value: frameworkId },
          type: SchedulerCallType.ACCEPT,
          accept: { offerIds: [offer.offer.id!], operations: [{ type: 1, launch: { taskInfos } }] },
        });
        break;
      }
      case "update": {
        const agent = this.agent(a.agent);
        const task = [...agent.tasks.values()][a.task % Math.max(1, agent.tasks.size)];
        if (agent.session === undefined || task === undefined) break;
        const uuid = new Uint8Array(16);
        uuid[15] = ++this.uuids % 256;
        uuid[14] = Math.floor(this.uuids / 256);
        task.state = a.state;
        h.send(agent.session, {
          case: "agent",
          value: {
            call: {
              case: "statusUpdate",
              value: {
                frameworkId: { value: task.frameworkId },
                status: { taskId: { value: task.taskId }, state: a.state, uuid },
              },
            },
          },
        });
        break;
      }
      case "kill": {
        const frameworkId = this.frameworkIds[a.framework % this.frameworkIds.length] ?? "";
        const session = FRAMEWORKS[this.frameworkIds.indexOf(frameworkId)]?.session ?? "";
        h.scheduler(session, {
          frameworkId: { value: frameworkId },
          type: SchedulerCallType.KILL,
          kill: { taskId: { value: `t${(a.task % Math.max(1, this.tasks)) + 1}` } },
        });
        break;
      }
      case "forget": {
        // The agent drops a task whose terminal update it considers delivered.
        const agent = this.agent(a.agent);
        const ended = [...agent.tasks.values()].filter((t) => isTerminalState(t.state));
        const task = ended[a.task % Math.max(1, ended.length)];
        if (task !== undefined) agent.tasks.delete(key(task.frameworkId, task.taskId));
        break;
      }
      case "disconnect": {
        const agent = this.agent(a.agent);
        if (agent.session !== undefined) h.closed(agent.session);
        agent.session = undefined;
        break;
      }
      case "silence":
        this.agent(a.agent).silent = !this.agent(a.agent).silent;
        break;
      case "reregister":
        this.reregister(this.agent(a.agent), a.report, a.keepUnreported);
        break;
      case "time":
        h.advance(a.seconds * 1000);
        h.apply(h.core.pingAgents(h.now));
        this.deliver();
        h.apply(h.core.expire(h.now));
        break;
      case "mark-gone": {
        const agent = this.agent(a.agent);
        const call = create(OperatorCallSchema, {
          type: OperatorCallType.MARK_AGENT_GONE,
          markAgentGone: { agentId: { value: agent.id } },
        });
        const { result, effects } = h.core.operate(call, h.now);
        h.apply(effects);
        if (!("code" in result)) agent.gone = true;
        break;
      }
    }
    this.deliver();
  }

  reregister(agent: FakeAgent, report: boolean[], keepUnreported: boolean): void {
    if (agent.session !== undefined) this.h.closed(agent.session);
    const session = `${agent.id}-${++agent.sessions}`;
    agent.session = session;
    const reported = [...agent.tasks.values()].filter((_, i) => report[i % report.length]);
    // An agent that lost tasks (a restart without them) no longer has them; a confused one still runs them.
    if (!keepUnreported) for (const [k, t] of agent.tasks) if (!reported.includes(t)) agent.tasks.delete(k);
    const frameworks = FRAMEWORKS.map((f, i) => ({
      ...f.info,
      user: "test",
      id: { value: this.frameworkIds[i] ?? "" },
    }));
    this.h.send(session, {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: {
              hostname: agent.id,
              port: 5051,
              id: { value: agent.id },
              resources: parseResources(AGENT_RESOURCES),
            },
            frameworks,
            tasks: reported.map((t) => ({
              taskId: { value: t.taskId },
              frameworkId: { value: t.frameworkId },
              agentId: { value: agent.id },
              state: t.state,
              resources: t.resources,
            })),
          },
        },
      },
    });
    if (agent.gone) {
      expect(this.h.ended.has(session), "a gone agent was let back in").toBe(true);
      agent.session = undefined;
    }
  }

  check(): void {
    const state = this.h.core.state;
    const places = new Map<string, string[]>();
    const place = (k: string, where: string) => places.set(k, [...(places.get(k) ?? []), where]);
    for (const framework of state.frameworks.values()) {
      for (const [taskId, task] of framework.tasks) {
        const k = key(framework.id, taskId);
        place(k, "live");
        expect(
          isTerminalState(task.state) || task.state === TaskState.TASK_UNREACHABLE,
          `${k} live in ${TaskState[task.state]}`,
        ).toBe(false);
        const agent = state.agents.get(task.agentId?.value ?? "");
        expect(agent?.tasks.has(k), `${k} live but not on its agent`).toBe(true);
      }
      for (const [taskId, task] of framework.unreachable.byId) {
        const k = key(framework.id, taskId);
        place(k, "unreachable");
        expect(task.state, `${k} filed unreachable`).toBe(TaskState.TASK_UNREACHABLE);
        expect(state.agents.has(task.agentId?.value ?? ""), `${k} unreachable on a registered agent`).toBe(false);
      }
    }
    const histories = [...state.frameworks.values(), ...state.completedFrameworks];
    for (const task of histories.flatMap((f) => f.completed)) {
      const k = key(task.frameworkId?.value ?? "", task.taskId?.value ?? "");
      place(k, "completed");
      expect(isTerminalState(task.state), `${k} completed in ${TaskState[task.state]}`).toBe(true);
      const before = this.ended.get(k);
      expect(before === undefined || before === task.state, `${k} ended twice`).toBe(true);
      this.ended.set(k, task.state);
    }
    for (const [k, where] of places) expect(where, `${k} is in two places`).toHaveLength(1);
    for (const k of this.ended.keys()) expect(places.get(k), `${k} left completed_tasks`).toEqual(["completed"]);
    for (const k of this.launched) expect(places.has(k), `${k} is unaccounted for`).toBe(true);
    for (const agent of state.agents.values()) {
      for (const k of agent.tasks) expect(places.get(k), `${k} on agent ${agent.id} but not live`).toEqual(["live"]);
      const used = [...agent.tasks].flatMap((k) => {
        const [frameworkId = "", taskId = ""] = k.split("/");
        return state.frameworks.get(frameworkId)?.tasks.get(taskId)?.resources ?? [];
      });
      const offered = [...agent.offers].flatMap((id) => state.offers.get(id)?.resources ?? []);
      const total = scalars(agent.total);
      for (const [name, amount] of scalars([...used, ...offered])) {
        expect(amount, `agent ${agent.id}: ${name} in tasks and offers beyond its total`).toBeLessThanOrEqual(
          total.get(name) ?? 0,
        );
      }
    }
  }
}

describe("master task bookkeeping (properties)", () => {
  it("keeps every launched task in exactly one place, never revives an ended one, and never overcommits an agent", () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 80, size: "max" }), (actions) => {
        const world = new World();
        for (const a of actions) {
          world.apply(a);
          world.check();
        }
      }),
      { numRuns: 150 },
    );
  });
});
