import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { RegistryOperation } from "../../src/core/registry/registry.js";
import { silentLogger } from "../../src/log.js";
import {
  createEtcdCoordinator,
  type EtcdCoordinator,
  type Leadership,
  LeadershipLostError,
} from "../../src/master/etcd/index.js";
import { EtcdScope } from "../helpers/etcd.js";

const weights = (role: string): RegistryOperation => ({
  kind: "update-weights",
  weights: [create(WeightInfoSchema, { role, weight: 1 })],
});
const info = (id: string) => create(MasterInfoSchema, { id, hostname: "localhost", port: 5000 });

describe("masters on a three-member etcd cluster", () => {
  const etcds = new EtcdScope();
  const coordinators: EtcdCoordinator[] = [];
  afterEach(async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
    await etcds.cleanup();
  });
  const coordinator = (endpoints: string[]): EtcdCoordinator => {
    const c = createEtcdCoordinator({ endpoints, prefix: "/plateau", electionTtlSeconds: 2, logger: silentLogger() });
    coordinators.push(c);
    return c;
  };

  it("keeps the registry and a writable leader when one etcd member dies", async () => {
    const members = await etcds.startCluster(3);
    const endpoints = members.map((m) => m.endpoint);
    const a = coordinator(endpoints);
    const leadingA = await a.campaign(info("a"));
    await leadingA.registry.apply(weights("before"));

    await members[0]?.kill();
    // A may or may not keep its lease through the switch to another
    // member; its write lands or is refused for lost leadership, nothing else.
    const outcome = await leadingA.registry.apply(weights("during")).then(
      () => "written",
      (err: unknown) => (err instanceof LeadershipLostError ? "lost" : String(err)),
    );
    expect(["written", "lost"]).toContain(outcome);
    await a.close();

    const b = coordinator(endpoints);
    let leadingB: Leadership | undefined;
    // The client may try the dead member first and hold it down a moment.
    for (let attempt = 0; leadingB === undefined && attempt < 30; attempt++) {
      leadingB = await b.campaign(info("b")).catch(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return undefined;
      });
    }
    if (leadingB === undefined) throw new Error("no leader after an etcd member died");
    expect(leadingB.registry.current.weights.map((w) => w.role)).toEqual(
      outcome === "written" ? ["before", "during"] : ["before"],
    );
    expect(await leadingB.registry.apply(weights("after"))).toBe(true);
    await leadingB.announce();
    expect((await b.leader())?.id).toBe("b");
  });
});
