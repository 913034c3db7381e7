import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import * as exec from "../../gen/mesos/v1/executor/executor_pb.js";
import { Call_Type as OperatorCallType, Response_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { Offer_OperationSchema, TaskInfoSchema, TaskState, TaskStatus_Source } from "../../gen/mesos/v1/mesos_pb.js";
import * as sched from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  MesosService,
  OperateResponseSchema,
} from "../../gen/mesos/v2/mesos_pb.js";
import { createExecutor } from "../../src/client/executor.js";
import { createOperator } from "../../src/client/operator.js";
import { createScheduler } from "../../src/client/scheduler.js";
import { createAsyncQueue } from "../../src/util/async-queue.js";
import { until } from "../helpers/wait.js";

interface Conn {
  requests: ConnectRequest[];
  push(event: ConnectResponse): void;
  drop(): void;
}

/** A scripted server: `script` answers each request of each stream. */
async function startServer(script: (conn: Conn, request: ConnectRequest) => void) {
  const conns: Conn[] = [];
  const routes = (router: ConnectRouter) =>
    router.service(MesosService, {
      async *connect(requests) {
        const outbox = createAsyncQueue<ConnectResponse>();
        let dropped = false;
        const conn: Conn = {
          requests: [],
          push: (e) => outbox.push(e),
          drop: () => {
            dropped = true;
            outbox.end();
          },
        };
        conns.push(conn);
        void (async () => {
          try {
            for await (const r of requests) {
              conn.requests.push(r);
              script(conn, r);
            }
          } catch {
            // client went away
          }
          outbox.end();
        })();
        yield* outbox;
        if (dropped) throw new ConnectError("dropped", Code.Unavailable);
      },
      async operate(req) {
        if (req.call?.type !== OperatorCallType.GET_TASKS) throw new ConnectError("nope", Code.Unimplemented);
        return create(OperateResponseSchema, {
          response: { type: Response_Type.GET_TASKS, getTasks: { tasks: [{ name: "t" }] } },
        });
      },
    });
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(connectNodeAdapter({ routes }));
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { address, conns };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const fast = { initialMs: 10, maxMs: 20 };

describe("createScheduler", () => {
  it("subscribes, sends calls with framework_id, and resubscribes with the id after a drop", async () => {
    const { address, conns } = await startServer((conn, r) => {
      if (r.call.case === "scheduler" && r.call.value.type === sched.Call_Type.SUBSCRIBE) {
        const event = create(sched.EventSchema, {
          type: sched.Event_Type.SUBSCRIBED,
          subscribed: { frameworkId: { value: "fw-1" }, heartbeatIntervalSeconds: 15 },
        });
        conn.push(create(ConnectResponseSchema, { callId: r.id, event: { case: "scheduler", value: event } }));
      }
    });
    const events: sched.Event[] = [];
    const scheduler = createScheduler({
      master: address,
      framework: { name: "test", user: "me" },
      onEvent: (e) => events.push(e),
      reconnect: fast,
    });
    cleanups.push(() => scheduler.close());
    await until(() => scheduler.subscribed);
    expect(scheduler.frameworkId).toBe("fw-1");
    expect(scheduler.decline(["o1"], 5)).toBe(true);
    await until(() => conns[0]?.requests.length === 2);
    const decline = conns[0]!.requests[1]!.call;
    expect(decline.case === "scheduler" && decline.value.frameworkId?.value).toBe("fw-1");
    expect(decline.case === "scheduler" && decline.value.decline?.filters?.refuseSeconds).toBe(5);

    conns[0]!.drop();
    await until(() => conns.length === 2 && scheduler.subscribed);
    const resubscribe = conns[1]!.requests[0]!.call;
    expect(resubscribe.case === "scheduler" && resubscribe.value.subscribe?.frameworkInfo?.id?.value).toBe("fw-1");
    expect(resubscribe.case === "scheduler" && resubscribe.value.frameworkId?.value).toBe("fw-1");
    expect(events.filter((e) => e.type === sched.Event_Type.SUBSCRIBED)).toHaveLength(2);

    // A call built wrongly is refused at once, and the stream stays up.
    const task = create(TaskInfoSchema, { name: "t", taskId: { value: "t" } });
    const broken = { ...task, agentId: { value: "a1" } } as typeof task; // a plain object where a message belongs
    expect(() =>
      scheduler.accept(["o2"], [create(Offer_OperationSchema, { type: 1, launch: { taskInfos: [broken] } })]),
    ).toThrow(/ACCEPT cannot be encoded/);
    expect(scheduler.decline(["o3"])).toBe(true);
    await until(() => conns[1]?.requests.length === 2);
    expect(conns).toHaveLength(2);
  });
});

describe("createExecutor", () => {
  it("keeps unacknowledged updates, resends them on resubscribe, forgets acknowledged ones", async () => {
    const { address, conns } = await startServer(() => {});
    const executor = createExecutor({
      agent: address,
      frameworkId: "fw",
      executorId: "ex",
      onEvent: () => {},
      reconnect: fast,
    });
    cleanups.push(() => executor.close());
    await until(() => executor.connected);
    executor.update({ taskId: { value: "t1" }, state: TaskState.TASK_RUNNING });
    executor.update({ taskId: { value: "t1" }, state: TaskState.TASK_FINISHED });
    await until(() => conns[0]?.requests.length === 3);
    const [first, second] = executor.unacknowledged;
    expect(first?.uuid.length).toBe(16);
    expect(first?.source).toBe(TaskStatus_Source.EXECUTOR);
    expect(first?.executorId?.value).toBe("ex");
    expect(first?.timestamp).toBeGreaterThan(0);

    const ack = create(exec.EventSchema, {
      type: exec.Event_Type.ACKNOWLEDGED,
      acknowledged: { taskId: { value: "t1" }, uuid: first!.uuid },
    });
    conns[0]!.push(create(ConnectResponseSchema, { event: { case: "executor", value: ack } }));
    await until(() => executor.unacknowledged.length === 1);

    conns[0]!.drop();
    await until(() => conns.length === 2 && conns[1]!.requests.length >= 1);
    const hello = conns[1]!.requests[0]!.call;
    expect(hello.case).toBe("executor");
    if (hello.case !== "executor") return;
    expect(hello.value.type).toBe(exec.Call_Type.SUBSCRIBE);
    expect(hello.value.frameworkId?.value).toBe("fw");
    expect(hello.value.subscribe?.unacknowledgedUpdates.map((u) => u.status?.uuid)).toEqual([second!.uuid]);
  });
});

describe("createOperator", () => {
  it("calls Operate and unwraps the payload", async () => {
    const { address } = await startServer(() => {});
    const operator = createOperator({ master: address });
    cleanups.push(() => operator.close());
    const tasks = await operator.getTasks();
    expect(tasks.tasks.map((t) => t.name)).toEqual(["t"]);
    await expect(operator.getState()).rejects.toMatchObject({ code: Code.Unimplemented });
  });
});
