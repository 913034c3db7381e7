/**
 * Pure formatting and parsing helpers of the CLI: durations in Mesos' flag
 * syntax, aligned tables, and the exit status of a finished task.
 */
import { TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { UsageError } from "./flags.js";

const durationUnits: Record<string, number> = {
  ns: 1e-9,
  nsecs: 1e-9,
  us: 1e-6,
  usecs: 1e-6,
  ms: 1e-3,
  msecs: 1e-3,
  s: 1,
  sec: 1,
  secs: 1,
  m: 60,
  min: 60,
  mins: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  d: 86400,
  days: 86400,
  w: 604800,
  weeks: 604800,
};

/**
 * Parses a duration as Mesos flags write it ("1secs", "500ms", "2mins") or a
 * bare number of seconds ("1", "0.5"); returns seconds.
 */
export function parseDuration(text: string, flag = "duration"): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  const factor = unit === "" ? 1 : durationUnits[unit];
  if (match === null || factor === undefined) {
    throw new UsageError(`--${flag} expects a duration such as 1secs, 500ms or 2 (seconds), got "${text}"`);
  }
  return Number(match[1]) * factor;
}

/**
 * Aligns `rows` under `headers`, two spaces between columns; the last column
 * is not padded so lines carry no trailing blanks.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, col) => Math.max(...all.map((row) => (row[col] ?? "").length)));
  const line = (row: string[]): string =>
    headers
      .map((_, col) => (col === headers.length - 1 ? (row[col] ?? "") : (row[col] ?? "").padEnd(widths[col] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${all.map(line).join("\n")}\n`;
}

/** Compact number for tables: at most 3 decimals, no trailing zeros. */
export function formatNumber(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/**
 * The exit status `plateau run` reports for a terminal update: 0 for
 * TASK_FINISHED, N for a TASK_FAILED whose message says "Command exited with
 * status N" (as Mesos' command executor writes it), 1 otherwise.
 */
export function taskExitStatus(status: Pick<TaskStatus, "state" | "message">): number {
  if (status.state === TaskState.TASK_FINISHED) return 0;
  if (status.state === TaskState.TASK_FAILED) {
    const match = /exited with status (\d+)/i.exec(status.message);
    const code = match === null ? NaN : Number(match[1]);
    // A failed task that claims status 0 is still a failure.
    if (Number.isInteger(code) && code > 0 && code < 256) return code;
  }
  return 1;
}

/** "TASK_RUNNING" for a TaskState value. */
export function taskStateName(state: TaskState): string {
  return TaskState[state] ?? `TASK_STATE_${state}`;
}
