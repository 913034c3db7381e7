import { type Logger, pino } from "pino";

export type { Logger };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/**
 * Creates the process logger: pino JSON lines on stderr, so stdout stays free
 * for what a command prints for the user.
 */
export function createLogger(name: string, level: LogLevel = "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
