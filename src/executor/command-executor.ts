/**
 * The command executor: runs one task's command and reports its states to
 * the agent over its own unified stream (executor role).
 *
 *   SUBSCRIBE ──LAUNCH──> TASK_STARTING ──spawned──> TASK_RUNNING ──exit──> TASK_FINISHED / TASK_FAILED
 *                                                        │
 *                                                      KILL ──> (TASK_KILLING) ──SIGTERM, grace, SIGKILL──> TASK_KILLED
 *   terminal update acknowledged by the agent ──> stream closed, executor done
 */
import { type Event, Event_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  type FrameworkInfo,
  FrameworkInfo_Capability_Type,
  type KillPolicy,
  type TaskInfo,
  TaskState,
} from "../../gen/mesos/v1/mesos_pb.js";
import { createExecutorOver, type ExecutorClient, type ExecutorTransport } from "../client/executor-over.js";
import type { Logger } from "../log.js";
import type { Spawner } from "./spawner.js";

/** Mesos' default grace period between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 3_000;
/** How long a finished executor waits for the agent to take its last update. */
const FINAL_ACK_TIMEOUT_MS = 15 * 60_000;

/** What the executor host tells a command executor it starts. */
export interface CommandExecutorOptions {
  agent: string;
  frameworkId: string;
  executorId: string;
  sandbox: string;
  /** MESOS_* and other variables the task gets besides CommandInfo.environment. */
  env: Record<string, string>;
  logger: Logger;
  /** What carries this executor's calls and events to the agent (the host's socket connection, or a stream). */
  transport: ExecutorTransport;
  /** Where the task's process is spawned (the host's spawning thread). */
  spawner: Spawner;
  /** Called once when the executor is done, with a wait status and its description. */
  onExit: (waitStatus: number, description: string) => void;
}

/** A running command executor, as its host controls it. */
export interface CommandExecutor {
  /**
   * Kills the task (if any) with `graceMs`, then ends. With `abandon`, it
   * ends as soon as the task is gone instead of waiting for the agent to
   * take the last update (the agent itself is going away).
   */
  shutdown(graceMs: number, abandon?: boolean): void;
}

function graceOf(policy: KillPolicy | undefined, fallback: number): number {
  const ns = policy?.gracePeriod?.nanoseconds;
  return ns === undefined ? fallback : Number(ns / 1_000_000n);
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGABRT: 6,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 0;
}

/** The argv of a CommandInfo: `sh -c value`, or value with arguments[1..]. */
export function commandArgv(task: TaskInfo): { file: string; args: string[]; argv0: string } {
  const command = task.command;
  if (command === undefined) throw new Error("task has no command");
  if (command.shell) return { file: "/bin/sh", args: ["-c", command.value], argv0: "sh" };
  return { file: command.value, args: command.arguments.slice(1), argv0: command.arguments[0] ?? command.value };
}

/**
 * Starts a command executor: it subscribes to the agent on its own stream
 * and runs the task it is given (see the diagram above). `onExit` fires once.
 */
export function startCommandExecutor(options: CommandExecutorOptions): CommandExecutor {
  const { logger } = options;
  let framework: FrameworkInfo | undefined;
  let task: TaskInfo | undefined;
  /** Set once the task's process exists; its process group has the same id. */
  let pid: number | undefined;
  /** The spawn was asked for / the process is gone (or never started). */
  let spawned = false;
  let ended = false;
  let killing = false;
  let killTimer: NodeJS.Timeout | undefined;
  let finalUuid: string | undefined;
  let finalTimer: NodeJS.Timeout | undefined;
  let exitStatus = { wait: 0, description: "exited with status 0" };
  let done = false;
  let abandon = false;

  const taskId = () => task?.taskId?.value ?? "";
  const update = (state: TaskState, message = ""): void => {
    client.update({ taskId: { value: taskId() }, state, message });
  };

  const finish = (): void => {
    if (done) return;
    done = true;
    if (killTimer !== undefined) clearTimeout(killTimer);
    if (finalTimer !== undefined) clearTimeout(finalTimer);
    void client.close().finally(() => options.onExit(exitStatus.wait, exitStatus.description));
  };

  const terminal = (state: TaskState, message: string): void => {
    update(state, message);
    if (abandon) return finish();
    finalUuid = Buffer.from(client.unacknowledged.at(-1)?.uuid ?? []).toString("hex");
    finalTimer = setTimeout(finish, FINAL_ACK_TIMEOUT_MS);
  };

  const launch = (info: TaskInfo): void => {
    if (task !== undefined) return; // a command executor runs exactly one task
    task = info;
    update(TaskState.TASK_STARTING);
    let argv: ReturnType<typeof commandArgv>;
    try {
      argv = commandArgv(info);
    } catch (e) {
      exitStatus = { wait: 1 << 8, description: "failed to launch" };
      return terminal(TaskState.TASK_FAILED, `Failed to launch the command: ${(e as Error).message}`);
    }
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: options.sandbox,
      ...options.env,
      MESOS_TASK_ID: taskId(),
    };
    for (const v of info.command?.environment?.variables ?? []) env[v.name] = v.value;
    spawned = true;
    // A process group of its own (the spawner starts it detached), so a kill
    // reaches everything the task started.
    options.spawner.spawn(
      { file: argv.file, args: argv.args, argv0: argv.argv0, cwd: options.sandbox, env },
      {
        onSpawn: (p) => {
          pid = p;
          // A kill that came before the pid: its SIGTERM goes out now. Once
          // TASK_KILLING is out, TASK_RUNNING would be a step back the agent refuses.
          if (killing) signalGroup("SIGTERM");
          else update(TaskState.TASK_RUNNING);
        },
        onError: (message) => {
          ended = true;
          if (killTimer !== undefined) clearTimeout(killTimer);
          exitStatus = { wait: 127 << 8, description: "failed to launch" };
          terminal(TaskState.TASK_FAILED, `Failed to launch the command: ${message}`);
        },
        onExit: (code, signal) => {
          ended = true;
          onTaskExit(code, signal);
        },
      },
    );
  };

  const onTaskExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (killTimer !== undefined) clearTimeout(killTimer);
    // The command is over: whatever it left behind in its process group goes
    // too, as when Mesos destroys a container.
    signalGroup("SIGKILL");
    if (signal !== null) exitStatus = { wait: signalNumber(signal), description: `terminated with signal ${signal}` };
    else exitStatus = { wait: (code ?? 0) << 8, description: `exited with status ${code ?? 0}` };
    if (killing) return terminal(TaskState.TASK_KILLED, `Command ${exitStatus.description}`);
    if (code === 0) return terminal(TaskState.TASK_FINISHED, "Command exited with status 0");
    terminal(TaskState.TASK_FAILED, `Command ${exitStatus.description}`);
  };

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };

  const kill = (graceMs: number): void => {
    if (!spawned || ended) {
      if (task === undefined) finish();
      return;
    }
    if (killing) return;
    killing = true;
    if (framework?.capabilities.some((c) => c.type === FrameworkInfo_Capability_Type.TASK_KILLING_STATE))
      update(TaskState.TASK_KILLING);
    signalGroup("SIGTERM");
    killTimer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
  };

  const onEvent = (event: Event): void => {
    switch (event.type) {
      case Event_Type.SUBSCRIBED:
        framework = event.subscribed?.frameworkInfo;
        return;
      case Event_Type.LAUNCH:
        if (event.launch?.task !== undefined) launch(event.launch.task);
        return;
      case Event_Type.KILL:
        return kill(graceOf(event.kill?.killPolicy, graceOf(task?.killPolicy, DEFAULT_KILL_GRACE_MS)));
      case Event_Type.SHUTDOWN:
        return kill(graceOf(task?.killPolicy, DEFAULT_KILL_GRACE_MS));
      case Event_Type.ACKNOWLEDGED:
        if (finalUuid !== undefined && Buffer.from(event.acknowledged?.uuid ?? []).toString("hex") === finalUuid)
          finish();
        return;
      case Event_Type.ERROR:
        logger.warn({ executor: options.executorId, error: event.error?.message }, "agent reported an error");
        return;
    }
  };

  const client: ExecutorClient = createExecutorOver(options.transport, {
    frameworkId: options.frameworkId,
    executorId: options.executorId,
    onEvent,
    onError: (error) => logger.warn({ executor: options.executorId, error: error.message }, "agent refused a call"),
  });

  return {
    shutdown(graceMs, abandonAcks = false) {
      abandon ||= abandonAcks;
      if (abandon && finalUuid !== undefined) return finish();
      kill(graceMs);
    },
  };
}
