/**
 * A custom executor that speaks Mesos' v1 executor HTTP API (a user's own
 * program, with nothing of Plateau in it), launched through ExecutorInfo by a
 * v1 HTTP scheduler, runs a task end to end on a real agent.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { EXECUTOR_EXAMPLES } from "./gateway-mesos-examples.js";
import { eventOf, events, type Json, request, type Stream, subscribe } from "./gateway-v1-client.js";

/** The executor: plain Node, plain HTTP, Mesos' environment variables. */
const EXECUTOR = `
const http = require("http");
const { randomBytes } = require("crypto");
const fs = require("fs");
const [host, port] = process.env.MESOS_AGENT_ENDPOINT.split(":");
const ids = { framework_id: { value: process.env.MESOS_FRAMEWORK_ID }, executor_id: { value: process.env.MESOS_EXECUTOR_ID } };
const log = (line) => fs.appendFileSync("executor.log", JSON.stringify(line) + "\\n");
const post = (body) => new Promise((resolve) => {
  const req = http.request({ host, port, path: "/api/v1/executor", method: "POST", headers: { "content-type": "application/json" } }, (res) => {
    res.resume();
    res.on("end", () => { log({ call: body.type, status: res.statusCode }); resolve(res.statusCode); });
  });
  req.on("error", (e) => { log({ error: String(e) }); resolve(0); });
  req.end(JSON.stringify({ ...ids, ...body }));
});
const unacknowledged = new Set();
let finished = false;
const update = (task_id, state) => {
  const uuid = randomBytes(16).toString("base64");
  unacknowledged.add(uuid);
  return post({ type: "UPDATE", update: { status: { task_id, state, source: "SOURCE_EXECUTOR", uuid, executor_id: ids.executor_id } } });
};
const handle = async (event) => {
  log({ event: event.type });
  if (event.type === "SUBSCRIBED") log({ agent: event.subscribed.agent_info.id.value, container: event.subscribed.container_id.value });
  if (event.type === "LAUNCH") {
    const task = event.launch.task;
    await update(task.task_id, "TASK_RUNNING");
    fs.writeFileSync("ran-" + task.task_id.value, Buffer.from(task.data || "", "base64"));
    finished = true;
    await update(task.task_id, "TASK_FINISHED");
  }
  if (event.type === "MESSAGE") await post({ type: "MESSAGE", message: { data: Buffer.from("echo:" + Buffer.from(event.message.data, "base64")).toString("base64") } });
  if (event.type === "ACKNOWLEDGED") {
    unacknowledged.delete(event.acknowledged.uuid);
    if (finished && unacknowledged.size === 0) setTimeout(() => process.exit(0), 200);
  }
  if (event.type === "SHUTDOWN" || event.type === "ERROR") process.exit(0);
};
const req = http.request({ host, port, path: "/api/v1/executor", method: "POST", headers: { "content-type": "application/json", accept: "application/json" } }, (res) => {
  log({ subscribe: res.statusCode, contentType: res.headers["content-type"] });
  let buffer = Buffer.alloc(0);
  let queue = Promise.resolve();
  res.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const nl = buffer.indexOf(10);
      if (nl < 0) break;
      const length = Number(buffer.subarray(0, nl).toString());
      if (buffer.length < nl + 1 + length) break;
      const event = JSON.parse(buffer.subarray(nl + 1, nl + 1 + length).toString());
      buffer = buffer.subarray(nl + 1 + length);
      queue = queue.then(() => handle(event));
    }
  });
});
req.end(JSON.stringify({ ...ids, type: "SUBSCRIBE", subscribe: { unacknowledged_tasks: [], unacknowledged_updates: [] } }));
`;

function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? findFiles(p, name) : e.name === name ? [p] : [];
  });
}

describe("the v1 executor API on a real agent", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  let agent: Daemon;
  let workDir: string;
  let scheduler: Stream;

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    workDir = scope.tempDir();
    agent = await scope.start(
      [
        "agent",
        "--master",
        `127.0.0.1:${master.port}`,
        "--port",
        "0",
        "--work-dir",
        workDir,
        "--resources",
        "cpus:2;mem:1024;disk:1000;ports:[31000-31010]",
      ],
      "agent listening",
    );
  });

  afterAll(async () => {
    scheduler?.close();
    await scope.cleanup();
  });

  it("runs a task through a custom executor speaking the v1 executor API", async () => {
    const script = join(scope.tempDir("plateau-v1-executor-"), "executor.cjs");
    writeFileSync(script, EXECUTOR);
    scheduler = await subscribe(
      master.port,
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "test", name: "v1-executor-test" } } }),
    );
    const frameworkId = ((await eventOf(scheduler, "SUBSCRIBED")).subscribed as { framework_id: { value: string } })
      .framework_id.value;
    const offer = (
      (await eventOf(scheduler, "OFFERS")).offers as { offers: { id: unknown; agent_id: { value: string } }[] }
    ).offers[0]!;
    const call = (body: Json) =>
      request(master.port, "/api/v1/scheduler", {
        headers: {
          "content-type": "application/json",
          "mesos-stream-id": String(scheduler.headers["mesos-stream-id"]),
        },
        body: [JSON.stringify({ framework_id: { value: frameworkId }, ...body })],
      });
    const cpus = { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } };
    const mem = { name: "mem", type: "SCALAR", scalar: { value: 32 } };
    const task = {
      name: "custom",
      task_id: { value: "custom-1" },
      agent_id: offer.agent_id,
      resources: [cpus, mem],
      data: Buffer.from("payload").toString("base64"),
      executor: {
        executor_id: { value: "v1-executor" },
        command: { value: `"${process.execPath}" "${script}"` },
        resources: [cpus, mem],
      },
    };
    expect(
      (
        await call({
          type: "ACCEPT",
          accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }] },
        })
      ).status,
    ).toBe(202);

    const states: string[] = [];
    for (let seen = 0; !states.includes("TASK_FINISHED"); seen++) {
      const update = await eventually(
        () => events(scheduler).filter((e) => e.type === "UPDATE")[seen],
        `update ${seen + 1}`,
      );
      const status = (update.update as { status: { state: string; agent_id: unknown; task_id: unknown; uuid: string } })
        .status;
      states.push(status.state);
      if (states.length === 1) {
        // While the executor runs: a framework message there and back.
        const message = await call({
          type: "MESSAGE",
          message: {
            agent_id: offer.agent_id,
            executor_id: { value: "v1-executor" },
            data: Buffer.from("hi").toString("base64"),
          },
        });
        expect(message.status).toBe(202);
        const echoed = await eventOf(scheduler, "MESSAGE");
        expect(Buffer.from((echoed.message as { data: string }).data, "base64").toString()).toBe("echo:hi");
      }
      expect(
        (
          await call({
            type: "ACKNOWLEDGE",
            acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
          })
        ).status,
      ).toBe(202);
    }
    expect(states).toEqual(["TASK_RUNNING", "TASK_FINISHED"]);

    const [log] = findFiles(workDir, "executor.log");
    expect(log).toBeDefined();
    await eventually(
      () => (readFileSync(log!, "utf8").includes('"event":"ACKNOWLEDGED"') ? true : undefined),
      "ACKNOWLEDGED at the executor",
    );
    const lines = readFileSync(log!, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ subscribe: 200, contentType: "application/json" });
    expect(
      lines
        .filter((l) => "event" in l)
        .map((l) => l.event)
        .slice(0, 2),
    ).toEqual(["SUBSCRIBED", "LAUNCH"]);
    expect(lines.filter((l) => l.call === "UPDATE").map((l) => l.status)).toEqual([202, 202]);
    expect(lines.find((l) => "agent" in l)?.agent).toBe(offer.agent_id.value);
    const [ran] = findFiles(workDir, "ran-custom-1");
    expect(readFileSync(ran!, "utf8")).toBe("payload");
  });

  it("answers bad executor calls with Mesos' status codes", async () => {
    const post = (body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
      request(agent.port, "/api/v1/executor", { headers, body: [JSON.stringify(body)] });
    const ids = { framework_id: { value: "nope" }, executor_id: { value: "nope" } };
    expect((await request(agent.port, "/api/v1/executor", { method: "GET" })).status).toBe(405);
    expect((await post({ ...ids, type: "SUBSCRIBE", subscribe: {} }, { "content-type": "text/plain" })).status).toBe(
      415,
    );
    expect((await post({ type: "SUBSCRIBE", subscribe: {} })).status).toBe(400);
    expect(
      (
        await post(
          { ...ids, type: "SUBSCRIBE", subscribe: {} },
          { "content-type": "application/json", accept: "text/html" },
        )
      ).status,
    ).toBe(406);
    const unknown = await post({ ...ids, type: "SUBSCRIBE", subscribe: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.toString()).toBe("Framework cannot be found");
    const badUpdate = await post({
      ...ids,
      type: "UPDATE",
      update: { status: { task_id: { value: "t" }, state: "TASK_RUNNING", source: "SOURCE_EXECUTOR" } },
    });
    expect(badUpdate.status).toBe(400);
    expect(badUpdate.body.toString()).toMatch(/uuid/);
    expect((await post({ ...ids, type: "HEARTBEAT" })).status).toBe(202);
  });

  it("answers the documented request examples as Mesos would on an agent that does not know them", async () => {
    for (const example of EXECUTOR_EXAMPLES) {
      const answer = await request(agent.port, "/api/v1/executor", {
        headers: { "content-type": "application/json" },
        body: [JSON.stringify(example.request)],
      });
      expect({ type: example.request.type, status: answer.status }).toEqual({
        type: example.request.type,
        status: 400,
      });
      expect(answer.body.toString()).toMatch(example.mesosAnswer);
    }
  });
});
