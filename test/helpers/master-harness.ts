import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Event as OperatorEvent, Response as OperatorResponse } from "../../gen/mesos/v1/master/master_pb.js";
import {
  CallSchema as SchedulerCallSchema,
  Call_Type as SchedulerCallType,
  type Event as SchedulerEvent,
} from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  type AgentEvent,
  ConnectRequestSchema,
  type ConnectResponse,
  type Error as StreamError,
} from "../../gen/mesos/v2/mesos_pb.js";
import { createAllocator } from "../../src/core/allocator/index.js";
import { createCounterIds } from "../../src/core/clock.js";
import { createMasterCore, type Effect, type MasterCore } from "../../src/core/master/master-core.js";
import type { Registry, RegistryOperation } from "../../src/core/registry/registry.js";
import { parseResources } from "../../src/core/resources/index.js";

/** Options a test master core may override. */
export interface TestMasterOptions {
  heartbeatIntervalSeconds?: number;
  agentReregisterTimeoutSeconds?: number;
  offerTimeoutSeconds?: number;
  maxCompletedFrameworks?: number;
  maxCompletedTasksPerFramework?: number;
  maxUnreachableTasksPerFramework?: number;
  registryMaxAgentAgeSeconds?: number;
  registryMaxAgentCount?: number;
  registry?: Registry;
}

/** A master core as tests use it: a fresh allocator, counter ids, `m` as the master's id. */
export function testMasterCore(now: number, options: TestMasterOptions = {}): MasterCore {
  return createMasterCore({
    allocator: createAllocator({}),
    ids: createCounterIds("m"),
    now,
    registry: options.registry,
    options: {
      info: {
        $typeName: "mesos.v1.MasterInfo",
        id: "m",
        ip: 0,
        port: 5050,
        pid: "",
        hostname: "localhost",
        version: "test",
        capabilities: [],
      },
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds ?? 15,
      agentReregisterTimeoutSeconds: options.agentReregisterTimeoutSeconds ?? 600,
      offerTimeoutSeconds: options.offerTimeoutSeconds,
      maxCompletedFrameworks: options.maxCompletedFrameworks,
      maxCompletedTasksPerFramework: options.maxCompletedTasksPerFramework,
      maxUnreachableTasksPerFramework: options.maxUnreachableTasksPerFramework,
      registryMaxAgentAgeSeconds: options.registryMaxAgentAgeSeconds,
      registryMaxAgentCount: options.registryMaxAgentCount,
      flags: { port: "5050" },
      version: "test",
    },
  });
}

/**
 * Drives the pure master core the way the shell does, recording what each
 * session would have received. Time only moves when a test moves it.
 */
export class MasterHarness {
  now = 1_700_000_000_000;
  readonly core: MasterCore;
  readonly inbox = new Map<string, ConnectResponse[]>();
  readonly ended = new Map<string, Effect & { kind: "end" }>();
  /** Registry changes the core asked to store, in order. */
  readonly persisted: RegistryOperation[] = [];

  constructor(options: TestMasterOptions = {}) {
    this.core = testMasterCore(this.now, options);
  }

  apply(effects: Effect[]): Effect[] {
    for (const effect of effects) {
      if (effect.kind === "send") {
        this.inbox.set(effect.session, [...(this.inbox.get(effect.session) ?? []), effect.response]);
      } else if (effect.kind === "end") {
        this.ended.set(effect.session, effect);
      } else {
        this.persisted.push(effect.operation);
      }
    }
    return effects;
  }

  send(session: string, call: MessageInitShape<typeof ConnectRequestSchema>["call"], id = ""): Effect[] {
    return this.apply(this.core.request(session, create(ConnectRequestSchema, { id, call }), this.now));
  }

  scheduler(session: string, call: MessageInitShape<typeof SchedulerCallSchema>, id = ""): Effect[] {
    return this.send(session, { case: "scheduler", value: create(SchedulerCallSchema, call) }, id);
  }

  /** Registers an agent on `session` with Mesos resource text; returns its id. */
  registerAgent(
    session: string,
    resources = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]",
    hostname = "host-a",
  ): string {
    this.send(session, {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: { agentInfo: { hostname, port: 5051, resources: parseResources(resources) }, version: "test" },
        },
      },
    });
    const registered = this.agentEvents(session).find((e) => e.event.case === "registered");
    if (registered?.event.case !== "registered") throw new Error("agent did not register");
    return registered.event.value.agentId?.value ?? "";
  }

  /** Subscribes a framework on `session`; returns its id. */
  subscribe(session: string, info: Record<string, unknown> = {}): string {
    this.scheduler(session, {
      type: SchedulerCallType.SUBSCRIBE,
      subscribe: { frameworkInfo: { user: "test", name: "fw", ...info } },
    });
    const subscribed = this.schedulerEvents(session).find((e) => e.subscribed !== undefined);
    if (subscribed === undefined)
      throw new Error(`framework did not subscribe: ${JSON.stringify(this.errors(session))}`);
    return subscribed.subscribed?.frameworkId?.value ?? "";
  }

  allocate(): Effect[] {
    return this.apply(this.core.allocate(this.now));
  }

  closed(session: string): Effect[] {
    return this.apply(this.core.sessionClosed(session, this.now));
  }

  advance(ms: number): void {
    this.now += ms;
  }

  take(session: string): ConnectResponse[] {
    const got = this.inbox.get(session) ?? [];
    this.inbox.set(session, []);
    return got;
  }

  schedulerEvents(session: string): SchedulerEvent[] {
    return (this.inbox.get(session) ?? []).flatMap((r) => (r.event.case === "scheduler" ? [r.event.value] : []));
  }

  agentEvents(session: string): AgentEvent[] {
    return (this.inbox.get(session) ?? []).flatMap((r) => (r.event.case === "agent" ? [r.event.value] : []));
  }

  operatorResponses(session: string): OperatorResponse[] {
    return (this.inbox.get(session) ?? []).flatMap((r) => (r.event.case === "operatorResponse" ? [r.event.value] : []));
  }

  operatorEvents(session: string): OperatorEvent[] {
    return (this.inbox.get(session) ?? []).flatMap((r) => (r.event.case === "operatorEvent" ? [r.event.value] : []));
  }

  errors(session: string): Array<StreamError & { callId: string }> {
    return (this.inbox.get(session) ?? []).flatMap((r) =>
      r.event.case === "error" ? [{ ...r.event.value, callId: r.callId }] : [],
    );
  }
}
