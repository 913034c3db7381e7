import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CallSchema as ExecutorCallSchema,
  Call_Type as ExecutorCallType,
} from "../../gen/mesos/v1/executor/executor_pb.js";
import { HealthCheckSchema, TaskState, TaskStatus_Source } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type, CallSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { validateSchedulerCall } from "../../src/core/master/scheduler-validation.js";
import { validateExecutorCall } from "../../src/gateway/executor-validation.js";
import { toMesosJson } from "../../src/gateway/json.js";

const uuid = new Uint8Array(16).fill(7);

describe("Mesos' scheduler call validation", () => {
  const framework = { frameworkId: { value: "fw" } };
  it("accepts well-formed calls", () => {
    expect(
      validateSchedulerCall(
        create(CallSchema, { type: Call_Type.SUBSCRIBE, subscribe: { frameworkInfo: { user: "u", name: "n" } } }),
      ),
    ).toBeUndefined();
    expect(validateSchedulerCall(create(CallSchema, { ...framework, type: Call_Type.REVIVE }))).toBeUndefined();
    expect(
      validateSchedulerCall(
        create(CallSchema, {
          ...framework,
          type: Call_Type.ACKNOWLEDGE,
          acknowledge: { agentId: { value: "a" }, taskId: { value: "t" }, uuid },
        }),
      ),
    ).toBeUndefined();
  });

  it("names what is missing or wrong, as Mesos does", () => {
    const cases: [Parameters<typeof create<typeof CallSchema>>[1], RegExp][] = [
      [{}, /'type'/],
      [{ type: Call_Type.SUBSCRIBE }, /'subscribe'/],
      [
        {
          type: Call_Type.SUBSCRIBE,
          frameworkId: { value: "x" },
          subscribe: { frameworkInfo: { user: "u", name: "n" } },
        },
        /differs/,
      ],
      [{ type: Call_Type.DECLINE }, /'framework_id'/],
      [{ ...framework, type: Call_Type.ACCEPT }, /'accept'/],
      [{ ...framework, type: Call_Type.KILL, kill: {} }, /kill\.task_id/],
      [
        {
          ...framework,
          type: Call_Type.ACKNOWLEDGE,
          acknowledge: { agentId: { value: "a" }, taskId: { value: "t" }, uuid: new Uint8Array(3) },
        },
        /UUID/,
      ],
      [{ ...framework, type: Call_Type.REQUEST }, /'request'/],
      [
        {
          ...framework,
          type: Call_Type.UPDATE_FRAMEWORK,
          updateFramework: { frameworkInfo: { user: "u", name: "n" } },
        },
        /differs/,
      ],
    ];
    for (const [init, reason] of cases) expect(validateSchedulerCall(create(CallSchema, init))).toMatch(reason);
  });
});

describe("Mesos' executor call validation", () => {
  const ids = { frameworkId: { value: "fw" }, executorId: { value: "ex" } };
  const update = (status: Record<string, unknown>) =>
    create(ExecutorCallSchema, {
      ...ids,
      type: ExecutorCallType.UPDATE,
      update: { status: { taskId: { value: "t" }, ...status } },
    });
  it("accepts a well-formed update and refuses what Mesos refuses", () => {
    expect(
      validateExecutorCall(update({ uuid, source: TaskStatus_Source.EXECUTOR, state: TaskState.TASK_RUNNING })),
    ).toBeUndefined();
    expect(validateExecutorCall(update({ source: TaskStatus_Source.EXECUTOR, state: TaskState.TASK_RUNNING }))).toMatch(
      /'uuid'/,
    );
    expect(
      validateExecutorCall(update({ uuid, source: TaskStatus_Source.MASTER, state: TaskState.TASK_RUNNING })),
    ).toMatch(/SOURCE_EXECUTOR/);
    expect(
      validateExecutorCall(update({ uuid, source: TaskStatus_Source.EXECUTOR, state: TaskState.TASK_STAGING })),
    ).toMatch(/TASK_STAGING/);
    expect(
      validateExecutorCall(update({ uuid, source: TaskStatus_Source.EXECUTOR, executorId: { value: "other" } })),
    ).toMatch(/does not match/);
    expect(
      validateExecutorCall(create(ExecutorCallSchema, { type: ExecutorCallType.SUBSCRIBE, subscribe: {} })),
    ).toMatch(/'executor_id'/);
    expect(validateExecutorCall(create(ExecutorCallSchema, { ...ids, type: ExecutorCallType.MESSAGE }))).toMatch(
      /'message'/,
    );
  });
});

describe("Mesos JSON defaults", () => {
  it("writes proto2 fields with a declared default even when unset, as Mesos' JSON does", () => {
    expect(toMesosJson(HealthCheckSchema, create(HealthCheckSchema, {}))).toEqual({
      delay_seconds: 15,
      interval_seconds: 10,
      timeout_seconds: 20,
      consecutive_failures: 3,
      grace_period_seconds: 10,
    });
  });
});
