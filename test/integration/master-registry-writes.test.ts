/**
 * The master answers a change only once the registry holds it: with a slow
 * registry the answer waits, and with a failing one the client gets an
 * error, the master steps down, and the change is not there afterwards.
 */
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { silentLogger } from "../../src/log.js";
import { type MasterDaemon, startMaster } from "../../src/master/daemon.js";
import { createEmbeddedElection } from "../../src/master/election.js";
import { createMemoryElection } from "../../src/master/etcd/memory-coordinator.js";
import { defaultMasterOptions } from "../../src/master/options.js";
import { createGate, hookedElection } from "../helpers/hooked-election.js";
import { eventually } from "../helpers/processes.js";

describe("registry writes come before answers", () => {
  let master: MasterDaemon | undefined;
  let operator: OperatorClient | undefined;
  afterEach(async () => {
    await operator?.close();
    await master?.close();
  });

  const weightOf = async (role: string) =>
    (await operator?.call({ type: OperatorCallType.GET_WEIGHTS }))?.getWeights?.weightInfos.find((w) => w.role === role)
      ?.weight;

  it("holds the answer, and later answers, until the write is stored", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    master = await startMaster({ ...defaultMasterOptions, port: 0 }, silentLogger(), {
      election: hookedElection((op) => (op.kind === "update-weights" ? gate : Promise.resolve())),
    });
    operator = createOperator({ master: `127.0.0.1:${master.port}` });
    let answered = false;
    const update = operator
      .call({ type: OperatorCallType.UPDATE_WEIGHTS, updateWeights: { weightInfos: [{ role: "eng", weight: 3 }] } })
      .then(() => (answered = true));
    // A read behind the unstored change waits too: nobody sees what a crash could lose.
    let read: number | undefined;
    const reading = weightOf("eng").then((w) => (read = w));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([answered, read]).toEqual([false, undefined]);
    release();
    await update;
    await reading;
    expect([answered, read]).toEqual([true, 3]);
  });

  it.each([
    ["the embedded election", () => createEmbeddedElection(undefined)],
    // Like etcd, it keeps a term until it is given up: a master that ends its
    // own term must resign it, or its next campaign waits behind itself.
    ["the in-memory twin of etcd's", () => createMemoryElection().coordinator()],
  ])(
    "with %s: answers a failed write with an error, steps down, and comes back without the change",
    async (_, election) => {
      let failNext = true;
      master = await startMaster({ ...defaultMasterOptions, port: 0 }, silentLogger(), {
        election: hookedElection(async (op) => {
          if (op.kind === "update-weights" && failNext) {
            failNext = false;
            throw new Error("disk full");
          }
        }, election()),
      });
      operator = createOperator({ master: `127.0.0.1:${master.port}` });
      await expect(
        operator.call({
          type: OperatorCallType.UPDATE_WEIGHTS,
          updateWeights: { weightInfos: [{ role: "eng", weight: 3 }] },
        }),
      ).rejects.toThrow();
      // The next term starts from what was stored: no weight for eng.
      const weight = await eventually(
        () =>
          weightOf("eng").then(
            (w) => ({ w }),
            () => undefined,
          ),
        "the master to lead again",
      );
      expect(weight.w).toBeUndefined();
      await operator.call({
        type: OperatorCallType.UPDATE_WEIGHTS,
        updateWeights: { weightInfos: [{ role: "eng", weight: 2 }] },
      });
      expect(await weightOf("eng")).toBe(2);
    },
  );
});

describe("a registry write that never completes", () => {
  it("does not hold the master's shutdown: close() returns, the waiting call is refused as UNAVAILABLE and the client is let go", async () => {
    const gate = createGate();
    const master = await startMaster({ ...defaultMasterOptions, port: 0 }, silentLogger(), {
      election: hookedElection(async (op) => {
        if (op.kind !== "update-weights") return;
        gate.arrive();
        await gate.wait;
      }),
    });
    const operator = createOperator({ master: `127.0.0.1:${master.port}` });
    const update = operator.call({
      type: OperatorCallType.UPDATE_WEIGHTS,
      updateWeights: { weightInfos: [{ role: "eng", weight: 3 }] },
    });
    const refused = expect(update).rejects.toMatchObject({ code: Code.Unavailable });
    await gate.reached;
    try {
      await master.close();
      await refused;
    } finally {
      gate.open();
      await operator.close();
    }
  });
});
