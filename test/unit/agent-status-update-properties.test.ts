/**
 * Property tests of reliable status update delivery, through the agent core
 * as the shell drives it: executors' updates (legal or not), updates the
 * agent makes itself (kills, executor exits), the master's
 * acknowledgements (right, stale and bogus uuids), time passing on the
 * retry timer, and the master link dropping and coming back.
 */

import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AgentInfoSchema,
  FrameworkInfoSchema,
  TaskInfoSchema,
  type TaskState,
  type TaskStatus,
  TaskStatus_Source,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type AgentCore, type AgentEffect, createAgentCore } from "../../src/core/agent/agent-core.js";
import { STATUS_UPDATE_RETRY_MAX_MS, uuidHex } from "../../src/core/agent/status-update-stream.js";
import { createCounterIds } from "../../src/core/clock.js";
import { isTerminalState, LAUNCH_STATE, TASK_STATES, transition } from "../../src/core/task-lifecycle.js";

const FRAMEWORK = "fw";

/** Mesos' retry bounds, and tight ones that reach the cap within a few resends. */
const retryBounds = fc.constantFrom({ minMs: 10_000, maxMs: STATUS_UPDATE_RETRY_MAX_MS }, { minMs: 10, maxMs: 80 });
type RetryBounds = typeof retryBounds extends fc.Arbitrary<infer T> ? T : never;

const action = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("run" as const) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      task: fc.nat(),
      state: fc.constantFrom(...TASK_STATES),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replay" as const), task: fc.nat(), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("subscribe" as const), task: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("kill" as const), task: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("kill-unknown" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("exit" as const), task: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("ack" as const),
      task: fc.nat(),
      which: fc.constantFrom("in-flight", "stale", "bogus"),
    }),
  },
  // Time moves by up to twice the longest backoff, in thousandths of it.
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), permille: fc.integer({ min: 0, max: 2000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("disconnect" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reconnect" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("resubscribe" as const) }) },
);
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;

/** What the master has seen of one task's stream. */
interface Seen {
  /** Distinct updates in the order they first arrived. */
  uuids: string[];
  states: TaskState[];
  /** The update sent and not acknowledged yet. */
  inFlight: string | undefined;
  lastSentAt: number;
  acked: Set<string>;
}

/**
 * A fake master and executors around a real agent core. Every uuid comes
 * from one counter, so the order the core was given updates in is the
 * order of their uuids.
 */
class World {
  now = 0;
  connected = true;
  readonly core: AgentCore;
  readonly tasks: string[] = [];
  /** Updates an executor sent per task, to replay. */
  readonly sent = new Map<string, TaskStatus[]>();
  readonly seen = new Map<string, Seen>();
  /** Uuids of finished streams (terminal update acknowledged), per task. */
  readonly finished = new Map<string, string[]>();
  private counter = 0;
  private ghosts = 0;

  constructor(readonly retry: RetryBounds) {
    this.core = createAgentCore({
      updateRetry: retry,
      workDir: "/work",
      agentInfo: create(AgentInfoSchema, { hostname: "h", port: 5051 }),
      version: "test",
      ids: createCounterIds("c"),
      uuid: () => this.uuid(),
    });
    this.observe(this.core.registered("agent-1", this.now));
  }

  uuid(): Uint8Array {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(12, ++this.counter);
    return bytes;
  }

  seenOf(taskId: string): Seen {
    let s = this.seen.get(taskId);
    if (s === undefined) {
      s = { uuids: [], states: [], inFlight: undefined, lastSentAt: 0, acked: new Set() };
      this.seen.set(taskId, s);
    }
    return s;
  }

  /** Checks every update the agent sends against what the master saw before. */
  observe(effects: AgentEffect[]): TaskStatus[] {
    const delivered = effects.flatMap((e) =>
      e.kind === "to-master" && e.call.call.case === "statusUpdate" && e.call.call.value.status !== undefined
        ? [e.call.call.value.status]
        : [],
    );
    if (delivered.length > 0) expect(this.connected, "an update sent while the master is away").toBe(true);
    for (const status of delivered) {
      const taskId = status.taskId?.value ?? "";
      const seen = this.seenOf(taskId);
      const id = uuidHex(status.uuid);
      seen.lastSentAt = this.now;
      if (id === seen.inFlight) continue; // a resend
      expect(seen.acked.has(id), `${taskId}: an acknowledged update came back`).toBe(false);
      expect(seen.inFlight, `${taskId}: a second update in flight`).toBeUndefined();
      const previous = seen.states.at(-1);
      expect(previous === undefined || !isTerminalState(previous), `${taskId}: an update after the terminal one`).toBe(
        true,
      );
      expect(
        transition(previous ?? LAUNCH_STATE, status.state, "agent").ok,
        `${taskId}: an illegal move reached the master`,
      ).toBe(true);
      const last = seen.uuids.at(-1);
      expect(last === undefined || last < id, `${taskId}: updates out of order`).toBe(true);
      seen.uuids.push(id);
      seen.states.push(status.state);
      seen.inFlight = id;
    }
    return delivered;
  }

  /** Heads of each task's stream in the core, in flight or waiting. */
  heads(): Map<string, string> {
    const heads = new Map<string, string>();
    for (const p of this.core.state.updates.pending()) {
      const taskId = p.status.taskId?.value ?? "";
      if (!heads.has(taskId)) heads.set(taskId, uuidHex(p.status.uuid));
    }
    return heads;
  }

  task(n: number): string | undefined {
    return this.tasks.length === 0 ? undefined : this.tasks[n % this.tasks.length];
  }

  apply(a: Action): void {
    switch (a.kind) {
      case "run": {
        const taskId = `t${this.tasks.length + 1}`;
        this.tasks.push(taskId);
        const info = create(TaskInfoSchema, { name: taskId, taskId: { value: taskId }, command: { value: "true" } });
        this.observe(
          this.core.runTask(
            create(FrameworkInfoSchema, { id: { value: FRAMEWORK }, user: "u", name: "f" }),
            info,
            this.now,
          ),
        );
        return;
      }
      case "update": {
        const taskId = this.task(a.task);
        if (taskId === undefined) return;
        const status = create(TaskStatusSchema, {
          taskId: { value: taskId },
          state: a.state,
          uuid: this.uuid(),
          source: TaskStatus_Source.EXECUTOR,
        });
        this.sent.set(taskId, [...(this.sent.get(taskId) ?? []), status]);
        this.observe(this.core.executorUpdate(FRAMEWORK, taskId, status, this.now).effects);
        return;
      }
      case "replay": {
        const taskId = this.task(a.task);
        const old = taskId === undefined ? [] : (this.sent.get(taskId) ?? []);
        // An executor that reconnects resends what it thinks is unacknowledged.
        const status = old[a.pick % Math.max(1, old.length)];
        if (taskId === undefined || status === undefined) return;
        this.observe(this.core.executorUpdate(FRAMEWORK, taskId, status, this.now).effects);
        return;
      }
      case "subscribe": {
        const taskId = this.task(a.task);
        if (taskId !== undefined)
          this.observe(this.core.executorSubscribed(FRAMEWORK, taskId, undefined, this.now).effects);
        return;
      }
      case "kill": {
        const taskId = this.task(a.task);
        if (taskId !== undefined) this.observe(this.core.killTask(FRAMEWORK, taskId, undefined, this.now));
        return;
      }
      case "kill-unknown":
        this.observe(this.core.killTask(FRAMEWORK, `ghost${++this.ghosts}`, undefined, this.now));
        return;
      case "exit": {
        const taskId = this.task(a.task);
        if (taskId !== undefined)
          this.observe(this.core.executorExited(FRAMEWORK, taskId, { status: 9, description: "killed" }, this.now));
        return;
      }
      case "ack":
        return this.ack(a.task, a.which);
      case "advance": {
        this.now += Math.round((a.permille * this.retry.maxMs) / 1000);
        const overdue = this.overdue();
        const sent = this.observe(this.core.tick(this.now)).map((s) => s.taskId?.value ?? "");
        // Resent on the retry timer: never more than the longest backoff apart.
        for (const taskId of overdue) expect(sent, `${taskId}: not resent`).toContain(taskId);
        return;
      }
      case "disconnect":
        this.connected = false;
        this.core.disconnected();
        return;
      case "reconnect": {
        this.connected = true;
        const waiting = [...this.seen].flatMap(([taskId, s]) => (s.inFlight === undefined ? [] : [taskId]));
        const sent = this.observe(this.core.registered("agent-1", this.now)).map((s) => s.taskId?.value ?? "");
        for (const taskId of waiting) expect(sent, `${taskId}: not resent on reconnect`).toContain(taskId);
        return;
      }
      case "resubscribe":
        this.observe(this.core.resendUpdates(FRAMEWORK, this.now));
        return;
    }
  }

  /** Tasks whose update in flight has waited the longest backoff or more. */
  overdue(): string[] {
    if (!this.connected) return [];
    return [...this.seen].flatMap(([taskId, s]) =>
      s.inFlight !== undefined && this.now - s.lastSentAt >= this.retry.maxMs ? [taskId] : [],
    );
  }

  ack(n: number, which: "in-flight" | "stale" | "bogus"): void {
    // Acknowledgements come from the master, over the link.
    if (!this.connected) return;
    const entries = [...this.seen].filter(([, s]) => s.uuids.length > 0);
    const entry = entries[n % Math.max(1, entries.length)];
    if (entry === undefined) return;
    const [taskId, seen] = entry;
    if (which === "in-flight" && seen.inFlight !== undefined) return this.ackInFlight(taskId, seen, seen.inFlight);
    const uuid = which === "stale" && seen.acked.size > 0 ? Buffer.from([...seen.acked][0] ?? "", "hex") : this.uuid();
    const before = this.core.state.updates.pending().map((p) => uuidHex(p.status.uuid));
    this.observe(this.core.acknowledge(FRAMEWORK, taskId, uuid, this.now));
    expect(
      this.core.state.updates.pending().map((p) => uuidHex(p.status.uuid)),
      "a wrong acknowledgement changed the streams",
    ).toEqual(before);
  }

  /** The master acknowledges the update in flight: the next one, if any, goes out at once. */
  ackInFlight(taskId: string, seen: Seen, id: string): void {
    const terminal = isTerminalState(seen.states.at(-1) ?? LAUNCH_STATE);
    seen.acked.add(id);
    seen.inFlight = undefined;
    this.observe(this.core.acknowledge(FRAMEWORK, taskId, Buffer.from(id, "hex"), this.now));
    if (terminal) this.forgotten(taskId, seen);
  }

  /**
   * The task's terminal update was acknowledged: the agent forgets the task
   * and its stream. Anything it says later about that task id (a kill it no
   * longer knows) starts a new stream.
   */
  forgotten(taskId: string, seen: Seen): void {
    expect(this.core.state.tasks.has(`${FRAMEWORK}/${taskId}`)).toBe(false);
    expect(this.core.state.updates.has(FRAMEWORK, taskId)).toBe(false);
    this.seen.set(taskId, { uuids: [], states: [], inFlight: undefined, lastSentAt: 0, acked: seen.acked });
    this.finished.set(taskId, [...(this.finished.get(taskId) ?? []), ...seen.uuids]);
  }

  /** While the master is there, no task's next update waits unsent. */
  checkNothingWaits(): void {
    if (!this.connected) return;
    for (const [taskId, head] of this.heads())
      expect(this.seen.get(taskId)?.inFlight, `${taskId}: head not sent`).toBe(head);
  }

  /**
   * The master comes back and acknowledges everything: every update the
   * agent took arrives, in order, and the streams empty.
   */
  drain(): void {
    const expected = new Map<string, string[]>();
    for (const [taskId, s] of this.seen)
      expected.set(
        taskId,
        s.uuids.filter((id) => id !== s.inFlight),
      );
    for (const p of this.core.state.updates.pending()) {
      const taskId = p.status.taskId?.value ?? "";
      expected.set(taskId, [...(expected.get(taskId) ?? []), uuidHex(p.status.uuid)]);
    }
    if (!this.connected) this.apply({ kind: "reconnect" });
    for (let rounds = 0; this.core.state.updates.pending().length > 0; rounds++) {
      expect(rounds).toBeLessThan(1000);
      const next = this.core.nextTickAt();
      if (next !== undefined && next > this.now) this.now = next;
      this.observe(this.core.tick(this.now));
      for (const [taskId, s] of [...this.seen]) if (s.inFlight !== undefined) this.ackInFlight(taskId, s, s.inFlight);
    }
    for (const [taskId, uuids] of expected) {
      const arrived = [...(this.finished.get(taskId) ?? []), ...(this.seen.get(taskId)?.uuids ?? [])];
      expect(arrived.slice(arrived.length - uuids.length), `${taskId}: not every update arrived`).toEqual(uuids);
    }
  }
}

describe("agent status updates (properties)", () => {
  it("delivers each task's updates in order, at least once until acknowledged, never one after the terminal update", () => {
    fc.assert(
      fc.property(retryBounds, fc.array(action, { minLength: 1, maxLength: 80, size: "max" }), (retry, actions) => {
        const world = new World(retry);
        for (const a of actions) {
          world.apply(a);
          world.checkNothingWaits();
        }
        world.drain();
      }),
      { numRuns: 200 },
    );
  });
});
