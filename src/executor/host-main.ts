/**
 * The executor host: one process per agent, beside it, running the command
 * executors of all its tasks. A task then costs its own process and a small
 * share of this one, instead of a Node.js process of its own.
 */
import { mkdirSync } from "node:fs";
import { createLogger, type LogLevel } from "../log.js";
import { startCommandExecutor, type CommandExecutor } from "./command-executor.js";
import type { AgentToHost, HostToAgent } from "./protocol.js";

const logger = createLogger("executor-host", (process.env.PLATEAU_LOG_LEVEL as LogLevel | undefined) ?? "info");
const executors = new Map<string, CommandExecutor>();
let shuttingDown = false;

const key = (frameworkId: string, executorId: string) => `${frameworkId}/${executorId}`;

function tell(message: HostToAgent): void {
  if (process.connected) process.send?.(message);
}

function exitWhenIdle(): void {
  // Without the agent, nobody will hand this host new executors.
  if (executors.size === 0 && (shuttingDown || !process.connected)) process.exit(0);
}

process.on("message", (message: AgentToHost) => {
  switch (message.type) {
    case "launch": {
      const { launch } = message;
      mkdirSync(launch.sandbox, { recursive: true });
      const k = key(launch.frameworkId, launch.executorId);
      executors.set(
        k,
        startCommandExecutor({
          ...launch,
          logger,
          onExit: (waitStatus, description) => {
            executors.delete(k);
            tell({ type: "exited", frameworkId: launch.frameworkId, executorId: launch.executorId, waitStatus, description });
            exitWhenIdle();
          },
        }),
      );
      return;
    }
    case "stop":
      executors.get(key(message.frameworkId, message.executorId))?.shutdown(message.graceMs);
      return;
    case "shutdown":
      shuttingDown = true;
      for (const executor of executors.values()) executor.shutdown(0, true);
      exitWhenIdle();
      return;
  }
});

process.on("disconnect", exitWhenIdle);
process.on("SIGTERM", () => {
  shuttingDown = true;
  for (const executor of executors.values()) executor.shutdown(0, true);
  exitWhenIdle();
});
logger.debug("executor host started");
