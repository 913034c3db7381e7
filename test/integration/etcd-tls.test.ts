import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { MasterInfoSchema, WeightInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { EtcdTlsFiles } from "../../src/etcd/client.js";
import { silentLogger } from "../../src/log.js";
import { createEtcdCoordinator, type EtcdCoordinator } from "../../src/master/etcd/index.js";
import { EtcdScope, type EtcdServer } from "../helpers/etcd.js";

describe("etcd with TLS client certificates", () => {
  const etcds = new EtcdScope();
  const coordinators: EtcdCoordinator[] = [];
  afterEach(async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
    await etcds.cleanup();
  });
  const coordinator = (etcd: EtcdServer, tls: EtcdTlsFiles): EtcdCoordinator => {
    const c = createEtcdCoordinator({
      endpoints: [etcd.endpoint],
      prefix: "/plateau",
      electionTtlSeconds: 2,
      tls,
      logger: silentLogger(),
    });
    coordinators.push(c);
    return c;
  };

  it("campaigns, publishes and writes the registry over TLS with a client certificate", async () => {
    const etcd = await etcds.start({ tls: true });
    const certs = etcd.tls;
    if (certs === undefined) throw new Error("etcd started without TLS");
    const tls = { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile };
    const leading = await coordinator(etcd, tls).campaign(
      create(MasterInfoSchema, { id: "a", hostname: "localhost", port: 5000 }),
    );
    expect(
      await leading.registry.apply({
        kind: "update-weights",
        weights: [create(WeightInfoSchema, { role: "prod", weight: 2 })],
      }),
    ).toBe(true);
    await leading.announce();
    expect((await coordinator(etcd, tls).leader())?.id).toBe("a");
  });

  it("is refused without a client certificate", async () => {
    const etcd = await etcds.start({ tls: true });
    const caFile = etcd.tls?.caFile;
    await expect(coordinator(etcd, { caFile }).leader()).rejects.toThrow();
  });

  it("says which file it cannot read, and that a certificate needs its key", () => {
    expect(() =>
      createEtcdCoordinator({
        endpoints: ["127.0.0.1:1"],
        prefix: "/p",
        electionTtlSeconds: 2,
        tls: { caFile: "/nonexistent/ca.crt" },
        logger: silentLogger(),
      }),
    ).toThrow(/etcd CA file \/nonexistent\/ca.crt/);
    expect(() =>
      createEtcdCoordinator({
        endpoints: ["127.0.0.1:1"],
        prefix: "/p",
        electionTtlSeconds: 2,
        tls: { certFile: "/x.crt" },
        logger: silentLogger(),
      }),
    ).toThrow(/needs its key/);
  });
});
