import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import {
  adoptable,
  isTerminalState,
  LAUNCH_STATE,
  type Mover,
  moveTask,
  stateName,
  TASK_STATES,
  transition,
} from "../../src/core/task-lifecycle.js";

const {
  TASK_STAGING: STAGING,
  TASK_STARTING: STARTING,
  TASK_RUNNING: RUNNING,
  TASK_KILLING: KILLING,
  TASK_UNREACHABLE: UNREACHABLE,
  TASK_UNKNOWN: UNKNOWN,
} = TaskState;

const TERMINAL = [
  TaskState.TASK_FINISHED,
  TaskState.TASK_FAILED,
  TaskState.TASK_KILLED,
  TaskState.TASK_ERROR,
  TaskState.TASK_LOST,
  TaskState.TASK_DROPPED,
  TaskState.TASK_GONE,
  TaskState.TASK_GONE_BY_OPERATOR,
];
const MOVERS: Mover[] = ["master", "agent"];

/**
 * The rules again, stated differently from the module's table, so that a
 * slip in one shows up against the other.
 */
function expected(from: TaskState, to: TaskState, by: Mover): boolean {
  if (from === to) return true;
  if (TERMINAL.includes(from)) return false;
  if ((to === UNREACHABLE || to === UNKNOWN) && by !== "master") return false;
  if (TERMINAL.includes(to)) return true;
  // Out of "cannot see it", the agent's report wins, whatever it says.
  if (from === UNREACHABLE || from === UNKNOWN) return true;
  if (to === UNREACHABLE) return true;
  if (to === UNKNOWN) return false;
  const order = [STAGING, STARTING, RUNNING, KILLING];
  return order.indexOf(to) > order.indexOf(from);
}

describe("task lifecycle", () => {
  it("names every Mesos task state once", () => {
    const generated = Object.values(TaskState).filter((v): v is TaskState => typeof v === "number");
    expect([...TASK_STATES].sort()).toEqual([...generated].sort());
    expect(new Set(TASK_STATES).size).toBe(TASK_STATES.length);
  });

  it("accepts exactly the legal moves and refuses every other, for both movers", () => {
    for (const by of MOVERS) {
      for (const from of TASK_STATES) {
        for (const to of TASK_STATES) {
          const t = transition(from, to, by);
          expect({ from: stateName(from), to: stateName(to), by, ok: t.ok }).toEqual({
            from: stateName(from),
            to: stateName(to),
            by,
            ok: expected(from, to, by),
          });
          if (t.ok) expect(t.changed).toBe(from !== to);
          else expect(t.reason).not.toBe("");
        }
      }
    }
  });

  it("makes terminal states absorbing: a task that ended never changes state", () => {
    for (const from of TERMINAL) {
      expect(isTerminalState(from)).toBe(true);
      for (const to of TASK_STATES.filter((s) => s !== from)) {
        for (const by of MOVERS) {
          const t = transition(from, to, by);
          expect(t.ok).toBe(false);
          if (!t.ok) expect(t.reason).toMatch(/already ended/);
        }
      }
    }
  });

  it("follows a task's ordinary journey, and the short ways out of STAGING", () => {
    const task = { state: LAUNCH_STATE };
    expect(task.state).toBe(STAGING);
    for (const to of [STARTING, RUNNING, RUNNING, KILLING, TaskState.TASK_KILLED])
      expect(moveTask(task, to, "agent").ok).toBe(true);
    expect(task.state).toBe(TaskState.TASK_KILLED);
    for (const end of [TaskState.TASK_ERROR, TaskState.TASK_DROPPED, TaskState.TASK_LOST, TaskState.TASK_FAILED]) {
      expect(transition(STAGING, end, "agent").ok).toBe(true);
    }
  });

  it("lets an unreachable task come back with its agent, or end", () => {
    for (const back of [STAGING, STARTING, RUNNING, KILLING])
      expect(transition(UNREACHABLE, back, "agent").ok).toBe(true);
    for (const end of [
      TaskState.TASK_GONE,
      TaskState.TASK_GONE_BY_OPERATOR,
      TaskState.TASK_LOST,
      TaskState.TASK_KILLED,
    ]) {
      expect(transition(UNREACHABLE, end, "master").ok).toBe(true);
    }
    expect(isTerminalState(UNREACHABLE)).toBe(false);
    expect(isTerminalState(UNKNOWN)).toBe(false);
  });

  it("leaves only the master to say a task is unreachable or unknown", () => {
    expect(transition(RUNNING, UNREACHABLE, "master").ok).toBe(true);
    const refused = transition(RUNNING, UNREACHABLE, "agent");
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.reason).toMatch(/only the master/);
    expect(transition(UNREACHABLE, UNKNOWN, "agent").ok).toBe(false);
  });

  it("refuses steps back and keeps the task where it was", () => {
    const task = { state: KILLING };
    const back = moveTask(task, RUNNING, "agent");
    expect(back.ok).toBe(false);
    if (!back.ok) expect(back.reason).toBe("a task cannot go from TASK_KILLING to TASK_RUNNING");
    expect(task.state).toBe(KILLING);
    expect(moveTask({ state: RUNNING }, STAGING, "master").ok).toBe(false);
  });

  it("refuses a state the enum does not know (an open enum on the wire)", () => {
    const t = transition(RUNNING, 99 as TaskState, "agent");
    expect(t.ok).toBe(false);
  });

  it("adopts only live states an agent can report", () => {
    expect([STAGING, STARTING, RUNNING, KILLING].every(adoptable)).toBe(true);
    expect([UNREACHABLE, UNKNOWN, ...TERMINAL].some(adoptable)).toBe(false);
  });

  it("is the only code in src/core that assigns a task's state", () => {
    const root = join(import.meta.dirname, "../../src/core");
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
      });
    const offenders = files(root)
      .filter((path) => !path.endsWith("task-lifecycle.ts"))
      .flatMap((path) =>
        readFileSync(path, "utf8")
          .split("\n")
          .flatMap((line, i) => (/\.state\s*=(?!=)/.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });
});
