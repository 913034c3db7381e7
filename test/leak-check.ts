/**
 * Fails every test file that leaves a child process, a listening port or an
 * open handle behind (vitest `setupFiles`: this runs in each file's worker).
 * Its afterAll was registered first, so it runs after the file's own
 * afterAll/afterEach cleanups. Leaked processes are then killed, so one
 * file's leak does not become the next file's failure.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";

import { type HandleOrigins, LEAK_STACKS, trackHandleOrigins } from "./helpers/handle-origins.js";
import { findLeaks, LEAK_MARK, type LeakSnapshot, takeSnapshot } from "./helpers/leaks.js";

/** Sockets and processes closed by the file's cleanup may take a moment to go. */
const GRACE_MS = 3_000;

const mark = `${LEAK_MARK}=${process.pid}-${randomUUID()}`;
process.env[LEAK_MARK] = mark.slice(LEAK_MARK.length + 1);

let before: LeakSnapshot | undefined;
let origins: HandleOrigins | undefined;

/** Vitest batches its reports to the main process with a 100 ms timer. */
const VITEST_REPORT_MS = 100;

beforeAll(async () => {
  // Node opens the stdio streams' handles on first use (a logger's first
  // line): open them now, so that is not taken for the file's leak.
  for (const stream of [process.stdout, process.stderr]) stream.listenerCount("data");
  before = takeSnapshot(mark);
  // A pending report timer in the baseline would hide a timer the file leaks.
  if (before.handles.has("Timeout")) {
    await new Promise((resolve) => setTimeout(resolve, VITEST_REPORT_MS + 20));
    before = takeSnapshot(mark);
  }
  origins = trackHandleOrigins();
});

afterAll(async () => {
  if (before === undefined) return;
  const deadline = Date.now() + GRACE_MS;
  let leaks = findLeaks(before, mark);
  while (leaks.lines.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    leaks = findLeaks(before, mark);
  }
  origins?.stop();
  if (leaks.lines.length === 0) return;
  for (const pid of leaks.pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const where =
    leaks.handleTypes.length === 0
      ? []
      : (origins?.stacks(leaks.handleTypes) ?? [`(${LEAK_STACKS}=1 shows where each open handle was created)`]);
  throw new Error(
    `this test file left behind (${GRACE_MS / 1000} s after its last cleanup):\n  ${[...leaks.lines, ...where].join("\n  ")}`,
  );
});
