/**
 * A call the core refuses must be answered as refused even when its effects
 * wait behind a registry write (an agent's admission being stored). Before
 * the per-term effect runner, the v1 gateway saw a refusal only when it came
 * in the same turn, so such a call was answered 202 and its refusal dropped.
 */
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { ConnectRequestSchema, type ConnectResponse, Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import { schedulerRequest } from "../../src/client/scheduler.js";
import { openStream, type UnifiedStream } from "../../src/client/stream.js";
import { parseResources } from "../../src/core/resources/index.js";
import { type MasterDaemon, startMaster } from "../../src/master/daemon.js";
import { defaultMasterOptions } from "../../src/master/options.js";
import { createGate, hookedElection } from "../helpers/hooked-election.js";
import { eventually } from "../helpers/processes.js";
import { eventOf, type Json, request, type Stream, subscribe } from "./gateway-v1-client.js";

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };

describe("refusals reach their caller while a registry write is in flight", () => {
  let master: MasterDaemon | undefined;
  const streams: UnifiedStream[] = [];
  let v1: Stream | undefined;
  let openGate: () => void = () => undefined;
  afterEach(async () => {
    openGate();
    v1?.close();
    await Promise.all(streams.splice(0).map((s) => s.close()));
    await master?.close();
  });

  /** The master's log lines, to see when a call has reached its core. */
  let logLines: string[] = [];
  const logged = (what: (line: { msg?: string; callId?: string; type?: string }) => boolean, description: string) =>
    eventually(
      () => logLines.map((l) => JSON.parse(l) as { msg?: string; callId?: string; type?: string }).find(what),
      description,
    );

  /** A master whose agent admissions wait at a gate; resolves once one is held there. */
  async function masterHoldingAdmissions() {
    const gate = createGate();
    openGate = gate.open;
    logLines = [];
    const logger = pino({ level: "trace" }, { write: (line: string) => void logLines.push(line) });
    master = await startMaster({ ...defaultMasterOptions, port: 0, heartbeatIntervalSeconds: 60 }, logger, {
      election: hookedElection(async (operation) => {
        if (operation.kind !== "admit-agent") return;
        gate.arrive();
        await gate.wait;
      }),
    });
    return { port: master.port, gate };
  }

  const registerAgent = (port: number): UnifiedStream => {
    const agent = openStream({
      baseUrl: `127.0.0.1:${port}`,
      hello: () =>
        create(ConnectRequestSchema, {
          id: "register",
          call: {
            case: "agent",
            value: {
              call: {
                case: "register",
                value: {
                  agentInfo: { hostname: "host-a", port: 5051, resources: parseResources("cpus:1;mem:512") },
                  version: "test",
                },
              },
            },
          },
        }),
      onEvent: () => undefined,
    });
    streams.push(agent);
    return agent;
  };

  const badUpdate = (frameworkId: string) => ({
    framework_id: { value: frameworkId },
    type: "UPDATE_FRAMEWORK",
    update_framework: { framework_info: { id: { value: frameworkId }, user: "mallory", name: "fw" } },
  });

  it("v1: a refused UPDATE_FRAMEWORK is answered 400 with the reason, not 202", async () => {
    const { port, gate } = await masterHoldingAdmissions();
    v1 = await subscribe(
      port,
      JSON_HEADERS,
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "alice", name: "fw" } } }),
    );
    const subscribed = (await eventOf(v1, "SUBSCRIBED")) as { subscribed: { framework_id: { value: string } } };
    const frameworkId = subscribed.subscribed.framework_id.value;
    const streamId = String(v1.headers["mesos-stream-id"]);

    registerAgent(port);
    await gate.reached;
    const answering = request(port, "/api/v1/scheduler", {
      headers: { ...JSON_HEADERS, "mesos-stream-id": streamId },
      body: [JSON.stringify(badUpdate(frameworkId))],
    });
    // The gateway logs a call as it hands it to the core: from then on the
    // core has refused it, while the admission is still held (without the
    // runner it was answered 202 right then).
    await logged((l) => l.msg === "scheduler call" && l.type === "UPDATE_FRAMEWORK", "the call to reach the core");
    gate.open();
    const answer = await answering;
    expect([answer.status, answer.body.toString()]).toEqual([
      400,
      "Failed to validate scheduler::Call: FrameworkInfo.user cannot change",
    ]);
    // The refusal was the call's answer, not an event: the framework is still subscribed.
    expect(v1.ended).toBe(false);
    expect(((await eventOf(v1, "SUBSCRIBED")) as Json).type).toBe("SUBSCRIBED");
  });

  it("v2: the same call gets an Error event echoing its id, and the stream carries on", async () => {
    const { port, gate } = await masterHoldingAdmissions();
    const events: ConnectResponse[] = [];
    const scheduler = openStream({
      baseUrl: `127.0.0.1:${port}`,
      hello: () =>
        schedulerRequest(undefined, SchedulerCallType.SUBSCRIBE, {
          subscribe: { frameworkInfo: { user: "alice", name: "fw" } },
        }),
      onEvent: (event) => events.push(event),
    });
    streams.push(scheduler);
    const subscribed = await eventually(
      () => events.find((e) => e.event.case === "scheduler" && e.event.value.subscribed !== undefined),
      "SUBSCRIBED",
    );
    const frameworkId =
      subscribed.event.case === "scheduler" ? (subscribed.event.value.subscribed?.frameworkId?.value ?? "") : "";

    registerAgent(port);
    await gate.reached;
    const call = schedulerRequest(frameworkId, SchedulerCallType.UPDATE_FRAMEWORK, {
      updateFramework: { frameworkInfo: { id: { value: frameworkId }, user: "mallory", name: "fw" } },
    });
    const answering = scheduler.call(call);
    await logged((l) => l.msg === "call" && l.callId === call.id, "the call to reach the core");
    gate.open();
    const answer = await answering;
    expect(answer.callId).toBe(call.id);
    expect(
      answer.event.case === "error" && [answer.event.value.code, answer.event.value.message, answer.event.value.fatal],
    ).toEqual([Error_Code.INVALID_ARGUMENT, "FrameworkInfo.user cannot change", false]);
    expect(scheduler.connected).toBe(true);
  });
});
