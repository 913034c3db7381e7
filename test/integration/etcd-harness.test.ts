import { existsSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { EtcdScope } from "../helpers/etcd.js";

describe("the etcd test harness", () => {
  const scope = new EtcdScope();
  const clients: Etcd3[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await scope.cleanup();
  });
  const client = (endpoint: string) => {
    const c = new Etcd3({ hosts: [`http://${endpoint}`] });
    clients.push(c);
    return c;
  };

  it("starts etcd on loopback ports other than 2379/2380 and keeps data across a restart", async () => {
    const etcd = await scope.start();
    expect([etcd.clientPort, etcd.peerPort]).not.toContain(2379);
    expect([etcd.clientPort, etcd.peerPort]).not.toContain(2380);
    const c = client(etcd.endpoint);
    await c.put("k").value("v");
    await etcd.restart();
    expect(await c.get("k").string()).toBe("v");
  });

  it("survives a pause and resume, and a kill followed by a restart", async () => {
    const etcd = await scope.start();
    const c = client(etcd.endpoint);
    await c.put("k").value("before");
    etcd.pause();
    etcd.resume();
    await c.put("k").value("after");
    await etcd.kill();
    await etcd.restart();
    expect(await c.get("k").string()).toBe("after");
  });

  it("removes its process and data dir on cleanup, even while paused", async () => {
    const etcd = await scope.start();
    const pid = etcd.pid;
    etcd.pause();
    await scope.cleanup();
    expect(existsSync(etcd.dataDir)).toBe(false);
    expect(pid).toBeDefined();
    expect(() => process.kill(pid ?? 0, 0)).toThrow();
  });
});
