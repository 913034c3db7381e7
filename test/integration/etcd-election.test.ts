import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { type MasterInfo, MasterInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { silentLogger } from "../../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator, LeadershipLostError } from "../../src/master/etcd/index.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";
import { eventually } from "../helpers/processes.js";

const masterInfo = (id: string, port: number): MasterInfo =>
  create(MasterInfoSchema, {
    id,
    ip: 0x0100007f,
    port,
    hostname: "localhost",
    version: "test",
    address: { hostname: "localhost", ip: "127.0.0.1", port },
  });

// What only etcd can show (keys deleted by hand, restarts, several
// endpoints); what every election backend promises is in
// etcd-election-contract.test.ts (test/helpers/election-contract.ts).
describe("leader election through etcd", () => {
  const etcds = new EtcdScope();
  const coordinators: EtcdCoordinator[] = [];
  afterEach(async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
    await etcds.cleanup();
  });
  const coordinator = (etcd: EtcdServer): EtcdCoordinator => {
    const c = createEtcdCoordinator({
      endpoints: [etcd.endpoint],
      prefix: "/plateau",
      electionTtlSeconds: 2,
      logger: silentLogger(),
    });
    coordinators.push(c);
    return c;
  };

  it("a leader whose campaign key someone deleted cannot announce itself, even before it knows", async () => {
    const etcd = await etcds.start();
    const client = coordinator(etcd);
    // Someone else deletes B's campaign key, and B announces at once: etcd's
    // fence refuses the write whether or not B's watch has told it yet.
    const b = coordinator(etcd);
    const leadingB = await b.campaign(masterInfo("master-b", 5002));
    const keys = await etcdKeys(etcd);
    expect(keys).toHaveLength(1);
    await deleteKey(etcd, keys[0] as string);
    await expect(leadingB.announce()).rejects.toBeInstanceOf(LeadershipLostError);
    expect(await client.leader()).toBeUndefined();
  });

  it("a watcher keeps following the leader across an etcd restart", async () => {
    const etcd = await etcds.start();
    const [a, b, client] = [coordinator(etcd), coordinator(etcd), coordinator(etcd)];
    const seen: (string | undefined)[] = [];
    const watch = client.watchLeader((leader) => seen.push(leader?.id));
    await (await a.campaign(masterInfo("master-a", 5001))).announce();
    await eventually(() => (seen.at(-1) === "master-a" ? true : undefined), "master-a reported");
    await etcd.restart();
    // Whatever became of A's lease in the restart, closing A lets B lead.
    await a.close();
    await (await b.campaign(masterInfo("master-b", 5002))).announce();
    await eventually(() => (seen.at(-1) === "master-b" ? true : undefined), "master-b reported after the restart");
    watch.close();
  });

  it("works with several endpoints when one of them is down", async () => {
    const etcd = await etcds.start();
    const down = await etcds.start();
    await down.stop();
    const c = createEtcdCoordinator({
      endpoints: [down.endpoint, etcd.endpoint],
      prefix: "/plateau",
      electionTtlSeconds: 2,
      logger: silentLogger(),
    });
    coordinators.push(c);
    const leading = await c.campaign(masterInfo("master-a", 5001));
    await leading.announce();
    for (let i = 1; i <= 5; i++) {
      expect(
        await leading.registry.apply({
          kind: "update-weights",
          weights: [{ $typeName: "mesos.v1.WeightInfo", role: `r${i}`, weight: 1 }],
        }),
      ).toBe(true);
      expect((await c.leader())?.id).toBe("master-a");
    }
  });
});

/** Deletes `key` with a client of the test's own. */
async function deleteKey(etcd: EtcdServer, key: string): Promise<void> {
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: [etcd.clientUrl] });
  try {
    await client.delete().key(key);
  } finally {
    client.close();
  }
}

/** The campaign keys etcd holds now, read with a client of the test's own. */
async function etcdKeys(etcd: EtcdServer): Promise<string[]> {
  const { Etcd3 } = await import("etcd3");
  const client = new Etcd3({ hosts: [etcd.clientUrl] });
  try {
    return await client.getAll().prefix("/plateau/election/").keys();
  } finally {
    client.close();
  }
}
