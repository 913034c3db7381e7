import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import {
  FrameworkInfo_Capability_Type as Capability,
  type Offer,
  Offer_OperationSchema,
  OperationState,
  type OperationStatus,
  Offer_Operation_Type as OperationType,
  type Resource,
  TaskInfoSchema,
  TaskState,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { createScheduler, type SchedulerClient } from "../../src/client/scheduler.js";
import { addResources, formatResources, parseResources, unallocated } from "../../src/core/resources/index.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { reserved, volume } from "../helpers/resources.js";

/** Every file named `name` under `dir`, recursively. */
function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? findFiles(p, name) : e.name === name ? [p] : [];
  });
}

describe("reservations and persistent volumes through real processes", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let agent: Daemon;
  let workDir: string;
  let address: string;
  let operator: OperatorClient;
  let scheduler: SchedulerClient;
  const offers: Offer[] = [];
  const statuses: TaskStatus[] = [];
  const operations: OperationStatus[] = [];
  const errors: string[] = [];

  const startAgent = () =>
    scope.start(
      [
        "agent",
        "--master",
        address,
        "--port",
        "0",
        "--work-dir",
        workDir,
        "--resources",
        "cpus:2;mem:1024;disk:500;ports:[31000-31010]",
      ],
      "agent listening",
    );

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    address = `127.0.0.1:${master.port}`;
    workDir = scope.tempDir();
    agent = await startAgent();
    operator = createOperator({ master: address });
    scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "volumes", roles: ["prod"], capabilities: [{ type: Capability.MULTI_ROLE }] },
      onError: (error) => errors.push(error.message),
      onDisconnected: (error) => errors.push(`disconnected: ${String(error)}`),
      onEvent: (e) => {
        if (e.type === Event_Type.OFFERS) offers.push(...(e.offers?.offers ?? []));
        if (e.type === Event_Type.RESCIND)
          offers.splice(0, offers.length, ...offers.filter((o) => o.id?.value !== e.rescind?.offerId?.value));
        if (e.type === Event_Type.UPDATE_OPERATION_STATUS && e.updateOperationStatus?.status)
          operations.push(e.updateOperationStatus.status);
        if (e.type === Event_Type.UPDATE && e.update?.status) {
          statuses.push(e.update.status);
          scheduler.acknowledge(e.update.status);
        }
      },
    });
    await eventually(() => (scheduler.subscribed ? true : undefined), "SUBSCRIBED");
  });

  afterAll(async () => {
    await scheduler?.teardown().catch(() => undefined);
    await operator?.close();
    await scope.cleanup();
  });

  /** The next offer whose resources satisfy `want`. */
  const offerWith = (want: (text: string) => boolean) =>
    eventually(() => {
      const i = offers.findIndex((o) => want(formatResources(unallocated(o.resources))));
      return i < 0 ? undefined : offers.splice(i, 1)[0];
    }, "a matching offer");
  const stateOf = (taskId: string, state: TaskState) =>
    eventually(
      () => statuses.find((s) => s.taskId?.value === taskId && s.state === state),
      `${taskId} to reach ${TaskState[state]}`,
    );
  const task = (id: string, command: string, resources: Resource[], agentId?: string) =>
    create(TaskInfoSchema, {
      name: id,
      taskId: { value: id },
      resources,
      command: { value: command },
      agentId: agentId === undefined ? undefined : { value: agentId },
    });
  const op = (init: Parameters<typeof create<typeof Offer_OperationSchema>>[1]) => create(Offer_OperationSchema, init);
  const volumeResources = () => volume("prod", "v1", "data", 64);
  const taskResources = () => [...parseResources("cpus:0.1;mem:32"), ...volumeResources()];
  const stdoutOf = (taskId: string) =>
    findFiles(workDir, "stdout")
      .filter((f) => f.includes(`/executors/${taskId}/`))
      .map((f) => readFileSync(f, "utf8"))
      .join("");

  it("reserves, creates a volume and writes to it in one ACCEPT, with operation feedback", async () => {
    const offer = await offerWith((r) => r.includes("disk:500"));
    const agentId = offer.agentId?.value ?? "";
    scheduler.accept(
      [offer.id!],
      [
        op({
          type: OperationType.RESERVE,
          id: { value: "reserve-1" },
          reserve: { resources: reserved("cpus:0.5;mem:128;disk:100", "prod") },
        }),
        op({ type: OperationType.CREATE, id: { value: "create-1" }, create: { volumes: volumeResources() } }),
        op({
          type: OperationType.LAUNCH,
          launch: { taskInfos: [task("writer", "echo persisted > data/note", taskResources(), agentId)] },
        }),
      ],
      { refuseSeconds: 0 },
    );
    await stateOf("writer", TaskState.TASK_FINISHED);
    await eventually(() => (operations.length >= 2 ? true : undefined), "two operation updates");
    expect(operations.map((s) => [s.operationId?.value, OperationState[s.state]])).toEqual([
      ["reserve-1", "OPERATION_FINISHED"],
      ["create-1", "OPERATION_FINISHED"],
    ]);
    expect(readFileSync(join(workDir, "volumes", "roles", "prod", "v1", "note"), "utf8")).toBe("persisted\n");
    const agents = await operator.getAgents();
    expect(formatResources(agents.agents[0]?.totalResources ?? [])).toMatch(
      /cpus\(prod\):0.5; mem\(prod\):128; disk\(prod\):36; disk\(prod\)\[v1:data\]:64/,
    );
  });

  it("offers the volume again, and a new task reads what the last one wrote", async () => {
    const offer = await offerWith((r) => r.includes("[v1:data]"));
    scheduler.launch(offer, [task("reader", "cat data/note", taskResources())], { refuseSeconds: 0 });
    await stateOf("reader", TaskState.TASK_FINISHED);
    expect(stdoutOf("reader")).toContain("persisted");
  });

  it("keeps reservations and the volume across an agent restart", async () => {
    await agent.stop();
    offers.length = 0;
    agent = await startAgent();
    const offer = await offerWith((r) => r.includes("[v1:data]") && r.includes("cpus(prod):0.5"));
    scheduler.launch(offer, [task("reader-after-restart", "cat data/note", taskResources())], { refuseSeconds: 0 });
    await stateOf("reader-after-restart", TaskState.TASK_FINISHED);
    expect(stdoutOf("reader-after-restart")).toContain("persisted");
  });

  it("lets the operator reserve and unreserve free resources, kept from other roles", async () => {
    const agentId = (await operator.getAgents()).agents[0]?.agentInfo?.id?.value ?? "";
    await operator.call({
      type: OperatorCallType.RESERVE_RESOURCES,
      reserveResources: { agentId: { value: agentId }, resources: reserved("cpus:0.25", "ops") },
    });
    const total = () => operator.getAgents().then((a) => formatResources(a.agents[0]?.totalResources ?? []));
    expect(await total()).toContain("cpus(ops):0.25");
    // The prod framework's offers never carry the ops reservation.
    const offer = await offerWith((r) => r.includes("cpus:1.25"));
    expect(formatResources(offer.resources)).not.toContain("(ops)");
    scheduler.decline([offer.id!], 0);
    await expect(
      operator.call({
        type: OperatorCallType.RESERVE_RESOURCES,
        reserveResources: { agentId: { value: agentId }, resources: reserved("cpus:50", "ops") },
      }),
    ).rejects.toThrow(/does not have/);
    await operator.call({
      type: OperatorCallType.UNRESERVE_RESOURCES,
      unreserveResources: { agentId: { value: agentId }, resources: reserved("cpus:0.25", "ops") },
    });
    expect(await total()).not.toContain("(ops)");
  });

  it("destroys the volume (deleting its data) and unreserves, giving everything back", async () => {
    const offer = await offerWith((r) => r.includes("[v1:data]"));
    scheduler.accept(
      [offer.id!],
      [
        op({ type: OperationType.DESTROY, id: { value: "destroy-1" }, destroy: { volumes: volumeResources() } }),
        op({
          type: OperationType.UNRESERVE,
          id: { value: "unreserve-1" },
          unreserve: { resources: reserved("cpus:0.5;mem:128;disk:100", "prod") },
        }),
      ],
      { refuseSeconds: 0 },
    );
    await eventually(
      () => (operations.some((s) => s.operationId?.value === "unreserve-1") ? true : undefined),
      "UNRESERVE's feedback",
    );
    expect(operations.slice(-2).map((s) => OperationState[s.state])).toEqual([
      "OPERATION_FINISHED",
      "OPERATION_FINISHED",
    ]);
    expect(existsSync(join(workDir, "volumes", "roles", "prod", "v1"))).toBe(false);
    // Resources freed at different times may come back in several offers for
    // the agent (as in Mesos), so what counts is their sum.
    const everything = "cpus:2; mem:1024; disk:500; ports:[31000-31010]";
    const offeredNow = () =>
      formatResources(
        unallocated(offers.flatMap((o) => o.resources).reduce<Resource[]>((sum, r) => addResources(sum, [r]), [])),
      );
    await eventually(() => (offeredNow() === everything ? true : undefined), `offers adding up to ${everything}`).catch(
      () => undefined,
    );
    expect(offeredNow()).toBe(everything);
    // No call of this framework was refused along the way, and its stream never dropped.
    expect(errors.join("\n")).toBe("");
  });
});
