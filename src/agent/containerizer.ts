/**
 * Starts and stops executors for the agent. Command executors run inside one
 * shared executor host process (see src/executor/host-main.ts); custom
 * executors (a framework's ExecutorInfo.command) run as their own process.
 * Either way the agent learns that an executor ended through `onExit`.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutorInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { AgentToHost, HostedLaunch, HostToAgent } from "../executor/protocol.js";
import type { ExecutorSession, ExecutorSink } from "../gateway/executor-sessions.js";
import type { Logger } from "../log.js";
import { makeDirs } from "../util/make-dirs.js";

/**
 * The executor host's entry point, always compiled JS: beside this file in
 * dist/, or in dist/ when the agent itself runs from sources (tests, tsx).
 */
const HOST_MAIN = (() => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith(".ts")
    ? resolve(dirname(here), "../../dist/src/executor/host-main.js")
    : resolve(dirname(here), "../executor/host-main.js");
})();

/** How an executor ended (hosted or custom), for the core. */
export interface ExecutorExit {
  frameworkId: string;
  executorId: string;
  waitStatus: number;
  description: string;
}

/**
 * Starts, stops and watches the executors of one agent. Implementations:
 * `createContainerizer` (processes) and `createContainerizerTwin`
 * (in-process executors, for tests and simulations). Every method returns
 * at once; what follows (the executor subscribing, its exit) comes later,
 * never from inside the call.
 */
export interface Containerizer {
  /** Starts our command executor for one command task. */
  launchCommand(launch: HostedLaunch): void;
  /** Starts the framework's own executor (`info.command`). */
  launchCustom(launch: HostedLaunch, info: ExecutorInfo): void;
  /**
   * Makes sure the executor is gone: if it has not ended `graceMs` after
   * this call, it is killed. Its end is reported through `onExit`.
   */
  stop(frameworkId: string, executorId: string, graceMs: number): void;
  /** Takes every executor and task down, and waits for their processes. */
  close(): Promise<void>;
  /** PIDs of the processes this containerizer started (for measurements). */
  pids(): number[];
}

/** What the agent hands the containerizer it is given. */
export interface ContainerizerHooks {
  /** Every executor that ends, once, whether or not it ever subscribed. */
  onExit(exit: ExecutorExit): void;
  /**
   * An executor session inside the agent's process. Real executors dial the
   * agent's port instead (HostedLaunch.agent); a twin's executors use this.
   */
  openExecutorSession(sink: ExecutorSink): ExecutorSession;
}

/** How `startAgent` makes its containerizer, once the agent can hear from it. */
export type ContainerizerFactory = (hooks: ContainerizerHooks) => Containerizer;

/** The containerizer of `plateau agent`: executors are processes. */
export function processContainerizer(options: { logLevel: string; logger: Logger }): ContainerizerFactory {
  return (hooks) => createContainerizer({ ...options, onExit: hooks.onExit });
}

const key = (frameworkId: string, executorId: string) => `${frameworkId}/${executorId}`;

/** One executor host process and the executors it runs. */
interface Host {
  child: ChildProcess;
  executors: Set<string>;
}

/**
 * Creates the containerizer. Ownership: it owns every executor host and
 * custom executor process it starts; `close()` ends them all and resolves
 * once each has exited.
 */
export function createContainerizer(options: {
  logLevel: string;
  logger: Logger;
  onExit: (exit: ExecutorExit) => void;
}): Containerizer {
  /** The host new command executors go to; undefined until one is needed. */
  let host: Host | undefined;
  /** Every host still running, including retiring ones. */
  const hosts = new Set<Host>();
  const hostOf = new Map<string, Host>();
  const custom = new Map<string, ChildProcess>();
  const { logger } = options;

  const exited = (frameworkId: string, executorId: string, waitStatus: number, description: string) => {
    const k = key(frameworkId, executorId);
    hostOf.get(k)?.executors.delete(k);
    hostOf.delete(k);
    custom.delete(k);
    options.onExit({ frameworkId, executorId, waitStatus, description });
  };

  /**
   * The host reports "idle" after a while without executors. The agent, not
   * the host, decides to retire it: the agent knows whether a launch is on
   * its way, so no launch can race the host's exit.
   */
  const onIdle = (h: Host): void => {
    if (h.executors.size > 0 || !h.child.connected) return;
    if (host === h) host = undefined;
    h.child.send({ type: "shutdown" } satisfies AgentToHost);
  };

  const startHost = (): Host => {
    // Detached, so a later agent restart need not take running tasks down.
    const child = fork(HOST_MAIN, [], {
      detached: true,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, PLATEAU_LOG_LEVEL: options.logLevel },
      // Node refuses --cpu-prof in NODE_OPTIONS; this lets a bench profile the host.
      execArgv: (process.env.PLATEAU_EXECUTOR_HOST_NODE_ARGS ?? "").split(" ").filter(Boolean),
    });
    const h: Host = { child, executors: new Set() };
    hosts.add(h);
    child.on("message", (message: HostToAgent) => {
      if (message.type === "exited")
        exited(message.frameworkId, message.executorId, message.waitStatus, message.description);
      else if (message.type === "idle") onIdle(h);
    });
    child.once("exit", (code, signal) => {
      hosts.delete(h);
      if (host === h) host = undefined;
      // Executors still hosted died with their host.
      const how = signal !== null ? `terminated with signal ${signal}` : `exited with status ${code}`;
      for (const k of [...h.executors]) {
        const [frameworkId = "", executorId = ""] = k.split("/");
        exited(frameworkId, executorId, signal !== null ? 9 : ((code ?? 1) & 0xff) << 8, `host ${how}`);
      }
    });
    logger.info({ pid: child.pid }, "executor host started");
    return h;
  };

  const toHost = (h: Host | undefined, message: AgentToHost) => {
    if (h?.child.connected) h.child.send(message);
  };

  return {
    launchCommand(launch) {
      if (host === undefined || !host.child.connected) host = startHost();
      const k = key(launch.frameworkId, launch.executorId);
      host.executors.add(k);
      hostOf.set(k, host);
      toHost(host, { type: "launch", launch });
    },
    launchCustom(launch, info) {
      const command = info.command;
      makeDirs(launch.sandbox);
      const out = openSync(join(launch.sandbox, "stdout"), "a");
      const err = openSync(join(launch.sandbox, "stderr"), "a");
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: launch.sandbox,
        ...launch.env,
      };
      for (const v of command?.environment?.variables ?? []) env[v.name] = v.value;
      const shell = command?.shell ?? true;
      const child = shell
        ? spawn("/bin/sh", ["-c", command?.value ?? ""], {
            cwd: launch.sandbox,
            env,
            detached: true,
            stdio: ["ignore", out, err],
          })
        : spawn(command?.value ?? "", command?.arguments.slice(1) ?? [], {
            cwd: launch.sandbox,
            env,
            detached: true,
            stdio: ["ignore", out, err],
          });
      closeSync(out);
      closeSync(err);
      custom.set(key(launch.frameworkId, launch.executorId), child);
      child.once("error", (e) =>
        exited(launch.frameworkId, launch.executorId, 127 << 8, `failed to start: ${e.message}`),
      );
      child.once("exit", (code, signal) =>
        exited(
          launch.frameworkId,
          launch.executorId,
          signal !== null ? 9 : (code ?? 0) << 8,
          signal !== null ? `terminated with signal ${signal}` : `exited with status ${code}`,
        ),
      );
    },
    stop(frameworkId, executorId, graceMs) {
      const k = key(frameworkId, executorId);
      const h = hostOf.get(k);
      if (h !== undefined) return toHost(h, { type: "stop", frameworkId, executorId, graceMs });
      const child = custom.get(k);
      if (child?.pid === undefined) return;
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-(child.pid ?? 0), s);
        } catch {
          // gone
        }
      };
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      child.once("exit", () => clearTimeout(timer));
    },
    async close() {
      const children = [...[...hosts].map((h) => h.child), ...custom.values()];
      const waits = children
        .filter((child) => child.exitCode === null && child.signalCode === null)
        .map((child) => new Promise((r) => child.once("exit", r)));
      for (const h of hosts) toHost(h, { type: "shutdown" });
      for (const child of custom.values()) {
        // Never signal group 0: that would be the agent's own group.
        if (child.pid === undefined) continue;
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      // A host that does not finish in time is killed; its tasks may then
      // outlive it (a later agent recovery step will adopt them).
      const killHosts = setTimeout(() => {
        for (const h of hosts) h.child.kill("SIGKILL");
      }, 10_000);
      await Promise.all(waits);
      clearTimeout(killHosts);
    },
    pids: () =>
      [...[...hosts].map((h) => h.child.pid), ...[...custom.values()].map((c) => c.pid)].filter(
        (p): p is number => p !== undefined,
      ),
  };
}
