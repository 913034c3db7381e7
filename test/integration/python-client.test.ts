/**
 * "Frameworks in any language, from generated clients": a Python client
 * that protoc generates from proto/, on grpcio (gRPC's C core, not our
 * Node stack), against real `plateau master` processes and a real agent.
 * The scheduler is the README's own framework.py, run as written there.
 * Plain gRPC streams take the master's hand-carried road
 * (src/transport/grpc-stream.ts), with or without a deadline; gzip ones,
 * the unary calls and a standby's refusals take connect-node's: both are here.
 * Debian's packages are installed when missing (as root); anywhere else
 * the test fails saying which to install.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Call_Type } from "../../gen/mesos/v1/master/master_pb.js";
import { createOperator, type OperatorClient } from "../../src/client/operator.js";
import { EtcdScope } from "../helpers/etcd.js";
import { type Daemon, eventually, ProcessScope, ROOT } from "../helpers/processes.js";
import { ensurePythonClientPackages, generatePythonClient, runPython } from "../helpers/python-client.js";
import { COMMON, LARGE, MALFORMED, NON_ASCII, OPERATOR, STANDBY } from "./python-client-scripts.js";

/** The README's ```python block under `heading`. */
function readmePython(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(heading);
  const block = start < 0 ? undefined : /```python\n([\s\S]*?)```/.exec(readme.slice(start));
  if (block?.[1] === undefined) throw new Error(`README.md has no \`\`\`python block under '${heading}'`);
  return block[1];
}

/** Text a grpc-message must carry intact: UTF-8 of 2, 3 and 4 bytes, and '%' that is not an escape. */
const FRAMEWORK_ID = "ünïcødé-日本語-🚀-%41-100%";

describe("a Python client generated from proto/", () => {
  const scope = new ProcessScope();
  const etcds = new EtcdScope();
  let dir = "";
  let leader: Daemon;
  let standby: Daemon;
  let operator: OperatorClient | undefined;

  /** What a script printed; grpcio's C core logging an error (a header it could not take, say) fails the test. */
  const run = async (script: string, ...args: string[]) => {
    const { lines, stderr } = await runPython(join(dir, script), args, dir);
    expect(stderr.split("\n").filter((line) => /^E\d{4} /.test(line))).toEqual([]);
    return { lines };
  };
  const at = (daemon: Daemon) => `127.0.0.1:${daemon.port}`;

  beforeAll(async () => {
    await ensurePythonClientPackages();
    dir = scope.tempDir("plateau-python-");
    await generatePythonClient(dir);
    const scripts = {
      "common.py": COMMON,
      "framework.py": readmePython("### A client in another language: Python"),
      "operator_calls.py": OPERATOR,
      "malformed.py": MALFORMED,
      "non_ascii.py": NON_ASCII,
      "standby.py": STANDBY,
      "large.py": LARGE,
    };
    for (const [name, text] of Object.entries(scripts)) writeFileSync(join(dir, name), text);

    const etcd = await etcds.start();
    const registry = `etcd://${etcd.endpoint}/plateau`;
    const master = ["master", "--port", "0", "--registry", registry, "--election-ttl", "2"];
    // Fast allocation and heartbeats keep the scripts' waits short.
    leader = await scope.start(
      [...master, "--allocation-interval", "200ms", "--heartbeat-interval", "500ms"],
      "master listening",
    );
    await eventually(() => (leader.logs().includes('"msg":"leading"') ? true : undefined), "the first master to lead");
    standby = await scope.start(master, "master listening");
    const agentArgs = ["agent", "--master", at(leader), "--port", "0", "--work-dir", scope.tempDir()];
    await scope.start([...agentArgs, "--resources", "cpus:2;mem:512;disk:100"], "agent listening");
    operator = createOperator({ master: at(leader) });
    await eventually(
      async () => ((await operator?.getAgents())?.agents.length === 1 ? true : undefined),
      "the agent to register",
    );
    const answer = await operator.call({ type: Call_Type.GET_MASTER });
    expect(answer.getMaster?.masterInfo?.address?.port).toBe(leader.port);
  }, 400_000);

  afterAll(async () => {
    await operator?.close();
    await scope.cleanup();
    await etcds.cleanup();
  });

  it("runs the README's framework: SUBSCRIBED, HEARTBEAT, OFFERS, DECLINE, a new offer, and a clean end", async () => {
    const { lines } = await run("framework.py", at(leader));
    const events = lines.filter((l) => "event" in l);
    expect(events[0]).toMatchObject({ call_id: "subscribe", event: "SUBSCRIBED" });
    expect(events.map((e) => e.event)).toContain("HEARTBEAT");
    const offers = events.filter((e) => e.event === "OFFERS").map((e) => e.offers as string[]);
    expect(offers).toHaveLength(2);
    // The declined offer's resources came back under a new offer id.
    expect(offers[1]?.[0]).toBeDefined();
    expect(offers[1]).not.toContain(offers[0]?.[0]);
    expect(lines.filter((l) => "error" in l)).toEqual([]);
    expect(lines.at(-1)).toEqual({ status: "OK", details: "" });
  });

  it("answers an operator's Operate GET_HEALTH and GET_STATE, and its SUBSCRIBE on Connect, which sees frameworks come and go (deadline, cancel, gzip)", async () => {
    const { lines } = await run("operator_calls.py", at(leader));
    expect(lines).toContainEqual({ call: "GET_HEALTH", type: "GET_HEALTH", healthy: true });
    expect(lines).toContainEqual({
      call: "GET_STATE",
      agents: [{ hostname: "localhost", resources: ["cpus", "disk", "mem", "ports"] }],
    });
    expect(lines).toContainEqual({
      event: "SUBSCRIBED",
      call_id: "operator",
      pieces: false,
      agents: 1,
      heartbeat_interval_seconds: 0.5,
    });
    const events = lines.filter((l) => "event" in l).map((l) => `${l.event} ${l.name ?? ""}`.trim());
    expect(events).toContain("HEARTBEAT");
    for (const name of ["closed-from-python", "cancelled-from-python", "gzip-from-python"]) {
      const added = events.indexOf(`FRAMEWORK_ADDED ${name}`);
      expect(added).toBeGreaterThan(0);
      expect(events.indexOf(`FRAMEWORK_REMOVED ${name}`)).toBeGreaterThan(added);
    }
    expect(lines).toContainEqual({ end: "operator", code: "OK", details: "", trailers: {} });
    expect(lines.find((l) => l.end === "closed-from-python")).toMatchObject({ code: "OK", details: "" });
    expect(lines.find((l) => l.end === "gzip-from-python")).toMatchObject({ code: "OK", details: "" });
    expect(lines.find((l) => l.end === "cancelled-from-python")).toMatchObject({ code: "CANCELLED" });
  });

  it("tells a client that sends bytes that are no request what is wrong, in a way grpcio reads", async () => {
    const { lines } = await run("malformed.py", at(leader));
    const byCase = (name: string) => lines.filter((l) => l.case === name);
    const [garbage] = byCase("garbage on Connect");
    expect(garbage).toMatchObject({ code: "INVALID_ARGUMENT", details: expect.stringMatching(/^Malformed request: /) });
    expect(garbage?.events).toEqual([
      { call_id: "", code: "CODE_INVALID_ARGUMENT", message: garbage?.details, fatal: true },
    ]);
    const [operate] = byCase("garbage on Operate");
    // gRPC's own servers say INTERNAL for a request they cannot parse; either is a status a client can act on.
    expect(["INVALID_ARGUMENT", "INTERNAL"]).toContain(operate?.code);
    expect(operate?.details).not.toBe("");
    expect(byCase("no call")).toEqual([
      {
        case: "no call",
        event: {
          call_id: "nothing",
          code: "CODE_INVALID_ARGUMENT",
          message: "The request carries no call (set one of scheduler, executor, agent, operator)",
          fatal: false,
        },
      },
      { case: "no call", end: { events: [], code: "OK", details: "", trailers: {} } },
    ]);
    expect(byCase("empty stream")).toEqual([
      { case: "empty stream", end: { events: [], code: "OK", details: "", trailers: {} } },
    ]);
    expect(byCase("unknown method")).toEqual([
      {
        case: "unknown method",
        code: "UNIMPLEMENTED",
        details: "unknown method /mesos.v2.MesosService/NoSuchMethod",
        trailers: {},
      },
    ]);
  });

  it("carries non-ASCII text and '%' intact in grpc-message, events and Error events", async () => {
    const { lines } = await run("non_ascii.py", at(leader), FRAMEWORK_ID);
    const byCase = (name: string) => lines.find((l) => l.case === name);
    expect(byCase("teardown of an unknown framework")).toMatchObject({
      code: "NOT_FOUND",
      details: `No framework ${FRAMEWORK_ID} to tear down`,
    });
    expect(byCase("subscribed")).toMatchObject({ framework_id: FRAMEWORK_ID });
    expect(byCase("torn down")?.end).toMatchObject({ code: "OK" });
    const refused = `Framework ${FRAMEWORK_ID} has been removed; subscribe without an id`;
    expect(byCase("subscribe with a removed id")).toEqual({
      case: "subscribe with a removed id",
      events: [{ call_id: "subscribe-again", code: "CODE_FAILED_PRECONDITION", message: refused, fatal: true }],
      code: "FAILED_PRECONDITION",
      details: refused,
      trailers: {},
    });
  });

  it("carries a 1.5 MiB call and a 1.5 MiB answer, the answer also after the client half-closed", async () => {
    const size = 1536 * 1024;
    const { lines } = await run("large.py", at(leader), String(size));
    expect(lines).toEqual([
      { case: "subscribe", call_id: "subscribe", event: "scheduler", type: "SUBSCRIBED" },
      { case: "GET_FRAMEWORKS", call_id: "frameworks", piece: false, labels: { "large-from-python": [size] } },
      { case: "GET_FRAMEWORKS", end: { code: "OK", details: "", trailers: {} } },
      { case: "subscribe", end: expect.objectContaining({ code: "OK", details: "" }) },
    ]);
  });

  it("refuses a stream and a call at a standby with UNAVAILABLE and the leader in the plateau-leader trailer", async () => {
    const { lines } = await run("standby.py", at(standby));
    const refusal = {
      code: "UNAVAILABLE",
      details: `Not the leading master; the leader is ${at(leader)}`,
      trailers: { "plateau-leader": at(leader) },
    };
    expect(lines).toEqual([
      { case: "Connect", events: [], ...refusal },
      { case: "Operate", ...refusal },
    ]);
  });
});
