import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { Call_Type as SchedulerCallType } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  Error_Code,
} from "../../gen/mesos/v2/mesos_pb.js";
import { createOperator } from "../../src/client/operator.js";
import { openStream } from "../../src/client/stream.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";

/** Sends raw gRPC frames to Connect and collects the decoded answers and the status. */
async function rawConnect(
  port: number,
  frames: Uint8Array[],
): Promise<{ events: ConnectResponse[]; status: string | undefined; message: string | undefined }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": "/mesos.v2.MesosService/Connect",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message: string | undefined;
      req.on("response", (headers) => {
        status ??= headers["grpc-status"] as string | undefined;
        message ??= headers["grpc-message"] as string | undefined;
      });
      req.on("trailers", (trailers) => {
        status = trailers["grpc-status"] as string | undefined;
        message = trailers["grpc-message"] as string | undefined;
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const events: ConnectResponse[] = [];
        for (let at = 0; at + 5 <= body.length; ) {
          const len = body.readUInt32BE(at + 1);
          events.push(fromBinary(ConnectResponseSchema, body.subarray(at + 5, at + 5 + len)));
          at += 5 + len;
        }
        resolve({ events, status, message: message === undefined ? undefined : decodeURIComponent(message) });
      });
      for (const frame of frames) {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(frame.length, 1);
        req.write(Buffer.concat([header, frame]));
      }
      req.end();
    });
  } finally {
    session.close();
  }
}

describe("master: bad input gets a clear error and the master carries on", () => {
  const scope = new ProcessScope();
  let master: Daemon;

  beforeAll(async () => {
    master = await scope.start(["master", "--port", "0", "--log-level", "info"], "master listening");
  });
  afterAll(() => scope.cleanup());

  const healthy = async () => {
    const operator = createOperator({ master: `127.0.0.1:${master.port}` });
    try {
      const r = await operator.call({ type: OperatorCallType.GET_HEALTH });
      return r.getHealth?.healthy;
    } finally {
      await operator.close();
    }
  };

  it("answers an undecodable protobuf message with an error event and INVALID_ARGUMENT", async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const { events, status, message } = await rawConnect(master.port, [garbage]);
    expect(status).toBe("3");
    expect(message).toMatch(/Malformed request/);
    const error = events.find((e) => e.event.case === "error");
    expect(error?.event.case === "error" && error.event.value.fatal).toBe(true);
    expect(await healthy()).toBe(true);
  });

  it("answers a scheduler call before SUBSCRIBE and keeps the stream open", async () => {
    const decline = create(ConnectRequestSchema, {
      id: "early",
      call: {
        case: "scheduler",
        value: {
          type: SchedulerCallType.DECLINE,
          frameworkId: { value: "who-knows" },
          decline: { offerIds: [{ value: "x" }] },
        },
      },
    });
    const health = create(ConnectRequestSchema, {
      id: "h",
      call: {
        case: "scheduler",
        value: { type: SchedulerCallType.SUBSCRIBE, subscribe: { frameworkInfo: { user: "u", name: "late" } } },
      },
    });
    const { events } = await rawConnect(master.port, [
      toBinary(ConnectRequestSchema, decline),
      toBinary(ConnectRequestSchema, health),
    ]);
    const error = events.find((e) => e.callId === "early");
    expect(error?.event.case === "error" && error.event.value.code).toBe(Error_Code.FAILED_PRECONDITION);
    expect(error?.event.case === "error" && error.event.value.message).toMatch(/SUBSCRIBE/);
    expect(events.some((e) => e.callId === "h" && e.event.case === "scheduler")).toBe(true);
  });

  it("answers malformed JSON on the Connect protocol with 400 and a message", async () => {
    const res = await fetch(`http://127.0.0.1:${master.port}/mesos.v2.MesosService/Operate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message.length).toBeGreaterThan(0);
    expect(await healthy()).toBe(true);
  });

  it("answers valid JSON on the Connect protocol with the v1 response", async () => {
    const res = await fetch(`http://127.0.0.1:${master.port}/mesos.v2.MesosService/Operate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ call: { type: "GET_HEALTH" } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response: { type: "GET_HEALTH", getHealth: { healthy: true } } });
  });

  it("answers TEARDOWN of an unknown framework id with NOT_FOUND", async () => {
    const operator = createOperator({ master: `127.0.0.1:${master.port}` });
    try {
      await expect(
        operator.call({ type: OperatorCallType.TEARDOWN, teardown: { frameworkId: { value: "no-such-framework" } } }),
      ).rejects.toThrow(/no-such-framework/);
    } finally {
      await operator.close();
    }
  });

  it("refuses an operator SUBSCRIBE on the unary RPC, pointing at the stream", async () => {
    const operator = createOperator({ master: `127.0.0.1:${master.port}` });
    try {
      await expect(operator.call({ type: OperatorCallType.SUBSCRIBE })).rejects.toThrow(/stream/);
    } finally {
      await operator.close();
    }
  });

  it("echoes call ids on a long-lived operator stream", async () => {
    const got: ConnectResponse[] = [];
    const stream = openStream({
      baseUrl: `127.0.0.1:${master.port}`,
      hello: () =>
        create(ConnectRequestSchema, {
          id: "first",
          call: { case: "operator", value: { type: OperatorCallType.GET_VERSION } },
        }),
      onEvent: (e) => got.push(e),
      reconnect: false,
    });
    try {
      await eventually(() => (stream.connected ? true : undefined), "the stream to connect");
      const answer = await stream.call(
        create(ConnectRequestSchema, {
          id: "second",
          call: { case: "operator", value: { type: OperatorCallType.GET_MASTER } },
        }),
      );
      expect(answer.event.case).toBe("operatorResponse");
      await eventually(() => (got.some((e) => e.callId === "first") ? true : undefined), "the first answer");
    } finally {
      await stream.close();
    }
  });
});
