/**
 * Registration at scale: one `plateau master` and N simulated agents
 * (sim-agents.ts, 10 running tasks each, 8 shared HTTP/2 connections)
 * registering at once; times fleet start → every agent got Registered, and
 * counts the times the master logged losing the lead meanwhile (its lease
 * not kept alive within the 2 s TTL). The registry is in memory, in
 * PROBE_WORK_DIR (embedded), or with PROBE_ETCD=1 on a throwaway etcd.
 * `PROBE_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the master;
 * `PROBE_SHOW_LOSSES=1` prints why it lost the lead each time.
 *
 *   PROBE_ETCD=1 node --import tsx bench/register-bench.ts 3000
 *
 * Prints JSON; writes nothing else.
 */
import { create } from "@bufbuild/protobuf";
import { FrameworkInfoSchema } from "../gen/mesos/v1/mesos_pb.js";
import { EtcdServer } from "../test/helpers/etcd.js";
import { ProcessScope } from "../test/helpers/processes.js";
import { SessionPool } from "./session-pool.js";
import { startSimFleet } from "./sim-agents.js";

const agents = Number(process.argv[2] ?? 1000);
const nodeArgs = process.env.PROBE_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? [];
const workDir = process.env.PROBE_WORK_DIR;
const scope = new ProcessScope();
const sessions = new SessionPool(8);
let etcd: EtcdServer | undefined;
try {
  etcd = process.env.PROBE_ETCD ? await EtcdServer.start() : undefined;
  const master = await scope.start(
    [
      "master",
      "--port",
      "0",
      ...(workDir ? ["--work-dir", workDir] : []),
      ...(etcd ? ["--registry", `etcd://${etcd.endpoint}/p`, "--election-ttl", "2"] : []),
    ],
    "master listening",
    {},
    nodeArgs,
  );
  const start = performance.now();
  const fleet = startSimFleet({
    master: `127.0.0.1:${master.port}`,
    agents,
    tasksPerAgent: 10,
    framework: create(FrameworkInfoSchema, { user: "b", name: "b", id: { value: "fw-probe" } }),
    sessions,
  });
  const reported = new Set<number>();
  for (;;) {
    const n = fleet.registeredSince(0n);
    if (n === agents) break;
    if (performance.now() - start > 600_000) throw new Error(`only ${n} of ${agents} agents registered in 600 s`);
    await new Promise((r) => setTimeout(r, 50));
    const period = Math.floor((performance.now() - start) / 5000);
    if (!reported.has(period)) {
      reported.add(period);
      process.stderr.write(`register-bench: ${n} registered after ${period * 5} s\n`);
    }
  }
  const registerMs = Math.round(performance.now() - start);
  // More than one per agent means streams dropped and agents registered again.
  const registrations = fleet.registrations.reduce((sum, r) => sum + r.length, 0);
  await fleet.close();
  sessions.abort();
  const leadershipLosses = master
    .logs()
    .split("\n")
    .filter((l) => l.includes("lost the lead")).length;
  if (process.env.PROBE_SHOW_LOSSES)
    for (const line of master
      .logs()
      .split("\n")
      .filter((l) => l.includes("leadership lost") || l.includes("stepping down")))
      console.error(line);
  console.log(
    JSON.stringify({
      agents,
      registry: etcd ? "etcd" : (workDir ?? "memory"),
      registerMs,
      registrations,
      leadershipLosses,
    }),
  );
} finally {
  // Everything started goes, also when the fleet did not register in time.
  sessions.abort();
  await scope.cleanup();
  await etcd?.stop();
}
