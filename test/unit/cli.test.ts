import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Response_GetTasksSchema } from "../../gen/mesos/v1/master/master_pb.js";
import { OfferSchema, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import type { CliIo } from "../../src/cli/command.js";
import { masterCommand, masterOptionsFromFlags } from "../../src/cli/daemons.js";
import { envName, type FlagSpec, formatHelp, parseFlags, UsageError } from "../../src/cli/flags.js";
import { formatTable, parseDuration, taskExitStatus } from "../../src/cli/format.js";
import { main } from "../../src/cli/main.js";
import { tasksTable } from "../../src/cli/operator-commands.js";
import { runCommand, runSpecFromFlags } from "../../src/cli/run.js";
import { buildTask, offerFits, parseEnv } from "../../src/cli/run-task.js";

const specs: FlagSpec[] = [
  { name: "work-dir", kind: "string", description: "dir" },
  { name: "port", kind: "number", description: "port", default: 5050 },
  { name: "json", kind: "boolean", description: "json" },
  { name: "env", kind: "list", description: "env" },
  { name: "log-level", kind: "string", description: "level", aliases: ["logging-level"] },
];

describe("parseFlags", () => {
  it("accepts --flag value, --flag=value, booleans and Mesos snake_case aliases", () => {
    const f = parseFlags(["--work_dir", "/a", "--port=6000", "--json", "--logging_level", "warn"], specs);
    expect(f.string("work-dir")).toBe("/a");
    expect(f.number("port")).toBe(6000);
    expect(f.boolean("json")).toBe(true);
    expect(f.string("log-level")).toBe("warn");
  });
  it("collects repeated list flags and stops at --", () => {
    const f = parseFlags(["--env", "A=1", "--env=B=2", "--", "echo", "--json"], specs);
    expect(f.list("env")).toEqual(["A=1", "B=2"]);
    expect(f.rest).toEqual(["echo", "--json"]);
    expect(f.boolean("json")).toBe(false);
    expect(f.sawDoubleDash).toBe(true);
  });
  it("falls back to PLATEAU_* variables, then defaults; the command line wins", () => {
    const env = { PLATEAU_WORK_DIR: "/env", PLATEAU_PORT: "7000", PLATEAU_JSON: "true" };
    expect(parseFlags([], specs, env).string("work-dir")).toBe("/env");
    expect(parseFlags([], specs, env).number("port")).toBe(7000);
    expect(parseFlags([], specs, env).boolean("json")).toBe(true);
    expect(parseFlags(["--work-dir", "/cli"], specs, env).string("work-dir")).toBe("/cli");
    expect(parseFlags([], specs, {}).number("port")).toBe(5050);
    expect(parseFlags([], specs, {}).has("work-dir")).toBe(false);
    expect(envName("work-dir")).toBe("PLATEAU_WORK_DIR");
  });
  it("rejects unknown flags, missing values and bad numbers with UsageError", () => {
    expect(() => parseFlags(["--nope"], specs, {}, "plateau x")).toThrow(/unknown flag --nope for 'plateau x'/);
    expect(() => parseFlags(["--work-dir"], specs)).toThrow(UsageError);
    expect(() => parseFlags(["--port", "abc"], specs).number("port")).toThrow(/expects a number/);
    expect(() => parseFlags(["--json=maybe"], specs).boolean("json")).toThrow(UsageError);
  });
  it("renders help with defaults and env names", () => {
    const help = formatHelp("plateau x", "Does x.", specs);
    expect(help).toContain("--port NUMBER");
    expect(help).toContain("(default: 5050)");
    expect(help).toContain("[PLATEAU_WORK_DIR]");
  });
});

describe("parseDuration", () => {
  it("reads Mesos units and bare seconds", () => {
    expect(parseDuration("1secs")).toBe(1);
    expect(parseDuration("500ms")).toBe(0.5);
    expect(parseDuration("1")).toBe(1);
    expect(parseDuration("0.25")).toBe(0.25);
    expect(parseDuration("2mins")).toBe(120);
    expect(parseDuration("1hrs")).toBe(3600);
    expect(parseDuration("15s")).toBe(15);
  });
  it("rejects nonsense", () => {
    expect(() => parseDuration("soon", "allocation-interval")).toThrow(/--allocation-interval/);
    expect(() => parseDuration("5 parsecs")).toThrow(UsageError);
    expect(() => parseDuration("")).toThrow(UsageError);
  });
});

describe("formatTable", () => {
  it("aligns columns with two spaces and no trailing blanks", () => {
    expect(
      formatTable(
        ["ID", "STATE"],
        [
          ["a-long-id", "TASK_RUNNING"],
          ["b", ""],
        ],
      ),
    ).toBe("ID         STATE\na-long-id  TASK_RUNNING\nb\n");
  });
  it("renders a tasks table", () => {
    const tasks = create(Response_GetTasksSchema, {
      tasks: [
        {
          name: "hello",
          taskId: { value: "t1" },
          frameworkId: { value: "f" },
          agentId: { value: "a" },
          state: TaskState.TASK_RUNNING,
        },
      ],
      completedTasks: [{ name: "old", taskId: { value: "t0" }, state: TaskState.TASK_FINISHED }],
    });
    const lines = tasksTable(tasks).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+FRAMEWORK\s+AGENT\s+STATE$/);
    expect(lines[1]).toMatch(/^t1\s+hello\s+f\s+a\s+TASK_RUNNING$/);
    expect(lines[2]).toMatch(/TASK_FINISHED$/);
  });
});

describe("taskExitStatus", () => {
  it("maps terminal updates to exit statuses", () => {
    expect(taskExitStatus({ state: TaskState.TASK_FINISHED, message: "" })).toBe(0);
    expect(taskExitStatus({ state: TaskState.TASK_FAILED, message: "Command exited with status 3" })).toBe(3);
    expect(taskExitStatus({ state: TaskState.TASK_FAILED, message: "Command exited with status 0" })).toBe(1);
    expect(taskExitStatus({ state: TaskState.TASK_FAILED, message: "Command terminated with signal Killed" })).toBe(1);
    expect(taskExitStatus({ state: TaskState.TASK_KILLED, message: "" })).toBe(1);
    expect(taskExitStatus({ state: TaskState.TASK_ERROR, message: "invalid" })).toBe(1);
  });
});

describe("plateau run pieces", () => {
  const flags = (argv: string[]) => parseFlags(argv, runCommand.flags, {});
  it("builds a shell or argv command and requires exactly one", () => {
    const shell = runSpecFromFlags(flags(["--name", "hi", "--shell", "echo $HOME", "--env", "A=1"]));
    expect(shell.command).toEqual({ shell: "echo $HOME" });
    expect(shell.env).toEqual({ A: "1" });
    expect(shell.needs).toEqual({ cpus: 0.1, mem: 32 });
    const argv = runSpecFromFlags(flags(["--name", "hi", "--disk", "10", "--", "echo", "hello"]));
    expect(argv.command).toEqual({ argv: ["echo", "hello"] });
    expect(argv.needs.disk).toBe(10);
    expect(() => runSpecFromFlags(flags(["--name", "hi"]))).toThrow(/nothing to run/);
    expect(() => runSpecFromFlags(flags(["--name", "hi", "--shell", "x", "--", "y"]))).toThrow(/not both/);
    expect(() => runSpecFromFlags(flags(["--", "y"]))).toThrow(/--name/);
    expect(() => parseEnv(["NOEQUALS"])).toThrow(UsageError);
  });
  it("launches on an offer that fits, taking the offer's own resources", () => {
    const offer = create(OfferSchema, {
      id: { value: "o1" },
      agentId: { value: "a1" },
      resources: [
        { name: "cpus", scalar: { value: 2 }, allocationInfo: { role: "*" } },
        { name: "mem", scalar: { value: 16 }, allocationInfo: { role: "*" } },
        { name: "mem", scalar: { value: 64 }, allocationInfo: { role: "*" }, reservations: [{ role: "dev" }] },
      ],
    });
    const spec = runSpecFromFlags(flags(["--name", "hi", "--mem", "40", "--", "echo", "x"]));
    expect(offerFits(offer, spec.needs)).toBe(true);
    expect(offerFits(offer, { ...spec.needs, mem: 100 })).toBe(false);
    const task = buildTask(offer, spec, "hi.1");
    expect(task.agentId?.value).toBe("a1");
    expect(task.command?.shell).toBe(false);
    expect(task.command?.value).toBe("echo");
    expect(task.command?.arguments).toEqual(["echo", "x"]);
    const mem = task.resources.filter((r) => r.name === "mem").map((r) => r.scalar?.value);
    expect(mem).toEqual([16, 24]);
    expect(task.resources.every((r) => r.allocationInfo?.role === "*")).toBe(true);
  });
});

function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    env,
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
    onSignal: () => () => {},
  };
  return io;
}

describe("main", () => {
  it("prints help and version", async () => {
    const io = captureIo();
    expect(await main(["--help"], io)).toBe(0);
    expect(io.stdout).toContain("run");
    expect(io.stdout).toContain("tasks");
    expect(await main(["--version"], io)).toBe(0);
    expect(io.stdout).toMatch(/plateau \d+\.\d+\.\d+/);
    expect(await main(["run", "--help"], io)).toBe(0);
    expect(io.stdout).toContain("--shell CMD");
    expect(await main(["help", "master"], io)).toBe(0);
    expect(io.stdout).toContain("--allocation-interval");
  });
  it("exits 2 on unknown commands, unknown flags and stray arguments", async () => {
    const io = captureIo();
    expect(await main(["bogus"], io)).toBe(2);
    expect(await main(["tasks", "--bogus"], io)).toBe(2);
    expect(io.stderr).toContain("unknown flag --bogus");
    expect(await main(["tasks", "extra"], io)).toBe(2);
    expect(await main(["run", "--master", "127.0.0.1:1"], io)).toBe(2);
  });
  it("reports an unreachable master in one line naming it, exit 1", async () => {
    const io = captureIo({ PLATEAU_MASTER: "127.0.0.1:1" });
    expect(await main(["tasks"], io)).toBe(1);
    expect(io.stderr.trim().split("\n")).toHaveLength(1);
    expect(io.stderr).toContain("cannot reach the master at 127.0.0.1:1");
  });
  it("maps master flags, with durations in Mesos syntax", () => {
    const f = parseFlags(
      ["--allocation_interval", "500ms", "--heartbeat-interval", "2", "--port", "0"],
      masterCommand.flags,
      {},
    );
    const options = masterOptionsFromFlags(f);
    expect(options.allocationIntervalSeconds).toBe(0.5);
    expect(options.heartbeatIntervalSeconds).toBe(2);
    expect(options.port).toBe(0);
    expect(options.ip).toBe("127.0.0.1");
  });
  it("maps the master's history bounds, Mesos' defaults when absent, and refuses negative ones", () => {
    const parse = (argv: string[]) => masterOptionsFromFlags(parseFlags(argv, masterCommand.flags, {}));
    const defaults = parse([]);
    expect([
      defaults.maxCompletedFrameworks,
      defaults.maxCompletedTasksPerFramework,
      defaults.maxUnreachableTasksPerFramework,
    ]).toEqual([50, 1000, 1000]);
    const set = parse([
      "--max_completed_frameworks=0",
      "--max-completed-tasks-per-framework",
      "7",
      "--max-unreachable-tasks-per-framework=3",
    ]);
    expect([
      set.maxCompletedFrameworks,
      set.maxCompletedTasksPerFramework,
      set.maxUnreachableTasksPerFramework,
    ]).toEqual([0, 7, 3]);
    expect(() => parse(["--max-completed-frameworks=-1"])).toThrow(UsageError);
    expect(() => parse(["--max-completed-tasks-per-framework=1.5"])).toThrow(UsageError);
  });

  it("maps the registry's bounds on unreachable and gone agents, Mesos' flags and defaults", () => {
    const parse = (argv: string[]) => masterOptionsFromFlags(parseFlags(argv, masterCommand.flags, {}));
    const defaults = parse([]);
    expect([
      defaults.registryMaxAgentAgeSeconds,
      defaults.registryMaxAgentCount,
      defaults.registryGcIntervalSeconds,
    ]).toEqual([14 * 24 * 3600, 102_400, 900]);
    const set = parse([
      "--registry_max_agent_age=3days",
      "--registry-max-agent-count=500",
      "--registry-gc-interval=1mins",
    ]);
    expect([set.registryMaxAgentAgeSeconds, set.registryMaxAgentCount, set.registryGcIntervalSeconds]).toEqual([
      3 * 86400,
      500,
      60,
    ]);
    expect(() => parse(["--registry-max-agent-age=soon"])).toThrow(UsageError);
  });
});
