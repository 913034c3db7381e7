/**
 * The per-term effect runner, on a fake clock with an in-memory registry
 * whose writes the test completes by hand: the order of writes and sends,
 * each call's refusals, step-down on a failed write, allocation batching.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type ConnectRequest, ConnectRequestSchema, Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import type { Effect } from "../../src/core/master/master-core.js";
import { applyRegistryOperation, emptyRegistry, type RegistryOperation } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";
import { silentLogger } from "../../src/log.js";
import type { RegistryStore } from "../../src/master/registry.js";
import { createTermRunner } from "../../src/master/term.js";
import { createFakeTimers } from "../../src/util/timers.js";
import { testMasterCore } from "../helpers/master-harness.js";

/** A registry whose writes complete (or fail) only when the test says. */
function manualRegistry() {
  let current = emptyRegistry();
  const writes: Array<{ operation: RegistryOperation; complete(): void; fail(error: Error): void }> = [];
  const store: RegistryStore = {
    get current() {
      return current;
    },
    location: "manual",
    apply: (operation) =>
      new Promise<boolean>((resolve, reject) => {
        writes.push({
          operation,
          complete: () => {
            const result = applyRegistryOperation(current, operation);
            current = result.registry;
            resolve(result.changed);
          },
          fail: reject,
        });
      }),
  };
  return { store, writes };
}

function setup() {
  const timers = createFakeTimers();
  const core = testMasterCore(timers.now());
  const registry = manualRegistry();
  const delivered: Effect[] = [];
  const failures: unknown[] = [];
  const runner = createTermRunner({
    core,
    registry: registry.store,
    epoch: 7n,
    deliver: (effects) => delivered.push(...effects),
    timers,
    onFailure: (e) => failures.push(e),
    logger: silentLogger(),
  });
  return { timers, core, registry, delivered, failures, runner };
}

const register = (id = "r1"): ConnectRequest =>
  create(ConnectRequestSchema, {
    id,
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: { hostname: "h", port: 5051, resources: parseResources("cpus:2;mem:1024") },
            version: "t",
          },
        },
      },
    },
  });
const subscribe = (id: string, user = "alice"): ConnectRequest =>
  create(ConnectRequestSchema, {
    id,
    call: {
      case: "scheduler",
      value: { type: SchedulerCallType.SUBSCRIBE, subscribe: { frameworkInfo: { user, name: "fw" } } },
    },
  });
const sentTo = (delivered: Effect[], session: string) =>
  delivered.filter((e) => e.kind === "send" && e.session === session);

/**
 * Lets settled promises run their callbacks. A few turns: the write loop
 * yields a turn itself after 20 ms of real time, which a loaded machine can
 * take between two steps of a test.
 */
const settle = async () => {
  for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe("the term's effect runner", () => {
  it("holds a call's answer, and every later send, until the registry holds the change, then stamps agent events with the epoch", async () => {
    const { registry, delivered, runner } = setup();
    let outcome: unknown;
    void runner.call("agent-1", register()).then((refusals) => (outcome = refusals));
    await settle();
    expect(registry.writes.map((w) => w.operation.kind)).toEqual(["admit-agent"]);
    // A call with no write of its own still waits behind the one in flight.
    runner.dispatch("sched-1", subscribe("s1"));
    await settle();
    expect([delivered, outcome]).toEqual([[], undefined]);
    registry.writes[0]?.complete();
    await settle();
    expect(outcome).toEqual([]);
    const registered = sentTo(delivered, "agent-1")[0];
    expect(
      registered?.kind === "send" &&
        registered.response.event.case === "agent" &&
        registered.response.event.value.leaderEpoch,
    ).toBe(7n);
    // The framework's SUBSCRIBE wrote its own change after the admission.
    expect(registry.writes.map((w) => w.operation.kind)).toEqual(["admit-agent", "add-framework"]);
  });

  it("resolves each call with exactly the refusals that carry its id", async () => {
    const { registry, runner } = setup();
    const admitting = runner.call("agent-1", register());
    await settle();
    const bad = runner.call(
      "sched-1",
      create(ConnectRequestSchema, {
        id: "bad",
        call: {
          case: "scheduler",
          value: { type: SchedulerCallType.SUBSCRIBE, subscribe: { frameworkInfo: { user: "u", name: "" } } },
        },
      }),
    );
    registry.writes[0]?.complete();
    expect(await admitting).toEqual([]);
    expect(await bad).toEqual([
      { code: Error_Code.INVALID_ARGUMENT, message: "Not initialized: subscribe.framework_info.name", fatal: false },
    ]);
  });

  it("ends the term on a failed write: the caller gets the error, nothing queued behind it is written or sent", async () => {
    const { registry, delivered, failures, runner } = setup();
    const admitting = runner.call("agent-1", register());
    await settle();
    const later = runner.call("sched-1", subscribe("s1"));
    registry.writes[0]?.fail(new Error("disk full"));
    await expect(admitting).rejects.toThrow("disk full");
    await expect(later).rejects.toThrow("disk full");
    expect([delivered, registry.writes.length, failures.map(String)]).toEqual([[], 1, ["Error: disk full"]]);
    // Once over, the term takes nothing more; callers are told to go elsewhere (UNAVAILABLE).
    await expect(runner.call("sched-2", subscribe("s2"))).rejects.toMatchObject({ code: Code.Unavailable });
    runner.stop();
  });

  it("runs one pass over changed agents for a burst of requests, on the next turn of its clock", async () => {
    const { timers, registry, delivered, core, runner } = setup();
    const admitted = runner.call("agent-1", register());
    await settle();
    registry.writes[0]?.complete();
    await admitted;
    const subscribed = runner.call("sched-1", subscribe("s1"));
    await settle();
    registry.writes[1]?.complete();
    await subscribed;
    expect(core.allocationRequested).toBe(true);
    expect(
      sentTo(delivered, "sched-1").some(
        (e) =>
          e.kind === "send" && e.response.event.case === "scheduler" && e.response.event.value.offers !== undefined,
      ),
    ).toBe(false);
    timers.advance(0);
    expect(core.allocationRequested).toBe(false);
    const offers = sentTo(delivered, "sched-1").filter(
      (e) => e.kind === "send" && e.response.event.case === "scheduler" && e.response.event.value.offers !== undefined,
    );
    expect(offers).toHaveLength(1);
    expect(timers.pending).toBe(0);
  });

  it("stops: pending allocation dropped, later calls refused as no longer leading", async () => {
    const { timers, registry, runner } = setup();
    const admitted = runner.call("agent-1", register());
    await settle();
    registry.writes[0]?.complete();
    await admitted;
    expect(timers.pending).toBe(1);
    runner.stop();
    expect(timers.pending).toBe(0);
    await expect(runner.call("sched-1", subscribe("s1"))).rejects.toThrow("This master no longer leads");
  });

  it("stops at once though a registry write never completes: every waiting call is refused, nothing is sent", async () => {
    const { registry, delivered, runner } = setup();
    const admitting = runner.call("agent-1", register());
    await settle();
    const waiting = runner.call("sched-1", subscribe("s1"));
    runner.stop();
    await expect(admitting).rejects.toThrow("This master no longer leads");
    await expect(waiting).rejects.toThrow("This master no longer leads");
    // The write lands late: fencing makes that harmless, and nothing follows it out.
    registry.writes[0]?.complete();
    await settle();
    expect(delivered).toEqual([]);
  });

  it("answers a call the core fails on with an INTERNAL error on its stream, and carries on", async () => {
    const { core, delivered, runner } = setup();
    const request = core.request.bind(core);
    core.request = (session, r, now) => {
      if (r.id === "boom") throw new TypeError("a bug");
      return request(session, r, now);
    };
    runner.dispatch("sched-1", create(ConnectRequestSchema, { id: "boom" }));
    const [answer] = sentTo(delivered, "sched-1");
    expect(answer?.kind === "send" && answer.response.callId).toBe("boom");
    expect(answer?.kind === "send" && answer.response.event.case === "error" && answer.response.event.value.code).toBe(
      Error_Code.INTERNAL,
    );
    runner.dispatch("sched-1", subscribe("s1"));
    expect(core.state.frameworks.size).toBe(1);
  });
});
