/**
 * The benchmark's output: the machine it ran on, one row per figure (value,
 * target, method), printed as a table and prepended to bench/RESULTS.md so
 * the newest run is on top and older runs stay below it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";

/** One reported figure. `value` is already formatted; "FAILED: ..." when its section failed. */
export interface Row {
  figure: string;
  value: string;
  target: string;
  /** Whether the value meets the target; undefined when there is no target or no value. */
  met: boolean | undefined;
  method: string;
}

export interface Machine {
  cpu: string;
  cores: string;
  memory: string;
  node: string;
  kernel: string;
}

export function describeMachine(): Machine {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (model?.[1] !== undefined) cpu = model[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  let cores = String(os.availableParallelism());
  try {
    cores = execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    // no nproc: keep Node's count
  }
  return {
    cpu,
    cores,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
  };
}

const mark = (met: boolean | undefined): string => (met === undefined ? "" : met ? "yes" : "NO");

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
}

/** The console table. */
export function formatTable(rows: Row[]): string {
  const header = ["figure", "value", "target", "met"];
  const body = rows.map((r) => [r.figure, r.value, r.target, mark(r.met)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  return [
    pad(header, widths),
    pad(
      widths.map((w) => "-".repeat(w)),
      widths,
    ),
    ...body.map((b) => pad(b, widths)),
  ].join("\n");
}

const escapeCell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** One dated section of RESULTS.md. */
export function formatSection(date: Date, machine: Machine, rows: Row[], notes: string[]): string {
  const lines = [
    `## ${date.toISOString()}`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores (nproc), ${machine.memory} RAM, Node ${machine.node}, ${machine.kernel}`,
    "",
    "| figure | value | target | met | method |",
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${[r.figure, r.value, r.target, mark(r.met), r.method].map(escapeCell).join(" | ")} |`),
  ];
  if (notes.length > 0) lines.push("", ...notes.map((n) => `- ${escapeCell(n)}`));
  return `${lines.join("\n")}\n`;
}

const TITLE = "# Plateau benchmark results";
const PREAMBLE = [
  TITLE,
  "",
  "Written by `npm run bench` (bench/main.ts). Newest run first; each run adds a section on top.",
  "Figures are measurements, not assertions: nothing fails when a target is missed.",
  "",
  "For comparison on this kind of machine (2 cores, figures from the issue, not measured here): a raw grpc-js",
  "bidirectional stream does about 36-44k one-way messages/s and 7-9k round trips/s; Slurm finishes about",
  "45 trivial batch jobs/s. Plateau's own stream figures are compared with a bare connect-node echo measured",
  "in the same run, since absolute numbers move with the machine's load.",
  "",
].join("\n");

/** Puts `section` on top of the runs already in `path` (creating the file if needed). */
export function prependResults(path: string, section: string): void {
  let history = "";
  if (existsSync(path)) {
    const old = readFileSync(path, "utf8");
    const firstRun = old.indexOf("\n## ");
    history = firstRun === -1 ? "" : old.slice(firstRun + 1);
  }
  writeFileSync(path, `${PREAMBLE}\n${section}${history === "" ? "" : `\n${history}`}`);
}
