/**
 * The daemon commands: `plateau master`, `plateau agent` and `plateau local`
 * (both in one process). Each runs until SIGINT/SIGTERM, then closes what it
 * started, agent before master, and exits 0.
 */
import * as path from "node:path";
import { type AgentOptions, defaultAgentOptions } from "../agent/options.js";
import { parseMinAllocatable, parseWeights } from "../core/allocator/index.js";
import { parseEtcdUrl } from "../etcd/url.js";
import type { LogLevel } from "../log.js";
import { defaultMasterOptions, type MasterOptions } from "../master/options.js";
import { type CliIo, type Command, commonFlags, waitForShutdownSignal } from "./command.js";
import { type FlagSpec, type ParsedFlags, UsageError } from "./flags.js";
import { parseDuration } from "./format.js";

const logLevels: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

function logLevel(flags: ParsedFlags): LogLevel {
  const value = flags.string("log-level") ?? "info";
  const level = logLevels.find((l) => l === value.toLowerCase());
  if (level === undefined) throw new UsageError(`--log-level must be one of ${logLevels.join(", ")}`);
  return level;
}

function port(flags: ParsedFlags, name: string): number {
  const value = flags.number(name);
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UsageError(`--${name} must be a port number (0-65535)`);
  }
  return value;
}

function nonNegativeInteger(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number of at least 0, not '${value}'`);
  return n;
}

function positiveInteger(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a whole number of at least 1, not '${value}'`);
  return n;
}

const f = (spec: FlagSpec): FlagSpec => spec;

const masterFlags: FlagSpec[] = [
  f({ name: "ip", kind: "string", description: "Address to listen on", default: defaultMasterOptions.ip }),
  f({
    name: "port",
    kind: "number",
    description: "Port to listen on (0: any free port)",
    default: defaultMasterOptions.port,
  }),
  f({
    name: "work-dir",
    kind: "string",
    description: "Directory of the embedded registry (agents, frameworks, weights, quota); in memory when absent",
    placeholder: "DIR",
  }),
  f({
    name: "registry",
    kind: "string",
    description: "etcd://host:port[,host:port]/prefix: elect a leader among masters and keep the registry in etcd",
    placeholder: "URL",
  }),
  f({
    name: "election-ttl",
    kind: "string",
    description: "How long a dead leader keeps the lead in etcd (whole seconds)",
    default: `${defaultMasterOptions.electionTtlSeconds}secs`,
    placeholder: "DURATION",
  }),
  f({ name: "etcd-ca", kind: "string", description: "CA certificate of the etcd servers (TLS)", placeholder: "FILE" }),
  f({ name: "etcd-cert", kind: "string", description: "Client certificate for etcd (TLS)", placeholder: "FILE" }),
  f({ name: "etcd-key", kind: "string", description: "Client key for etcd (TLS)", placeholder: "FILE" }),
  f({
    name: "allocation-interval",
    kind: "string",
    description: "Time between allocation passes (1secs, 500ms, 1)",
    default: `${defaultMasterOptions.allocationIntervalSeconds}secs`,
    placeholder: "DURATION",
  }),
  f({
    name: "heartbeat-interval",
    kind: "string",
    description: "Time between HEARTBEAT events to subscribers",
    default: `${defaultMasterOptions.heartbeatIntervalSeconds}secs`,
    placeholder: "DURATION",
  }),
  f({
    name: "agent-reregister-timeout",
    kind: "string",
    description: "How long a restarted master waits for the agents of its registry",
    default: `${defaultMasterOptions.agentReregisterTimeoutSeconds}secs`,
    placeholder: "DURATION",
  }),
  f({
    name: "agent-ping-timeout",
    kind: "string",
    description: "Time between pings to each agent",
    default: `${defaultMasterOptions.agentPingTimeoutSeconds}secs`,
    placeholder: "DURATION",
  }),
  f({
    name: "max-agent-ping-timeouts",
    kind: "string",
    description: "Pings an agent may miss (or be disconnected for) before it is marked unreachable",
    default: String(defaultMasterOptions.maxAgentPingTimeouts),
    placeholder: "N",
  }),
  f({
    name: "offer-timeout",
    kind: "string",
    description: "Rescind offers held longer than this (default: never)",
    placeholder: "DURATION",
  }),
  f({
    name: "min-allocatable-resources",
    kind: "string",
    description: "Smallest share worth offering, alternatives separated by | (default cpus:0.01|mem:32)",
    placeholder: "QUANTITIES",
  }),
  f({
    name: "weights",
    kind: "string",
    description: "Role weights, e.g. eng=2,ops=0.5 (not yet persisted)",
    placeholder: "ROLE=W,...",
  }),
  f({
    name: "max-completed-frameworks",
    kind: "string",
    description: "Removed frameworks the master keeps for its views",
    default: String(defaultMasterOptions.maxCompletedFrameworks),
    placeholder: "N",
  }),
  f({
    name: "max-completed-tasks-per-framework",
    kind: "string",
    description: "Ended tasks the master keeps per framework for its views",
    default: String(defaultMasterOptions.maxCompletedTasksPerFramework),
    placeholder: "N",
  }),
  f({
    name: "max-unreachable-tasks-per-framework",
    kind: "string",
    description: "Tasks on unreachable agents the master keeps per framework",
    default: String(defaultMasterOptions.maxUnreachableTasksPerFramework),
    placeholder: "N",
  }),
  f({
    name: "registry-max-agent-age",
    kind: "string",
    description: "Unreachable and gone agents older than this are forgotten by the registry",
    default: "2weeks",
    placeholder: "DURATION",
  }),
  f({
    name: "registry-max-agent-count",
    kind: "string",
    description: "Unreachable agents (and, apart, gone agents) the registry keeps at most",
    default: String(defaultMasterOptions.registryMaxAgentCount),
    placeholder: "N",
  }),
  f({
    name: "registry-gc-interval",
    kind: "string",
    description: "Time between prunings of unreachable and gone agents from the registry",
    default: "15mins",
    placeholder: "DURATION",
  }),
  f({ name: "hostname", kind: "string", description: "Hostname to advertise", default: defaultMasterOptions.hostname }),
  commonFlags.logLevel(),
];

/** A whole-number master flag of at least 0, its default when absent. */
function countFlag(flags: ParsedFlags, name: string, fallback: number): number {
  return nonNegativeInteger(flags.string(name) ?? String(fallback), name);
}

/** Checks an allocator flag now, so a typo is a usage error rather than a failed start. */
function allocatorFlag(flags: ParsedFlags, name: string, parse: (text: string) => unknown): string | undefined {
  const value = flags.string(name);
  if (value === undefined) return undefined;
  try {
    parse(value);
  } catch (err) {
    throw new UsageError(`--${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return value;
}

function registryFlag(value: string | undefined): string | undefined {
  if (value === undefined || value === "embedded") return undefined;
  try {
    parseEtcdUrl(value);
  } catch (err) {
    throw new UsageError(`--registry: ${err instanceof Error ? err.message : String(err)} (or 'embedded')`);
  }
  return value;
}

function electionTtl(value: string): number {
  const seconds = parseDuration(value, "election-ttl");
  if (!Number.isInteger(seconds) || seconds < 1)
    throw new UsageError(`--election-ttl must be a whole number of seconds, at least 1, not '${value}'`);
  return seconds;
}

function etcdTls(flags: ParsedFlags): MasterOptions["etcdTls"] {
  const caFile = flags.string("etcd-ca");
  const certFile = flags.string("etcd-cert");
  const keyFile = flags.string("etcd-key");
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError("--etcd-cert and --etcd-key go together");
  if (caFile === undefined && certFile === undefined) return undefined;
  return { caFile, certFile, keyFile };
}

/** MasterOptions from `plateau master` flags. */
export function masterOptionsFromFlags(flags: ParsedFlags): MasterOptions {
  return {
    ...defaultMasterOptions,
    ip: flags.string("ip") ?? defaultMasterOptions.ip,
    port: port(flags, "port"),
    workDir: flags.string("work-dir"),
    registry: registryFlag(flags.string("registry")),
    electionTtlSeconds: electionTtl(flags.string("election-ttl") ?? "10"),
    etcdTls: etcdTls(flags),
    allocationIntervalSeconds: parseDuration(flags.string("allocation-interval") ?? "1", "allocation-interval"),
    heartbeatIntervalSeconds: parseDuration(
      flags.string("heartbeat-interval") ?? String(defaultMasterOptions.heartbeatIntervalSeconds),
      "heartbeat-interval",
    ),
    agentReregisterTimeoutSeconds: parseDuration(
      flags.string("agent-reregister-timeout") ?? "600",
      "agent-reregister-timeout",
    ),
    agentPingTimeoutSeconds: parseDuration(flags.string("agent-ping-timeout") ?? "15", "agent-ping-timeout"),
    maxAgentPingTimeouts: positiveInteger(flags.string("max-agent-ping-timeouts") ?? "5", "max-agent-ping-timeouts"),
    offerTimeoutSeconds:
      flags.string("offer-timeout") === undefined
        ? undefined
        : parseDuration(flags.string("offer-timeout") ?? "", "offer-timeout"),
    minAllocatableResources: allocatorFlag(flags, "min-allocatable-resources", parseMinAllocatable),
    weights: allocatorFlag(flags, "weights", parseWeights),
    maxCompletedFrameworks: countFlag(flags, "max-completed-frameworks", defaultMasterOptions.maxCompletedFrameworks),
    maxCompletedTasksPerFramework: countFlag(
      flags,
      "max-completed-tasks-per-framework",
      defaultMasterOptions.maxCompletedTasksPerFramework,
    ),
    maxUnreachableTasksPerFramework: countFlag(
      flags,
      "max-unreachable-tasks-per-framework",
      defaultMasterOptions.maxUnreachableTasksPerFramework,
    ),
    registryMaxAgentAgeSeconds: parseDuration(
      flags.string("registry-max-agent-age") ?? String(defaultMasterOptions.registryMaxAgentAgeSeconds),
      "registry-max-agent-age",
    ),
    registryMaxAgentCount: countFlag(flags, "registry-max-agent-count", defaultMasterOptions.registryMaxAgentCount),
    registryGcIntervalSeconds: parseDuration(
      flags.string("registry-gc-interval") ?? String(defaultMasterOptions.registryGcIntervalSeconds),
      "registry-gc-interval",
    ),
    hostname: flags.string("hostname") ?? defaultMasterOptions.hostname,
    logLevel: logLevel(flags),
  };
}

const agentFlags: FlagSpec[] = [
  commonFlags.master(defaultAgentOptions.master),
  f({ name: "ip", kind: "string", description: "Address to listen on", default: defaultAgentOptions.ip }),
  f({
    name: "port",
    kind: "number",
    description: "Port to listen on (0: any free port)",
    default: defaultAgentOptions.port,
  }),
  f({ name: "work-dir", kind: "string", description: "Sandboxes and checkpoints (required)", placeholder: "DIR" }),
  f({ name: "resources", kind: "string", description: "e.g. 'cpus:2;mem:1024;disk:4096' (default: detected)" }),
  f({ name: "attributes", kind: "string", description: "e.g. 'rack:a;zone:west'" }),
  f({ name: "hostname", kind: "string", description: "Hostname to advertise", default: defaultAgentOptions.hostname }),
  f({
    name: "reconfiguration-policy",
    kind: "string",
    description:
      "What may change in the resources and attributes of an agent restarted with the same work dir: equal (nothing) or additive (additions and growth)",
    default: "equal",
    placeholder: "POLICY",
  }),
  f({
    name: "max-completed-executors-per-framework",
    kind: "string",
    description: "Exited executors the agent keeps per framework for /state",
    default: String(defaultAgentOptions.maxCompletedExecutorsPerFramework),
    placeholder: "N",
  }),
  commonFlags.logLevel(),
];

function reconfigurationPolicy(flags: ParsedFlags): "equal" | "additive" {
  const value = flags.string("reconfiguration-policy") ?? "equal";
  if (value !== "equal" && value !== "additive")
    throw new UsageError(`--reconfiguration-policy must be equal or additive, not '${value}'`);
  return value;
}

/** AgentOptions from `plateau agent` flags. */
export function agentOptionsFromFlags(flags: ParsedFlags): AgentOptions {
  const workDir = flags.string("work-dir");
  if (workDir === undefined) throw new UsageError("--work-dir is required (or set PLATEAU_WORK_DIR)");
  return {
    ...defaultAgentOptions,
    master: flags.string("master") ?? defaultAgentOptions.master,
    ip: flags.string("ip") ?? defaultAgentOptions.ip,
    port: port(flags, "port"),
    workDir: path.resolve(workDir),
    resources: flags.string("resources"),
    attributes: flags.string("attributes"),
    hostname: flags.string("hostname") ?? defaultAgentOptions.hostname,
    reconfigurationPolicy: reconfigurationPolicy(flags),
    maxCompletedExecutorsPerFramework: countFlag(
      flags,
      "max-completed-executors-per-framework",
      defaultAgentOptions.maxCompletedExecutorsPerFramework,
    ),
    logLevel: logLevel(flags),
  };
}

/** A daemon's failure that ends the command, and how stderr introduces it. */
interface Fatal {
  error: Promise<Error>;
  says: string;
}

const masterFatal = (master: { fatal: Promise<Error> }): Fatal => ({
  error: master.fatal,
  says: "the master cannot lead",
});
const agentFatal = (agent: { fatal: Promise<Error> }): Fatal => ({
  error: agent.fatal,
  says: "the master refuses this agent; its executors and tasks were stopped",
});

/**
 * Waits for Ctrl-C or SIGTERM (exit status 0), or for a daemon's fatal
 * failure: the master can never lead, the agent is refused for good
 * (status 1, with the reason on stderr).
 */
async function untilShutdownOrFatal(io: CliIo, fatals: Fatal[]): Promise<number> {
  const stop = new AbortController();
  const outcome = await Promise.race([
    waitForShutdownSignal(io, stop.signal).then(() => 0),
    ...fatals.map(({ error, says }) =>
      error.then((e) => {
        io.err(`plateau: ${says}: ${e.message}\n`);
        return 1;
      }),
    ),
  ]);
  stop.abort();
  return outcome;
}

/** `plateau master` */
export const masterCommand: Command = {
  name: "master",
  summary: "Run a master: the cluster's brain, serving schedulers, agents and operators.",
  usage: "plateau master [--ip IP] [--port 5050] [--work-dir DIR] [...]",
  flags: masterFlags,
  async run(flags, io) {
    const options = masterOptionsFromFlags(flags);
    const { startMaster } = await import("../master/daemon.js");
    const master = await startMaster(options);
    io.err(`plateau master listening on ${options.ip}:${master.port}\n`);
    const status = await untilShutdownOrFatal(io, [masterFatal(master)]);
    await master.close();
    return status;
  },
};

/** `plateau agent` */
export const agentCommand: Command = {
  name: "agent",
  summary: "Run an agent: offers this machine's resources and runs tasks.",
  usage: "plateau agent --work-dir DIR [--master 127.0.0.1:5050] [--port 5051] [...]",
  flags: agentFlags,
  async run(flags, io) {
    const options = agentOptionsFromFlags(flags);
    const { startAgent } = await import("../agent/daemon.js");
    const agent = await startAgent(options);
    io.err(`plateau agent listening on ${options.ip}:${agent.port}, master ${options.master}\n`);
    const status = await untilShutdownOrFatal(io, [agentFatal(agent)]);
    await agent.close();
    return status;
  },
};

const localFlags: FlagSpec[] = [
  f({ name: "port", kind: "number", description: "Master port", default: 5050 }),
  f({ name: "agent-port", kind: "number", description: "Agent port", default: 5051 }),
  f({ name: "work-dir", kind: "string", description: "State, sandboxes (default: ./.plateau)", placeholder: "DIR" }),
  f({ name: "resources", kind: "string", description: "Agent resources (default: detected)" }),
  f({ name: "attributes", kind: "string", description: "Agent attributes" }),
  f({ name: "allocation-interval", kind: "string", description: "Time between allocation passes", default: "1secs" }),
  commonFlags.logLevel("warn"),
];

/** `plateau local`: master and agent in one process, for development. */
export const localCommand: Command = {
  name: "local",
  summary: "Run a master and an agent in one process (the quickest start).",
  usage: "plateau local [--port 5050] [--agent-port 5051] [--work-dir ./.plateau] [--resources R]",
  flags: localFlags,
  async run(flags, io) {
    const workDir = path.resolve(flags.string("work-dir") ?? ".plateau");
    const level = logLevel(flags);
    const masterOptions: MasterOptions = {
      ...defaultMasterOptions,
      port: port(flags, "port"),
      workDir: path.join(workDir, "master"),
      allocationIntervalSeconds: parseDuration(flags.string("allocation-interval") ?? "1", "allocation-interval"),
      logLevel: level,
    };
    const [{ startMaster }, { startAgent }] = await Promise.all([
      import("../master/daemon.js"),
      import("../agent/daemon.js"),
    ]);
    const master = await startMaster(masterOptions);
    const agentOptions: AgentOptions = {
      ...defaultAgentOptions,
      master: `${masterOptions.ip}:${master.port}`,
      port: port(flags, "agent-port"),
      workDir: path.join(workDir, "agent"),
      resources: flags.string("resources"),
      attributes: flags.string("attributes"),
      logLevel: level,
    };
    let agent: { port: number; fatal: Promise<Error>; close(): Promise<void> };
    try {
      agent = await startAgent(agentOptions);
    } catch (err) {
      await master.close();
      throw err;
    }
    io.out(localBanner(`${masterOptions.ip}:${master.port}`, `${agentOptions.ip}:${agent.port}`, workDir, level));
    const status = await untilShutdownOrFatal(io, [masterFatal(master), agentFatal(agent)]);
    io.err("stopping agent and master...\n");
    await agent.close();
    await master.close();
    return status;
  },
};

/** The text `plateau local` greets a newcomer with. */
export function localBanner(master: string, agent: string, workDir: string, level: LogLevel): string {
  const portFlag = master.endsWith(":5050") ? "" : ` --master ${master}`;
  return [
    "Plateau is running (master and agent in this process).",
    "",
    `  master     ${master}   (gRPC and HTTP on one port)`,
    `  agent      ${agent}`,
    `  state      ${path.join(workDir, "master")}`,
    `  sandboxes  ${path.join(workDir, "agent")}`,
    `  logs       stderr, level ${level} (--log-level info for more)`,
    "",
    "Try, in another terminal:",
    `  npx plateau run --master ${master} --name hello -- echo hello`,
    `  npx plateau tasks${portFlag}`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ].join("\n");
}
