import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Response_Type, ResponseSchema } from "../../gen/mesos/v1/master/master_pb.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { MASTER_EXAMPLES } from "./gateway-mesos-examples.js";
import {
  eventOf,
  events,
  type Json,
  json,
  request,
  type Stream,
  startFrameworkWithTasks,
  subscribe,
} from "./gateway-v1-client.js";

/** Every field path of a JSON value, lists marked `[]`, as in MASTER_EXAMPLES. */
function paths(value: unknown, prefix = ""): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(value)) for (const item of value) paths(item, `${prefix}[]`).forEach((p) => out.add(p));
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      out.add(path);
      paths(child, path).forEach((p) => out.add(p));
    }
  }
  return out;
}

/**
 * Documented fields an answer may lack, by path prefix, and why. Anything
 * else the documentation shows must be in the answer.
 */
const KNOWN_GAPS: [prefix: string, why: string][] = [
  ["get_version.version_info.build_", "no build date, time or user is recorded at build time"],
  [
    "get_executors.executors",
    "the examples show a custom executor; command tasks have none in the master's view, as in Mesos",
  ],
  ["get_state.get_executors.executors", "same"],
  ["get_tasks.tasks[].executor_id", "same"],
  ["get_state.get_tasks.tasks[].executor_id", "same"],
  ["get_state.get_tasks.completed_tasks[].executor_id", "same"],
  ["get_frameworks.frameworks[].reregistered_time", "the test's framework never re-subscribes"],
  ["get_state.get_frameworks.frameworks[].reregistered_time", "same"],
  ["get_tasks.tasks[].statuses[].container_status", "the agent reports no container status (network addresses) yet"],
  ["get_state.get_tasks.tasks[].statuses[].container_status", "same"],
  ["get_state.get_tasks.completed_tasks[].statuses[].container_status", "same"],
  ["get_quota.status.infos", "the core fills only `configs`, not the deprecated `infos`"],
];

describe("the v1 operator API on a real master", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let scheduler: Stream;
  let operatorStream: Stream;
  let frameworkId = "";
  const api = (body: unknown, headers: Record<string, string> = {}) =>
    request(master.port, "/api/v1", { ...json(body), headers: { "content-type": "application/json", ...headers } });

  beforeAll(async () => {
    master = await scope.start(
      ["master", "--port", "0", "--allocation-interval", "200ms", "--heartbeat-interval", "1secs"],
      "master listening",
    );
    // Subscribed before the agent registers, to see AGENT_ADDED.
    operatorStream = await subscribe(
      master.port,
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE" }),
      "/api/v1",
    );
    await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        scope.tempDir(),
        "--resources",
        "cpus:2;mem:1024;disk:1000;ports:[31000-31010]",
      ],
      "agent listening",
    );
    // A framework with one finished and one running task, so that the views have something in them.
    ({ stream: scheduler, frameworkId } = await startFrameworkWithTasks(master.port, {
      name: "v1-operator-test",
      role: "web",
      hostname: "localhost",
      principal: "ops",
    }));
  });

  afterAll(async () => {
    scheduler?.close();
    operatorStream?.close();
    await scope.cleanup();
  });

  it("answers the documented request examples with answers of the documented shape", async () => {
    const unexplained: string[] = [];
    // The examples that change something first, so that the reads see it.
    const changesFirst = [...MASTER_EXAMPLES].sort(
      (a, b) =>
        Number(String(b.request.type).startsWith("UPDATE")) - Number(String(a.request.type).startsWith("UPDATE")),
    );
    for (const example of changesFirst) {
      const type = String(example.request.type);
      if (type === "SUBSCRIBE") continue;
      const answer = await api(example.request, { accept: "application/json" });
      expect({ type, status: answer.status }).toEqual({ type, status: 200 });
      if (answer.body.length === 0) continue;
      expect(answer.headers["content-type"]).toBe("application/json");
      const body = JSON.parse(answer.body.toString()) as Json;
      expect(body.type).toBe(type);
      const ours = paths(body);
      unexplained.push(
        ...example.paths.filter((p) => !ours.has(p) && !KNOWN_GAPS.some(([prefix]) => p.startsWith(prefix))),
      );
    }
    expect(unexplained).toEqual([]);
  });

  it("streams SUBSCRIBED with the state, then task events and heartbeats", async () => {
    expect(operatorStream.status).toBe(200);
    expect(operatorStream.headers["content-type"]).toBe("application/json");
    const first = events(operatorStream)[0];
    expect(first?.type).toBe("SUBSCRIBED");
    expect((first?.subscribed as { heartbeat_interval_seconds: number }).heartbeat_interval_seconds).toBe(1);
    const agentAdded = await eventOf(operatorStream, "AGENT_ADDED");
    expect((agentAdded.agent_added as { agent: { agent_info: { hostname: string } } }).agent.agent_info.hostname).toBe(
      "localhost",
    );
    await eventOf(operatorStream, "FRAMEWORK_ADDED");
    await eventOf(
      operatorStream,
      "TASK_ADDED",
      (e) => (e.task_added as { task: { task_id: { value: string } } }).task.task_id.value === "sleeper",
    );
    await eventOf(
      operatorStream,
      "TASK_UPDATED",
      (e) => (e.task_updated as { state: string }).state === "TASK_RUNNING",
    );
    await eventOf(operatorStream, "HEARTBEAT");
  });

  it("answers in protobuf when asked, ignores the query string, and refuses what Mesos refuses", async () => {
    const binary = await request(master.port, "/api/v1?jsonp=ignored", {
      headers: { "content-type": "application/json", accept: "application/x-protobuf" },
      body: [JSON.stringify({ type: "GET_TASKS" })],
    });
    expect(binary.status).toBe(200);
    expect(binary.headers["content-type"]).toBe("application/x-protobuf");
    const response = fromBinary(ResponseSchema, binary.body);
    expect(response.type).toBe(Response_Type.GET_TASKS);
    expect(response.getTasks?.tasks.map((t) => t.taskId?.value)).toEqual(["sleeper"]);
    expect(response.getTasks?.completedTasks.map((t) => t.taskId?.value)).toEqual(["done"]);

    expect((await request(master.port, "/api/v1", { method: "GET" })).status).toBe(405);
    expect(
      (await request(master.port, "/api/v1", { headers: { "content-type": "text/xml" }, body: ["<x/>"] })).status,
    ).toBe(415);
    expect((await api({ type: "GET_HEALTH" }, { accept: "text/html" })).status).toBe(406);
    expect((await api({ type: "TEARDOWN", teardown: { framework_id: { value: "nope" } } })).status).toBe(400);
  });

  it("tears a framework down with TEARDOWN, ending its scheduler's stream", async () => {
    const answer = await api({ type: "TEARDOWN", teardown: { framework_id: { value: frameworkId } } });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    await eventually(() => (scheduler.ended ? true : undefined), "the scheduler's stream to end");
    await eventOf(operatorStream, "FRAMEWORK_REMOVED");
  });
});
