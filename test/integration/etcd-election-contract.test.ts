import { Etcd3 } from "etcd3";
import { afterAll, beforeAll } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { Election } from "../../src/master/election.js";
import { createEtcdCoordinator } from "../../src/master/etcd/index.js";
import { describeElectionContract } from "../helpers/election-contract.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";

// One etcd for the file, a fresh key prefix for each test: starting etcd costs more than the tests.
const etcds = new EtcdScope();
let etcd: EtcdServer | undefined;
beforeAll(async () => {
  etcd = await etcds.start();
});
afterAll(() => etcds.cleanup());

let tests = 0;

describeElectionContract("etcd", () => {
  if (etcd === undefined) throw new Error("etcd did not start");
  const { endpoint, clientUrl } = etcd;
  const prefix = `/contract-${++tests}`;
  const elections: Election[] = [];
  // An operator's own client, as etcdctl would be.
  const operator = new Etcd3({ hosts: [clientUrl] });
  return Promise.resolve({
    election() {
      const election = createEtcdCoordinator({
        endpoints: [endpoint],
        prefix,
        electionTtlSeconds: 2,
        logger: silentLogger(),
      });
      elections.push(election);
      return election;
    },
    async expireLeader() {
      // The lowest campaign key leads; revoking its lease is what its expiry does.
      const response = await operator.kv.range({
        key: Buffer.from(`${prefix}/election/`),
        range_end: Buffer.from(`${prefix}/election0`),
        sort_target: "Create",
        sort_order: "Ascend",
        limit: 1,
      });
      const leader = response.kvs[0];
      if (leader === undefined) throw new Error("no leader to expire");
      await operator.leaseClient.leaseRevoke({ ID: leader.lease });
    },
    async close() {
      await Promise.all(elections.map((e) => e.close()));
      operator.close();
    },
  });
});
