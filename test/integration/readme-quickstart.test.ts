import { execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, ProcessScope, ROOT } from "../helpers/processes.js";

/**
 * Runs the README's quick start as written: `npm start`, then the commands of
 * the five-minute walk-through, against the default ports 5050 and 5051.
 * Only the work directory is moved to a temp dir (PLATEAU_WORK_DIR), so the
 * test leaves nothing in the checkout.
 */

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The shell commands of a README section's ```sh blocks, continuation lines joined. */
function commandsOf(heading: string): string[] {
  const start = readme.indexOf(heading);
  const section = readme.slice(start, readme.indexOf("\n## ", start + heading.length));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  return blocks
    .flatMap((b) => b.replace(/\\\n\s*/g, "").split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

function sh(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("/bin/sh", ["-c", command], { cwd: ROOT, env, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("the README quick start, as written", () => {
  const scope = new ProcessScope();
  let env: NodeJS.ProcessEnv;
  let local: ReturnType<typeof spawn> | undefined;
  let banner = "";

  beforeAll(async () => {
    for (const port of [5050, 5051]) {
      if (await portInUse(port))
        throw new Error(`port ${port} is taken; the quick start needs it free (stop any running plateau local)`);
    }
    env = { ...process.env, PLATEAU_WORK_DIR: scope.tempDir() };
    const [start] = readme.match(/npm ci && npm start/) ?? [];
    expect(start).toBeDefined();
    // `npm ci` already ran for this checkout; `npm start` is the command under test.
    local = spawn("npm", ["start"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    local.stdout?.on("data", (d: Buffer) => (banner += d.toString()));
    await eventually(() => (banner.includes("5050") ? true : undefined), "the plateau local banner", 30_000);
  });

  afterAll(async () => {
    if (local?.pid !== undefined && local.exitCode === null) {
      const exited = new Promise((r) => local?.once("exit", r));
      process.kill(-local.pid, "SIGINT");
      const timer = setTimeout(() => local?.pid !== undefined && process.kill(-local.pid, "SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await scope.cleanup();
  });

  it("keeps its state in ./.plateau, which git ignores", async () => {
    expect(readme).toContain("under `./.plateau`");
    expect((await sh("git check-ignore -q .plateau/master/registry", env)).code).toBe(0);
  });

  it("greets with where the master and agent are", () => {
    expect(banner).toContain("127.0.0.1:5050");
    expect(banner).toContain("127.0.0.1:5051");
  });

  it("runs each walk-through command successfully", async () => {
    const commands = commandsOf("## Five minutes with Plateau");
    expect(commands.length).toBeGreaterThanOrEqual(5);
    const outputs: string[] = [];
    for (const command of commands) {
      const result = await sh(command, env);
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
      outputs.push(result.stdout);
    }
    const all = outputs.join("\n");
    expect(all).toMatch(/hello: TASK_FINISHED/);
    expect(all).toMatch(/counting: TASK_FINISHED/);
    expect(all).toMatch(/mesos\.v2\.MesosService/);
    expect(all).toMatch(/"getState"/);
    expect(all).toMatch(/"SUBSCRIBED"/);
    // Each write answers with its own type, which reads as what was done.
    for (const type of ["UPDATE_WEIGHTS", "UPDATE_QUOTA", "RESERVE_RESOURCES"])
      expect(all).toMatch(new RegExp(`"type":\\s*"${type}"`));
    expect(all).not.toMatch(/"UNKNOWN"/);
    // `plateau roles` after the weight, quota and reservation calls.
    expect(all).toMatch(/prod\s+2\s+0\s+-\s+cpus\(prod\):1\s+cpus:2/);
  });
});

/** The tail of each daemon's log the example wrote, for a failure's message. */
function logsUnder(dir: string): string {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".log"))
    .map((name) => `--- ${name}\n${readFileSync(join(dir, name), "utf8").split("\n").slice(-15).join("\n")}`)
    .join("\n");
}

/** The block of a README section as one script: its background jobs need one shell. */
function scriptOf(heading: string): string {
  const start = readme.indexOf(heading);
  const section = readme.slice(start, readme.indexOf("\n## ", start + heading.length));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "").join("\n");
}

describe("the README's several masters example, as written", () => {
  const scope = new ProcessScope();
  let script: ReturnType<typeof spawn> | undefined;

  afterAll(async () => {
    // The script stops what it started; if it failed midway, what is left of its process group goes.
    if (script?.pid !== undefined) {
      try {
        process.kill(-script.pid, "SIGKILL");
      } catch {
        // ESRCH: the group is already gone, as it should be.
      }
    }
    await scope.cleanup();
  });

  it("elects a leader, registers the agent, runs a task through the named master, and stops everything", async () => {
    for (const port of [2379, 2380, 5050, 5051, 5060]) {
      if (await portInUse(port)) throw new Error(`port ${port} is taken; the example needs it free`);
    }
    const tmp = scope.tempDir();
    // Only /tmp moves, to a temp dir of the test's own; every command runs as written.
    let text = scriptOf("## Several masters").replaceAll("/tmp/", `${tmp}/`);
    const cli = join(ROOT, "bin", "plateau.js");
    if (realpathSync(join(ROOT, "node_modules", ".bin", "plateau")) !== cli) {
      // A git worktree sharing another checkout's node_modules: that link runs the other checkout's CLI.
      mkdirSync(join(tmp, "bin"));
      symlinkSync(cli, join(tmp, "bin", "plateau"));
      text = text.replace("$PWD/node_modules/.bin", join(tmp, "bin"));
    }
    expect(text).toContain("plateau master --port 5060");
    let out = "";
    let err = "";
    script = spawn("bash", ["-e", "-c", text], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    script.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    script.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => script?.once("exit", resolve));
    expect(code, `${out}\n${err}\n${logsUnder(tmp)}`).toBe(0);
    expect(out).toMatch(/localhost:5051 .* yes/);
    expect(out).toMatch(/hello: TASK_FINISHED/);
    // `kill` only asks; each daemon lets its port go once it has stopped.
    for (const port of [2379, 5050, 5051, 5060])
      await eventually(
        async () => ((await portInUse(port)) ? undefined : true),
        `port ${port} to be free after the example`,
        10_000,
      );
  }, 90_000);
});
