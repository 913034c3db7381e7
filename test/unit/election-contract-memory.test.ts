import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { Election } from "../../src/master/election.js";
import { createMemoryElection } from "../../src/master/etcd/memory-coordinator.js";
import { describeElectionContract } from "../helpers/election-contract.js";

describeElectionContract("the in-memory twin", () => {
  const shared = createMemoryElection();
  const elections: Election[] = [];
  return Promise.resolve({
    election() {
      const election = shared.coordinator();
      elections.push(election);
      return election;
    },
    expireLeader() {
      shared.expireLeader();
      return Promise.resolve();
    },
    async close() {
      await Promise.all(elections.map((e) => e.close()));
    },
  });
});

describe("the in-memory twin's own view", () => {
  it("shows what the registry holds now, as the leaders wrote it", async () => {
    const shared = createMemoryElection();
    const leading = await shared
      .coordinator()
      .campaign(create(MasterInfoSchema, { id: "a", hostname: "localhost", port: 5000 }));
    await leading.registry.apply({
      kind: "update-weights",
      weights: [create(WeightInfoSchema, { role: "prod", weight: 2 })],
    });
    expect(shared.registry.weights.map((w) => [w.role, w.weight])).toEqual([["prod", 2]]);
  });
});
