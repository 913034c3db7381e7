import * as net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallSchema, Event_Type, EventSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";
import { SCHEDULER_EXAMPLES, SCHEDULER_EXAMPLES_FRAMEWORK_ID } from "./gateway-mesos-examples.js";
import { type Answer, eventOf, events, type Json, json, request, type Stream, subscribe } from "./gateway-v1-client.js";

const frameworkInfo = { user: "test", name: "v1-gateway-test", failover_timeout: 60 };

describe("the v1 scheduler API on a real master and agent", () => {
  const scope = new ProcessScope();
  let master: Daemon;
  const streams: Stream[] = [];
  const open = async (headers: Record<string, string>, body: string | Uint8Array) => {
    const s = await subscribe(master.port, headers, body);
    streams.push(s);
    return s;
  };

  beforeAll(async () => {
    master = await scope.start(
      ["master", "--port", "0", "--allocation-interval", "200ms", "--heartbeat-interval", "1secs"],
      "master listening",
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
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    await scope.cleanup();
  });

  it("subscribes, launches a command task through ACCEPT and sees it finish", async () => {
    const stream = await open(
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo } }),
    );
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toBe("application/json");
    expect(stream.headers["transfer-encoding"]).toBe("chunked");
    const streamId = String(stream.headers["mesos-stream-id"]);
    expect(streamId.length).toBeGreaterThan(0);
    expect(streamId.length).toBeLessThanOrEqual(128);
    const subscribed = (await eventOf(stream, "SUBSCRIBED")).subscribed as {
      framework_id: { value: string };
      heartbeat_interval_seconds: number;
    };
    const frameworkId = subscribed.framework_id.value;
    expect(subscribed.heartbeat_interval_seconds).toBe(1);

    const offers = (await eventOf(stream, "OFFERS")).offers as { offers: Json[] };
    const offer = offers.offers[0] as {
      id: { value: string };
      agent_id: { value: string };
      url: { scheme: string; address: { hostname: string; ip: string; port: number } };
    };
    expect(offer.url.scheme).toBe("http");
    expect(offer.url.address.ip).toBe("127.0.0.1");
    expect(offer.url.address.port).toBeGreaterThan(0);

    const call = (body: Json) =>
      request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", "mesos-stream-id": streamId },
        body: [JSON.stringify({ framework_id: { value: frameworkId }, ...body })],
      });
    const accepted = await call({
      type: "ACCEPT",
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "v1-echo",
                  task_id: { value: "v1-echo" },
                  agent_id: offer.agent_id,
                  resources: [
                    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
                    { name: "mem", type: "SCALAR", scalar: { value: 32 } },
                  ],
                  command: { value: "echo from v1", shell: true },
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 1 },
      },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body.length).toBe(0);

    // Updates come one at a time: each waits for the acknowledgement of the one before.
    type Status = { task_id: { value: string }; agent_id: { value: string }; uuid: string; state: string };
    const states: string[] = [];
    for (let seen = 0; !states.includes("TASK_FINISHED"); seen++) {
      const update = await eventually(
        () => events(stream).filter((e) => e.type === "UPDATE")[seen],
        `update ${seen + 1}`,
      );
      const status = (update.update as { status: Status }).status;
      expect(status.task_id.value).toBe("v1-echo");
      states.push(status.state);
      const ack = await call({
        type: "ACKNOWLEDGE",
        acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
      });
      expect(ack.status).toBe(202);
    }
    expect(states).toEqual(["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);

    await eventOf(stream, "HEARTBEAT");
    const teardown = await call({ type: "TEARDOWN" });
    expect(teardown.status).toBe(202);
    await eventually(() => (stream.ended ? true : undefined), "the stream to end after TEARDOWN");
  });

  it("answers bad requests with Mesos' status codes and plain-text reasons", async () => {
    const path = "/api/v1/scheduler";
    const subscribeBody = JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo } });
    const cases: [string, Promise<Answer>, number, RegExp][] = [
      ["GET", request(master.port, path, { method: "GET" }), 405, /POST/],
      ["no Content-Type", request(master.port, path, { body: [subscribeBody] }), 400, /Content-Type/],
      [
        "text/plain",
        request(master.port, path, { headers: { "content-type": "text/plain" }, body: [subscribeBody] }),
        415,
        /application\/json/,
      ],
      [
        "bad JSON",
        request(master.port, path, { headers: { "content-type": "application/json" }, body: ["{"] }),
        400,
        /JSON/,
      ],
      [
        "bad protobuf",
        request(master.port, path, {
          headers: { "content-type": "application/x-protobuf" },
          body: [Buffer.from([0xff, 0xff])],
        }),
        400,
        /protobuf/,
      ],
      [
        "Accept: text/html",
        request(master.port, path, {
          headers: { "content-type": "application/json", accept: "text/html" },
          body: [subscribeBody],
        }),
        406,
        /Accept/,
      ],
      [
        "stream id on SUBSCRIBE",
        request(master.port, path, {
          headers: { "content-type": "application/json", "mesos-stream-id": "x" },
          body: [subscribeBody],
        }),
        400,
        /Mesos-Stream-Id/,
      ],
      [
        "invalid SUBSCRIBE",
        request(master.port, path, json({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "u" } } })),
        400,
        /name/,
      ],
      ["no framework_id", request(master.port, path, json({ type: "DECLINE" })), 400, /framework_id/],
      [
        "unknown framework",
        request(master.port, path, json({ type: "REVIVE", framework_id: { value: "nope" } })),
        400,
        /Framework cannot be found/,
      ],
    ];
    for (const [what, answer, status, message] of cases) {
      const a = await answer;
      expect({ what, status: a.status }).toEqual({ what, status });
      expect(a.body.toString()).toMatch(message);
    }
  });

  it("checks the stream id, and answers 403 once the framework's stream is gone", async () => {
    const stream = await open(
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo } }),
    );
    const frameworkId = ((await eventOf(stream, "SUBSCRIBED")).subscribed as { framework_id: { value: string } })
      .framework_id.value;
    const revive = (headers: Record<string, string>) =>
      request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", ...headers },
        body: [JSON.stringify({ type: "REVIVE", framework_id: { value: frameworkId } })],
      });
    expect((await revive({})).status).toBe(400);
    const wrong = await revive({ "mesos-stream-id": "not-the-stream" });
    expect(wrong.status).toBe(400);
    expect(wrong.body.toString()).toMatch(/didn't match/);
    expect((await revive({ "mesos-stream-id": String(stream.headers["mesos-stream-id"]) })).status).toBe(202);
    stream.close();
    await eventually(
      async () =>
        (await revive({ "mesos-stream-id": String(stream.headers["mesos-stream-id"]) })).status === 403
          ? true
          : undefined,
      "403 after the stream closed",
    );
    const gone = await revive({ "mesos-stream-id": String(stream.headers["mesos-stream-id"]) });
    expect(gone.body.toString()).toBe("Framework is not subscribed");
  });

  it("speaks protobuf both ways, takes chunked bodies, and reads null fields as unset", async () => {
    const body = toBinary(
      CallSchema,
      create(CallSchema, { type: 1, subscribe: { frameworkInfo: { user: "test", name: "v1-protobuf" } } }),
    );
    const stream = await open({ "content-type": "application/x-protobuf", accept: "application/x-protobuf" }, body);
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toBe("application/x-protobuf");
    const first = await eventually(() => stream.records[0], "the first record");
    const event = fromBinary(EventSchema, first);
    expect(event.type).toBe(Event_Type.SUBSCRIBED);
    const streamId = String(stream.headers["mesos-stream-id"]);
    const text = JSON.stringify({
      framework_id: { value: event.subscribed?.frameworkId?.value },
      type: "SUPPRESS",
      suppress: null,
      kill: null,
      accept: null,
    });
    const chunked = await request(master.port, "/api/v1/scheduler", {
      headers: { "content-type": "application/json", "mesos-stream-id": streamId },
      body: [text.slice(0, 10), text.slice(10)],
    });
    expect(chunked.status).toBe(202);
  });

  it("streams application/recordio when asked, with the records' type in Message-Content-Type", async () => {
    const stream = await open(
      { "content-type": "application/json", accept: "application/recordio", "message-accept": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: { ...frameworkInfo, name: "v1-recordio" } } }),
    );
    expect(stream.headers["content-type"]).toBe("application/recordio");
    expect(stream.headers["message-content-type"]).toBe("application/json");
    await eventOf(stream, "SUBSCRIBED");
  });

  it("writes each record, length and body, as one HTTP chunk", async () => {
    // Raw bytes, since an HTTP client hides chunk boundaries; clients such as
    // the mesos-framework package assume one record per chunk.
    const socket = net.connect(master.port, "127.0.0.1");
    const body = JSON.stringify({
      type: "SUBSCRIBE",
      subscribe: { framework_info: { ...frameworkInfo, name: "v1-chunks" } },
    });
    socket.write(
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    let raw = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (raw = Buffer.concat([raw, d])));
    try {
      const chunks = await eventually(() => {
        const start = raw.indexOf("\r\n\r\n");
        if (start === -1) return undefined;
        const found: string[] = [];
        let at = start + 4;
        for (;;) {
          const eol = raw.indexOf("\r\n", at);
          if (eol === -1) break;
          const size = parseInt(raw.subarray(at, eol).toString(), 16);
          if (raw.length < eol + 2 + size + 2) break;
          found.push(raw.subarray(eol + 2, eol + 2 + size).toString());
          at = eol + 2 + size + 2;
        }
        return found.length >= 2 ? found : undefined;
      }, "two chunks");
      for (const chunk of chunks) {
        const [length = "", record = ""] = chunk.split(/\n(.*)/s);
        expect(Number(length)).toBe(Buffer.byteLength(record));
        expect(JSON.parse(record)).toHaveProperty("type");
      }
    } finally {
      socket.destroy();
    }
  });

  it("answers the documented request examples with the statuses Mesos answers them with", async () => {
    const [subscribeExample, ...calls] = SCHEDULER_EXAMPLES;
    const stream = await open({ "content-type": "application/json" }, JSON.stringify(subscribeExample?.request));
    expect(stream.status).toBe(200);
    const subscribed = (await eventOf(stream, "SUBSCRIBED")).subscribed as {
      framework_id: { value: string };
      heartbeat_interval_seconds: number;
    };
    expect(subscribed.heartbeat_interval_seconds).toBe(1);
    const frameworkId = subscribed.framework_id.value;
    // Calls the core does not serve yet, answered 501 instead of Mesos' status.
    const notServed: Record<string, number> = { RECONCILE_OPERATIONS: 501 };
    const teardownLast = [
      ...calls.filter((c) => c.request.type !== "TEARDOWN"),
      ...calls.filter((c) => c.request.type === "TEARDOWN"),
    ];
    const answered: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const [i, example] of teardownLast.entries()) {
      const key = `${i}:${String(example.request.type)}`;
      const body = JSON.stringify(example.request).replaceAll(SCHEDULER_EXAMPLES_FRAMEWORK_ID, frameworkId);
      const answer = await request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
        body: [body],
      });
      answered[key] = answer.status;
      expected[key] = notServed[String(example.request.type)] ?? example.mesosStatus;
      if (answer.status === 202) expect(answer.body.length).toBe(0);
    }
    expect(answered).toEqual(expected);
    expect(events(stream).filter((e) => e.type === "ERROR")).toEqual([]);
  });

  it("answers an ACCEPT of an unknown offer 202, and reports the launch through an UPDATE, as Mesos does", async () => {
    const stream = await open(
      { "content-type": "application/json" },
      JSON.stringify({
        type: "SUBSCRIBE",
        subscribe: { framework_info: { ...frameworkInfo, name: "v1-stale-offer" } },
      }),
    );
    const frameworkId = ((await eventOf(stream, "SUBSCRIBED")).subscribed as { framework_id: { value: string } })
      .framework_id.value;
    const task = {
      name: "t",
      task_id: { value: "stale" },
      agent_id: { value: "nowhere" },
      command: { value: "true" },
      resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
    };
    const answer = await request(master.port, "/api/v1/scheduler", {
      headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
      body: [
        JSON.stringify({
          framework_id: { value: frameworkId },
          type: "ACCEPT",
          accept: {
            offer_ids: [{ value: "no-such-offer" }],
            operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }],
          },
        }),
      ],
    });
    expect(answer.status).toBe(202);
    const update = await eventOf(stream, "UPDATE");
    expect((update.update as { status: { task_id: { value: string }; state: string } }).status).toMatchObject({
      task_id: { value: "stale" },
    });
    expect(events(stream).filter((e) => e.type === "ERROR")).toEqual([]);
  });

  it("closes the stream without an ERROR event when the master stops, so the scheduler reconnects", async () => {
    const own = await scope.start(["master", "--port", "0"], "master listening");
    const stream = await subscribe(
      own.port,
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: frameworkInfo } }),
    );
    streams.push(stream);
    await eventOf(stream, "SUBSCRIBED");
    await own.stop();
    await eventually(() => (stream.ended ? true : undefined), "the stream to end");
    expect(events(stream).map((e) => e.type)).not.toContain("ERROR");
  });

  it("fails a framework over to a new SUBSCRIBE with its id: the old stream gets ERROR and ends, the new stream id takes over", async () => {
    const info = { ...frameworkInfo, name: "v1-failover" };
    const first = await open(
      { "content-type": "application/json" },
      JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: info } }),
    );
    const frameworkId = ((await eventOf(first, "SUBSCRIBED")).subscribed as { framework_id: { value: string } })
      .framework_id.value;
    const second = await open(
      { "content-type": "application/json" },
      JSON.stringify({
        type: "SUBSCRIBE",
        framework_id: { value: frameworkId },
        subscribe: { framework_info: { ...info, id: { value: frameworkId } } },
      }),
    );
    expect(
      ((await eventOf(second, "SUBSCRIBED")).subscribed as { framework_id: { value: string } }).framework_id.value,
    ).toBe(frameworkId);
    await eventOf(first, "ERROR");
    await eventually(() => (first.ended ? true : undefined), "the first stream to end");
    const revive = (stream: Stream) =>
      request(master.port, "/api/v1/scheduler", {
        headers: { "content-type": "application/json", "mesos-stream-id": String(stream.headers["mesos-stream-id"]) },
        body: [JSON.stringify({ type: "REVIVE", framework_id: { value: frameworkId } })],
      });
    expect((await revive(first)).status).toBe(400);
    expect((await revive(second)).status).toBe(202);
    expect(events(second).map((e) => e.type)).not.toContain("ERROR");
  });
});
