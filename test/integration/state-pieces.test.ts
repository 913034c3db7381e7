import { request } from "node:http";
import { create, fromBinary, merge, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type, CallSchema, type Response, ResponseSchema } from "../../gen/mesos/v1/master/master_pb.js";
import { AgentInfoSchema, FrameworkInfoSchema, TaskSchema, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  type OperateRequest,
  OperateRequestSchema,
  type OperateResponse,
  OperateResponseSchema,
  type OperateStreamResponse,
  OperateStreamResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { createOperator } from "../../src/client/operator.js";
import { openStream, type UnifiedStream } from "../../src/client/stream.js";
import { parseResources } from "../../src/core/resources/index.js";
import { silentLogger } from "../../src/log.js";
import { type MasterDaemon, startMaster } from "../../src/master/daemon.js";
import { defaultMasterOptions } from "../../src/master/options.js";
import { eventually } from "../helpers/processes.js";

const AGENTS = 8;
const TASKS_PER_AGENT = 600;
/** Labels that make the state about 6 MB: over gRPC's 4 MiB default. */
const LABEL = "x".repeat(1000);
const GRPC_DEFAULT = 4 * 1024 * 1024;

const framework = create(FrameworkInfoSchema, {
  user: "u",
  name: "big",
  id: { value: "fw-big" },
  // No scheduler ever subscribes: keep the recovered framework and its tasks.
  failoverTimeout: 86_400,
});

function register(a: number): ConnectRequest {
  const agentId = `big-agent-${a}`;
  return create(ConnectRequestSchema, {
    call: {
      case: "agent",
      value: {
        call: {
          case: "register",
          value: {
            agentInfo: create(AgentInfoSchema, {
              hostname: `big-${a}`,
              id: { value: agentId },
              resources: parseResources("cpus:1000;mem:1000000"),
            }),
            frameworks: [framework],
            version: "test",
            tasks: Array.from({ length: TASKS_PER_AGENT }, (_, t) =>
              create(TaskSchema, {
                name: `t-${a}-${t}`,
                taskId: { value: `t-${a}-${t}` },
                frameworkId: framework.id,
                agentId: { value: agentId },
                state: TaskState.TASK_RUNNING,
                resources: parseResources("cpus:0.1;mem:1"),
                labels: { labels: [{ key: "pad", value: LABEL }] },
              }),
            ),
          },
        },
      },
    },
  });
}

/** A client as generated code makes one: grpc-js with its default 4 MiB receive limit. */
function grpcClient(port: number) {
  const binary = <T>(schema: Parameters<typeof toBinary>[0]) => ({
    serialize: (m: T) => Buffer.from(toBinary(schema, m as never)),
  });
  const Client = grpc.makeGenericClientConstructor(
    {
      Operate: {
        path: "/mesos.v2.MesosService/Operate",
        requestStream: false,
        responseStream: false,
        requestSerialize: binary<OperateRequest>(OperateRequestSchema).serialize,
        requestDeserialize: (b: Buffer) => fromBinary(OperateRequestSchema, b),
        responseSerialize: binary<OperateResponse>(OperateResponseSchema).serialize,
        responseDeserialize: (b: Buffer) => fromBinary(OperateResponseSchema, b),
      },
      OperateStream: {
        path: "/mesos.v2.MesosService/OperateStream",
        requestStream: false,
        responseStream: true,
        requestSerialize: binary<OperateRequest>(OperateRequestSchema).serialize,
        requestDeserialize: (b: Buffer) => fromBinary(OperateRequestSchema, b),
        responseSerialize: binary<OperateStreamResponse>(OperateStreamResponseSchema).serialize,
        responseDeserialize: (b: Buffer) => fromBinary(OperateStreamResponseSchema, b),
      },
      Connect: {
        path: "/mesos.v2.MesosService/Connect",
        requestStream: true,
        responseStream: true,
        requestSerialize: binary<ConnectRequest>(ConnectRequestSchema).serialize,
        requestDeserialize: (b: Buffer) => fromBinary(ConnectRequestSchema, b),
        responseSerialize: binary<ConnectResponse>(ConnectResponseSchema).serialize,
        responseDeserialize: (b: Buffer) => fromBinary(ConnectResponseSchema, b),
      },
    },
    "MesosService",
  );
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Operate(req: OperateRequest, cb: (err: grpc.ServiceError | null, res?: OperateResponse) => void): void;
    OperateStream(req: OperateRequest): grpc.ClientReadableStream<OperateStreamResponse>;
    Connect(): grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;
  };
}

const GET_STATE = create(CallSchema, { type: Call_Type.GET_STATE });

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

const taskIds = (r: Response | undefined): string[] =>
  (r?.getState?.getTasks?.tasks ?? []).map((t) => t.taskId?.value ?? "").sort();

describe("a state larger than gRPC's 4 MiB default", () => {
  let master: MasterDaemon;
  const streams: UnifiedStream[] = [];
  let client: ReturnType<typeof grpcClient>;

  beforeAll(async () => {
    master = await startMaster({ ...defaultMasterOptions, port: 0 }, silentLogger());
    for (let a = 0; a < AGENTS; a++)
      streams.push(openStream({ baseUrl: `127.0.0.1:${master.port}`, hello: () => register(a), onEvent: () => {} }));
    await eventually(async () => {
      const metrics = JSON.parse(await httpGet(master.port, "/metrics/snapshot")) as Record<string, number>;
      return metrics["master/tasks_running"] === AGENTS * TASKS_PER_AGENT ? true : undefined;
    }, "every task adopted");
    client = grpcClient(master.port);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await Promise.all(streams.map((s) => s.close()));
    await master?.close();
  });

  it("answers unary Operate with RESOURCE_EXHAUSTED naming the streaming alternatives", async () => {
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.Operate(create(OperateRequestSchema, { call: GET_STATE }), (err) => resolve(err)),
    );
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error?.details).toMatch(/OperateStream/);
    expect(error?.details).toMatch(/Connect stream/);
    // Small answers still come whole.
    const health = await new Promise<OperateResponse | undefined>((resolve, reject) =>
      client.Operate(create(OperateRequestSchema, { call: { type: Call_Type.GET_HEALTH } }), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    expect(health?.response?.getHealth?.healthy).toBe(true);
  });

  it("is readable whole through OperateStream by a client with default limits", async () => {
    const whole = create(ResponseSchema);
    const pieces: OperateStreamResponse[] = [];
    for await (const piece of client.OperateStream(create(OperateRequestSchema, { call: GET_STATE }))) {
      pieces.push(piece as OperateStreamResponse);
      expect(toBinary(OperateStreamResponseSchema, piece as OperateStreamResponse).byteLength).toBeLessThan(
        GRPC_DEFAULT,
      );
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.map((p) => p.piece?.index)).toEqual(pieces.map((_, i) => i));
    expect(pieces.map((p) => p.piece?.last)).toEqual(pieces.map((_, i) => i === pieces.length - 1));
    for (const p of pieces) if (p.response) merge(ResponseSchema, whole, p.response);
    expect(whole.type).toBe(ResponseSchema.field.type.enum?.values.find((v) => v.name === "GET_STATE")?.number);
    expect(whole.getState?.getTasks?.tasks).toHaveLength(AGENTS * TASKS_PER_AGENT);
    expect(whole.getState?.getAgents?.agents).toHaveLength(AGENTS);
  });

  it("is readable whole through the Connect stream by a client with default limits", async () => {
    const stream = client.Connect();
    const whole = create(ResponseSchema);
    let pieces = 0;
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (event: ConnectResponse) => {
        if (event.callId !== "state") return;
        pieces++;
        if (event.event.case === "operatorResponse") merge(ResponseSchema, whole, event.event.value);
        if (event.piece === undefined || event.piece.last) resolve();
      });
      stream.on("error", reject);
    });
    stream.write(create(ConnectRequestSchema, { id: "state", call: { case: "operator", value: GET_STATE } }));
    await done;
    stream.cancel();
    expect(pieces).toBeGreaterThan(1);
    expect(whole.getState?.getTasks?.tasks).toHaveLength(AGENTS * TASKS_PER_AGENT);
  });

  it("is read whole by Plateau's own operator client, which falls back to pieces", async () => {
    const operator = createOperator({ master: `127.0.0.1:${master.port}` });
    try {
      const state = await operator.getState();
      expect(state.getTasks?.tasks).toHaveLength(AGENTS * TASKS_PER_AGENT);
    } finally {
      await operator.close();
    }
  });

  it("streams /master/state as JSON over many chunks that shows what GET_STATE shows", async () => {
    const pieces: Response[] = [];
    for await (const piece of client.OperateStream(create(OperateRequestSchema, { call: GET_STATE })))
      if ((piece as OperateStreamResponse).response) pieces.push((piece as OperateStreamResponse).response as Response);
    const v2 = create(ResponseSchema);
    for (const p of pieces) merge(ResponseSchema, v2, p);

    const text = await httpGet(master.port, "/master/state");
    // Well past the 64 KiB chunks it is written in.
    expect(text.length).toBeGreaterThan(50 * 64 * 1024);
    const json = JSON.parse(text) as {
      slaves: { id: string }[];
      frameworks: { id: string; tasks: { id: string; slave_id: string; state: string }[] }[];
    };
    expect(json.slaves.map((s) => s.id).sort()).toEqual(
      (v2.getState?.getAgents?.agents ?? []).map((a) => a.agentInfo?.id?.value).sort(),
    );
    const jsonTasks = json.frameworks.flatMap((f) => f.tasks);
    expect(jsonTasks.map((t) => t.id).sort()).toEqual(taskIds(v2));
    expect(new Set(jsonTasks.map((t) => t.state))).toEqual(new Set(["TASK_RUNNING"]));
  });

  it("gives parallel /master/state readers the same whole document", async () => {
    const bodies = await Promise.all(Array.from({ length: 6 }, () => httpGet(master.port, "/state")));
    for (const body of bodies) expect(body).toBe(bodies[0]);
    expect((JSON.parse(bodies[0] as string) as { slaves: unknown[] }).slaves).toHaveLength(AGENTS);
  });
});
