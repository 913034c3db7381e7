/**
 * What every CLI command is: flags, help, and a run function that gets its
 * I/O injected so tests can drive it without a terminal.
 */
import { type FlagSpec, formatHelp, type ParsedFlags } from "./flags.js";

/** Where a command writes and what it reads from its process. */
export interface CliIo {
  /** User-facing output (tables, banners, task states). */
  out(text: string): void;
  /** Diagnostics and errors. */
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * Calls `handler` on SIGINT/SIGTERM until the returned function is called;
   * while subscribed, the signals do not kill the process.
   */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}

/** One `plateau <name>` command. */
export interface Command {
  name: string;
  /** One line for `plateau help`. */
  summary: string;
  /** Usage line without "Usage: ". */
  usage: string;
  flags: FlagSpec[];
  /** True when the command takes arguments besides flags (`run -- argv`). */
  takesArguments?: boolean;
  /** Returns the exit status; throws UsageError for bad invocations. */
  run(flags: ParsedFlags, io: CliIo): Promise<number>;
}

/** The `--help` flag every command accepts. */
export const helpFlag: FlagSpec = { name: "help", kind: "boolean", description: "Show this help" };

/** Help text of `command`. */
export function commandHelp(command: Command): string {
  return formatHelp(command.usage, command.summary, [...command.flags, helpFlag]);
}

/** The IO of the real process. */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    onSignal(handler) {
      process.on("SIGINT", handler);
      process.on("SIGTERM", handler);
      return () => {
        process.off("SIGINT", handler);
        process.off("SIGTERM", handler);
      };
    },
  };
}

/** Resolves with the first SIGINT/SIGTERM (daemons run until then). */
export function waitForShutdownSignal(io: CliIo, signal?: AbortSignal): Promise<NodeJS.Signals | undefined> {
  return new Promise((resolve) => {
    // An aborted wait stops listening, so nothing is left holding the signal handlers.
    const stopWaiting = (): void => {
      off();
      resolve(undefined);
    };
    const off = io.onSignal((received) => {
      off();
      signal?.removeEventListener("abort", stopWaiting);
      resolve(received);
    });
    signal?.addEventListener("abort", stopWaiting, { once: true });
  });
}

/** Common flag specs reused across commands. */
export const commonFlags = {
  master: (dflt = "127.0.0.1:5050"): FlagSpec => ({
    name: "master",
    kind: "string",
    description: "The master's host:port",
    default: dflt,
    placeholder: "HOST:PORT",
  }),
  logLevel: (dflt = "info"): FlagSpec => ({
    name: "log-level",
    kind: "string",
    description: "trace|debug|info|warn|error|fatal|silent (logs go to stderr)",
    default: dflt,
    aliases: ["logging-level"],
    placeholder: "LEVEL",
  }),
  json: { name: "json", kind: "boolean", description: "Print the response as JSON (Mesos v1 field names)" } as FlagSpec,
};
