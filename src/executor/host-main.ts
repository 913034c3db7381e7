/**
 * The executor host: one process per agent, beside it, running the command
 * executors of all its tasks. A task then costs its own process and a small
 * share of this one, instead of a Node.js process of its own.
 */

import { createLogger, type LogLevel } from "../log.js";
import { makeDirs } from "../util/make-dirs.js";
import { type AgentSocket, dialAgentSocket } from "./agent-socket.js";
import { type CommandExecutor, startCommandExecutor } from "./command-executor.js";
import type { AgentToHost, HostToAgent } from "./protocol.js";
import { createSpawner } from "./spawner.js";
import type { StreamTransports } from "./stream-transport.js";

const logger = createLogger("executor-host", (process.env.PLATEAU_LOG_LEVEL as LogLevel | undefined) ?? "info");
/** How long the host waits without executors before offering to retire. */
const IDLE_MS = Number(process.env.PLATEAU_EXECUTOR_HOST_IDLE_MS ?? 10_000);
const executors = new Map<string, CommandExecutor>();
const spawner = createSpawner();
let shuttingDown = false;
/** The one timer of this process besides the executors' own; see armIdle. */
let idleTimer: NodeJS.Timeout | undefined;

const key = (frameworkId: string, executorId: string) => `${frameworkId}/${executorId}`;

/** Loaded at the first launch that needs streams (an agent with no executor socket); see stream-transport.ts. */
let streams: StreamTransports | undefined;
/** One connection per agent executor socket, shared by all hosted executors. */
const sockets = new Map<string, AgentSocket>();
function socketAt(path: string): AgentSocket {
  let socket = sockets.get(path);
  if (socket === undefined) {
    socket = dialAgentSocket(path, { logger, reconnect: { initialMs: 100, maxMs: 5_000 } });
    sockets.set(path, socket);
  }
  return socket;
}

function tell(message: HostToAgent): void {
  if (process.connected) process.send?.(message);
}

/** With no executors for IDLE_MS, tell the agent; it answers "shutdown" if it agrees. */
function armIdle(): void {
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = executors.size === 0 && !shuttingDown ? setTimeout(() => tell({ type: "idle" }), IDLE_MS) : undefined;
}

let exiting = false;
function exitWhenDone(): void {
  if (executors.size === 0 && shuttingDown && !exiting) {
    exiting = true;
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    streams?.close();
    for (const socket of sockets.values()) socket.close();
    // The spawner first: exiting before it would leave it to init to reap.
    void spawner.close().finally(() => process.exit(0));
  }
}

/**
 * Kills every task at once and exits when the executors are gone. For now
 * this also happens when the agent goes away (its IPC channel closes): a
 * stopped agent takes its tasks down. Keeping them running for the agent's
 * recovery is a later step.
 */
function shutdownAll(): void {
  shuttingDown = true;
  for (const executor of executors.values()) executor.shutdown(0, true);
  exitWhenDone();
}

/**
 * Once a launch has had to wait for the stream module, every later message
 * waits behind it too, so a stop never overtakes the launch it is about.
 */
let loading: Promise<void> | undefined;
process.on("message", (message: AgentToHost) => {
  if (
    loading === undefined &&
    message.type === "launch" &&
    message.launch.socket === undefined &&
    streams === undefined
  )
    loading = import("./stream-transport.js").then(
      (m) => {
        streams = m.createStreamTransports(logger);
      },
      (err) => {
        logger.fatal({ err: String(err) }, "cannot load the executor streams");
        process.exit(1);
      },
    );
  if (loading === undefined) return handle(message);
  loading = loading.then(() => handle(message));
});

function handle(message: AgentToHost): void {
  switch (message.type) {
    case "launch": {
      const { launch } = message;
      const k = key(launch.frameworkId, launch.executorId);
      try {
        makeDirs(launch.sandbox);
      } catch (err) {
        tell({
          type: "exited",
          frameworkId: launch.frameworkId,
          executorId: launch.executorId,
          waitStatus: 1 << 8,
          description: `failed to create the sandbox: ${(err as Error).message}`,
        });
        return;
      }
      executors.set(
        k,
        startCommandExecutor({
          ...launch,
          logger,
          transport:
            launch.socket === undefined ? (streams as StreamTransports).to(launch.agent) : socketAt(launch.socket).open,
          spawner,
          onExit: (waitStatus, description) => {
            executors.delete(k);
            tell({
              type: "exited",
              frameworkId: launch.frameworkId,
              executorId: launch.executorId,
              waitStatus,
              description,
            });
            armIdle();
            exitWhenDone();
          },
        }),
      );
      armIdle();
      return;
    }
    case "stop":
      executors.get(key(message.frameworkId, message.executorId))?.shutdown(message.graceMs);
      return;
    case "shutdown":
      shutdownAll();
      return;
  }
}

process.on("disconnect", shutdownAll);
process.on("SIGTERM", shutdownAll);
armIdle();
logger.debug("executor host started");
