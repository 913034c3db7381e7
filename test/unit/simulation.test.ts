/**
 * The seeded whole-cluster simulation (src/sim) in `npm test`: a few hundred
 * seeds keep every invariant, a seed replays exactly, the checker catches a
 * broken core (state tampered with mid-run), and src/sim stays free of I/O.
 * `npm run simulate` runs thousands of seeds with longer fault phases.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runSimulation, type SimResult } from "../../src/sim/cluster.js";
import { ROOT } from "../helpers/processes.js";

const SEEDS = 200;
const STEPS = 400;
/** Wall-clock budget: on a loaded machine fewer seeds run rather than the test running long. */
const BUDGET_MS = 40_000;
/** Fewer seeds than this within the budget is a failure (the simulation got far slower). */
const AT_LEAST = 40;

const failureOf = (r: SimResult): string | undefined =>
  r.failure === undefined
    ? undefined
    : `seed=${r.seed} step=${r.failure.step} ${r.failure.message}\n  ${r.failure.trace.join("\n  ")}`;

describe("the seeded whole-cluster simulation", () => {
  it(`keeps every invariant over ${SEEDS} seeds (or as many as ${BUDGET_MS / 1000} s allow)`, () => {
    const started = performance.now();
    const failures: string[] = [];
    let ran = 0;
    let launched = 0;
    for (let seed = 1; seed <= SEEDS && performance.now() - started < BUDGET_MS; seed++) {
      const result = runSimulation({ seed, steps: STEPS });
      ran++;
      launched += result.tasksLaunched;
      const failure = failureOf(result);
      if (failure !== undefined) failures.push(failure);
    }
    console.log(
      `simulation: ${ran} seeds in ${((performance.now() - started) / 1000).toFixed(1)} s, ${launched} tasks launched`,
    );
    expect(failures).toEqual([]);
    expect(ran).toBeGreaterThanOrEqual(AT_LEAST);
    // The runs do something: tasks launch in every seed on average.
    expect(launched).toBeGreaterThan(ran);
  }, 70_000);

  it("replays a seed exactly", () => {
    const a = runSimulation({ seed: 4242, steps: STEPS });
    const b = runSimulation({ seed: 4242, steps: STEPS });
    expect(b).toEqual(a);
    expect(runSimulation({ seed: 4243, steps: STEPS })).not.toEqual(a);
  });

  it("catches a master that brings an ended task back to life", () => {
    const result = runSimulation({
      seed: 7,
      steps: 2000,
      inspect: (world) => {
        const framework = [...(world.leader()?.core.state.frameworks.values() ?? [])].find(
          (f) => f.completed.length > 0,
        );
        const ended = framework?.completed[0];
        if (framework !== undefined && ended !== undefined) framework.tasks.set(ended.taskId?.value ?? "", ended);
      },
    });
    expect(result.failure?.invariant).toBe("terminal stays");
  });

  it("catches an allocator that frees resources still offered or in use", () => {
    let done = false;
    const result = runSimulation({
      seed: 7,
      steps: 2000,
      inspect: (world) => {
        const leader = world.leader();
        const agent = [...(leader?.core.state.agents.values() ?? [])].find((a) => a.tasks.size > 0 && a.session);
        const [key] = agent?.tasks ?? [];
        if (done || leader === undefined || agent === undefined || key === undefined) return;
        const frameworkId = key.slice(0, key.indexOf("/"));
        const task = leader.core.state.frameworks.get(frameworkId)?.tasks.get(key.slice(key.indexOf("/") + 1));
        leader.allocator.recoverResources(frameworkId, agent.id, task?.resources ?? []);
        done = true;
      },
    });
    // Seen at the next step the master's core runs.
    expect(result.failure?.invariant).toBe("resources conserved");
  });

  it("catches an agent that loses an update it took from an executor", () => {
    // The bug is planted where a seed's run offers the chance (a task with an
    // update queued behind the one in flight, once faults stopped): the first
    // seed that does, so a change elsewhere that moves one run's course does
    // not leave the check without a case.
    let planted: number | undefined;
    let caught: string | undefined;
    for (let seed = 7; seed < 40 && planted === undefined; seed++) {
      const result = runSimulation({
        seed,
        steps: 2000,
        inspect: (world, step) => {
          for (const agent of world.agents) {
            const pending = agent.core?.state.updates.pending() ?? [];
            const keys = pending.map((p) => `${p.frameworkId}/${p.status.taskId?.value ?? ""}`);
            const queued = pending.find((_, i) => keys.indexOf(keys[i] ?? "") !== i);
            if (planted !== undefined || queued === undefined || step < 2000) continue;
            agent.core?.state.updates.forget(queued.frameworkId, queued.status.taskId?.value ?? "");
            planted = seed;
          }
        },
      });
      caught = result.failure?.invariant;
    }
    expect(planted).toBeDefined();
    expect(caught).toBe("delivered");
  });
});

describe("src/sim stays free of I/O", () => {
  const dir = join(ROOT, "src", "sim");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "main.ts");

  it.each(files)("%s reads no clock, no randomness, no files, no process", (file) => {
    const code = readFileSync(join(dir, file), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    expect(code).not.toMatch(
      /\b(Math\.random|Date\.now|new Date|setTimeout|setInterval|setImmediate|process\.|performance\.)/,
    );
    const imports = [...code.matchAll(/from\s+["']([^"']+)["']/g)].map((m) => m[1] ?? "");
    expect(imports.filter((spec) => !spec.startsWith(".") && !spec.startsWith("@bufbuild/protobuf"))).toEqual([]);
  });
});
