/**
 * Starts and stops executors for the agent. Command executors run inside one
 * shared executor host process (see src/executor/host-main.ts); custom
 * executors (a framework's ExecutorInfo.command) run as their own process.
 * Either way the agent learns that an executor ended through `onExit`.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutorInfo } from "../../gen/mesos/v1/mesos_pb.js";
import type { Logger } from "../log.js";
import type { AgentToHost, HostToAgent, HostedLaunch } from "../executor/protocol.js";

const HOST_MAIN = fileURLToPath(new URL("../executor/host-main.js", import.meta.url));

export interface ExecutorExit {
  frameworkId: string;
  executorId: string;
  waitStatus: number;
  description: string;
}

export interface Containerizer {
  launchCommand(launch: HostedLaunch): void;
  launchCustom(launch: HostedLaunch, info: ExecutorInfo): void;
  stop(frameworkId: string, executorId: string, graceMs: number): void;
  /** Takes every executor and task down, and waits for their processes. */
  close(): Promise<void>;
  /** PIDs of the processes this containerizer started (for measurements). */
  pids(): number[];
}

const key = (frameworkId: string, executorId: string) => `${frameworkId}/${executorId}`;

export function createContainerizer(options: { logLevel: string; logger: Logger; onExit: (exit: ExecutorExit) => void }): Containerizer {
  let host: ChildProcess | undefined;
  const hosted = new Set<string>();
  const custom = new Map<string, ChildProcess>();
  const { logger } = options;

  const exited = (frameworkId: string, executorId: string, waitStatus: number, description: string) => {
    hosted.delete(key(frameworkId, executorId));
    custom.delete(key(frameworkId, executorId));
    options.onExit({ frameworkId, executorId, waitStatus, description });
  };

  const startHost = (): ChildProcess => {
    // Detached, so a later agent restart need not take running tasks down.
    const child = fork(HOST_MAIN, [], {
      detached: true,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, PLATEAU_LOG_LEVEL: options.logLevel },
      execArgv: [],
    });
    child.on("message", (message: HostToAgent) => {
      if (message.type === "exited") exited(message.frameworkId, message.executorId, message.waitStatus, message.description);
    });
    child.once("exit", (code, signal) => {
      if (host === child) host = undefined;
      // Executors still hosted died with their host.
      for (const k of [...hosted]) {
        const [frameworkId = "", executorId = ""] = k.split("/");
        exited(frameworkId, executorId, 9, `executor host ${signal !== null ? `terminated with signal ${signal}` : `exited with status ${code}`}`);
      }
    });
    logger.info({ pid: child.pid }, "executor host started");
    return child;
  };

  const toHost = (message: AgentToHost) => {
    if (host === undefined || !host.connected) host = startHost();
    host.send(message);
  };

  return {
    launchCommand(launch) {
      hosted.add(key(launch.frameworkId, launch.executorId));
      toHost({ type: "launch", launch });
    },
    launchCustom(launch, info) {
      const command = info.command;
      mkdirSync(launch.sandbox, { recursive: true });
      const out = openSync(join(launch.sandbox, "stdout"), "a");
      const err = openSync(join(launch.sandbox, "stderr"), "a");
      const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: launch.sandbox, ...launch.env };
      for (const v of command?.environment?.variables ?? []) env[v.name] = v.value;
      const shell = command?.shell ?? true;
      const child = shell
        ? spawn("/bin/sh", ["-c", command?.value ?? ""], { cwd: launch.sandbox, env, detached: true, stdio: ["ignore", out, err] })
        : spawn(command?.value ?? "", command?.arguments.slice(1) ?? [], { cwd: launch.sandbox, env, detached: true, stdio: ["ignore", out, err] });
      closeSync(out);
      closeSync(err);
      custom.set(key(launch.frameworkId, launch.executorId), child);
      child.once("error", (e) => exited(launch.frameworkId, launch.executorId, 127 << 8, `failed to start: ${e.message}`));
      child.once("exit", (code, signal) =>
        exited(launch.frameworkId, launch.executorId, signal !== null ? 9 : (code ?? 0) << 8, signal !== null ? `terminated with signal ${signal}` : `exited with status ${code}`),
      );
    },
    stop(frameworkId, executorId, graceMs) {
      const k = key(frameworkId, executorId);
      if (hosted.has(k)) return toHost({ type: "stop", frameworkId, executorId, graceMs });
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
      const waits: Promise<unknown>[] = [];
      for (const child of [host, ...custom.values()]) {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) continue;
        waits.push(new Promise((r) => child.once("exit", r)));
      }
      if (host?.connected) host.send({ type: "shutdown" } satisfies AgentToHost);
      for (const child of custom.values()) {
        try {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        } catch {
          // gone
        }
      }
      const killHost = setTimeout(() => host?.kill("SIGKILL"), 10_000);
      await Promise.all(waits);
      clearTimeout(killHost);
    },
    pids: () => [host?.pid, ...[...custom.values()].map((c) => c.pid)].filter((p): p is number => p !== undefined),
  };
}
