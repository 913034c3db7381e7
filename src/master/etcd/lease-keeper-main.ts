/**
 * The lease keeper's worker thread (see lease-keeper.ts): grants the lease
 * on its own etcd connection and keeps it alive on an event loop that does
 * nothing else, so a master busy admitting thousands of agents does not
 * lose its lease. It stops keeping the lease alive when the master's own
 * loop has not beaten for `stallLimitMs`: a master that is wedged must not
 * lead on through its worker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createEtcdClient } from "../../etcd/client.js";
import { HEARTBEAT, type KeeperMessage, type KeeperOrder, type KeeperSetup, LAST_CONFIRMED } from "./lease-keeper.js";

const setup = workerData as KeeperSetup;
const port = parentPort;
if (port === null) throw new Error("lease-keeper-main runs only as a worker thread");
const clocks = new BigInt64Array(setup.clocks);
const tell = (message: KeeperMessage): void => port.postMessage(message);

const client = createEtcdClient(setup.endpoints, setup.tls);
const lease = client.lease(setup.ttlSeconds);
let done = false;

const confirmNow = (): void => {
  Atomics.store(clocks, LAST_CONFIRMED, BigInt(Date.now()));
};
lease.on("keepaliveSucceeded", confirmNow);
lease.on("lost", (error) => {
  if (done) return;
  done = true;
  clearInterval(watchdog);
  tell({ type: "lost", message: error.message });
});

// The master's loop beats every TTL/4 or so while it can; a whole stall
// limit without a beat means it cannot serve either.
const watchdog = setInterval(
  () => {
    const silentMs = Date.now() - Number(Atomics.load(clocks, HEARTBEAT));
    if (done || silentMs <= setup.stallLimitMs) return;
    done = true;
    clearInterval(watchdog);
    lease.release();
    tell({
      type: "lost",
      message: `the master's event loop was stalled for ${Math.round(silentMs / 1000)} s; stopped keeping its lease alive`,
    });
  },
  Math.max(100, (setup.ttlSeconds * 1000) / 4),
);

port.on("message", (order: KeeperOrder) => {
  if (order.type === "revoke") {
    done = true;
    clearInterval(watchdog);
    lease
      .revoke({ deadline: Date.now() + order.timeoutMs })
      .catch(() => undefined)
      .finally(() => {
        client.close();
        tell({ type: "closed" });
      });
  }
});

lease.grant().then(
  (id) => {
    confirmNow();
    tell({ type: "granted", id });
  },
  (error: unknown) => {
    done = true;
    clearInterval(watchdog);
    client.close();
    tell({ type: "failed", message: error instanceof Error ? error.message : String(error) });
  },
);
