/**
 * An in-memory twin of the containerizer, for in-process clusters, shell
 * tests and simulations. It is not a mock of the operating system: each
 * executor is an in-process object that talks to the agent the way a real
 * one does, over an executor session (SUBSCRIBE, UPDATE, ACKNOWLEDGED), and
 * does what its script says. Time is the injected timers': nothing here
 * happens until they run, so a test on fake timers decides when.
 *
 *   launch ──step──► SUBSCRIBE ──SUBSCRIBED──► subscribed
 *   LAUNCH ──► TASK_STARTING ──step──► TASK_RUNNING ──step──► (script) TASK_FINISHED / TASK_FAILED
 *   KILL / SHUTDOWN / stop ──► (script "obey") [TASK_KILLING] TASK_KILLED   ("ignore": nothing)
 *   command executor: every task terminal and acknowledged ──step──► exit (status from the last state)
 *   stop(graceMs): still running graceMs later ──► killed (SIGKILL) ──► exit
 *
 * Every reaction to the agent comes on a later timer turn, never from inside
 * the agent's own call, as with a real process on the other end of a socket.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Call_Type, CallSchema, type Event, Event_Type } from "../../gen/mesos/v1/executor/executor_pb.js";
import {
  ExecutorIDSchema,
  type ExecutorInfo,
  FrameworkIDSchema,
  type FrameworkInfo,
  FrameworkInfo_Capability_Type,
  TaskState,
  TaskStatus_Source,
} from "../../gen/mesos/v1/mesos_pb.js";
import { ConnectRequestSchema, type ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { HostedLaunch } from "../executor/protocol.js";
import type { ExecutorSession } from "../gateway/executor-sessions.js";
import type { TimerHandle, Timers } from "../util/timers.js";
import type { Containerizer, ContainerizerHooks } from "./containerizer.js";

/** What a twin executor does by itself; a test can take any step itself instead. */
export interface TwinScript {
  /** False: it never subscribes (a hung start); only the agent's stop ends it. */
  subscribe: boolean;
  /** Each task: "run" reports STARTING and RUNNING, then waits for the test; "finish" and "fail" go on to a terminal state. */
  task: "run" | "finish" | "fail";
  /** KILL, SHUTDOWN or stop: "obey" reports TASK_KILLED (after TASK_KILLING when the framework can hear it); "ignore" does nothing. */
  kill: "obey" | "ignore";
  /** Time between one step and the next (subscribing, each update, exiting). */
  stepMs: number;
}

export const DEFAULT_TWIN_SCRIPT: TwinScript = { subscribe: true, task: "run", kill: "obey", stepMs: 0 };

export type TwinPhase = "starting" | "subscribed" | "exited";

/** One executor of the twin, as a test sees and drives it. */
export interface TwinExecutor {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly kind: "command" | "custom";
  readonly launch: HostedLaunch;
  readonly phase: TwinPhase;
  /** The latest state it reported for each task it was given. */
  readonly tasks: ReadonlyMap<string, TaskState>;
  /** The events the agent sent it, in order. */
  readonly received: readonly Event_Type[];
  /** Errors the agent answered its calls with. */
  readonly errors: readonly string[];
  /** How it ended, once it has. */
  readonly exit: { waitStatus: number; description: string } | undefined;
  /** Reports a task's state now (the test's own step). */
  update(taskId: string, state: TaskState, message?: string): void;
  /** The process ends now, e.g. a crash: `exited(1 << 8, "exited with status 1")`. */
  exited(waitStatus: number, description: string): void;
}

/** The twin: a Containerizer, plus what it started. */
export interface ContainerizerTwin extends Containerizer {
  /** Every executor launched, in launch order (exited ones included). */
  readonly executors: readonly TwinExecutor[];
  /** The newest executor launched with these ids. */
  executor(frameworkId: string, executorId: string): TwinExecutor | undefined;
  /** The agent's stop calls, in order. */
  readonly stops: ReadonlyArray<{ frameworkId: string; executorId: string; graceMs: number }>;
}

export interface ContainerizerTwinOptions {
  timers: Timers;
  /** The script of each executor (default: DEFAULT_TWIN_SCRIPT). */
  script?: (launch: HostedLaunch, kind: "command" | "custom") => Partial<TwinScript>;
}

/** Wait statuses as a process would end with them. */
const EXIT_OK = { waitStatus: 0, description: "exited with status 0" };
const EXIT_FAILED = { waitStatus: 1 << 8, description: "exited with status 1" };
const EXIT_TERMINATED = { waitStatus: 15, description: "terminated with signal SIGTERM" };
const EXIT_KILLED = { waitStatus: 9, description: "terminated with signal SIGKILL" };

export function createContainerizerTwin(
  hooks: ContainerizerHooks,
  options: ContainerizerTwinOptions,
): ContainerizerTwin {
  const executors: TwinExecutorImpl[] = [];
  const stops: Array<{ frameworkId: string; executorId: string; graceMs: number }> = [];
  let uuids = 0;
  const nextUuid = (): Uint8Array => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(12, ++uuids);
    return bytes;
  };
  const find = (frameworkId: string, executorId: string) =>
    executors.findLast((e) => e.frameworkId === frameworkId && e.executorId === executorId);
  const launch = (hosted: HostedLaunch, kind: "command" | "custom"): void => {
    const script = { ...DEFAULT_TWIN_SCRIPT, ...options.script?.(hosted, kind) };
    executors.push(createTwinExecutor({ hooks, timers: options.timers, launch: hosted, kind, script, nextUuid }));
  };
  return {
    executors,
    executor: find,
    stops,
    launchCommand: (hosted) => launch(hosted, "command"),
    launchCustom: (hosted, _info: ExecutorInfo) => launch(hosted, "custom"),
    stop(frameworkId, executorId, graceMs) {
      stops.push({ frameworkId, executorId, graceMs });
      find(frameworkId, executorId)?.stop(graceMs);
    },
    async close() {
      // The agent takes its tasks down with it, as the real one does for now.
      for (const executor of executors) executor.exited(EXIT_KILLED.waitStatus, EXIT_KILLED.description);
    },
    pids: () => [],
  };
}

interface TwinExecutorImpl extends TwinExecutor {
  stop(graceMs: number): void;
}

function createTwinExecutor(deps: {
  hooks: ContainerizerHooks;
  timers: Timers;
  launch: HostedLaunch;
  kind: "command" | "custom";
  script: TwinScript;
  nextUuid: () => Uint8Array;
}): TwinExecutorImpl {
  const { hooks, timers, launch, script } = deps;
  const { frameworkId, executorId } = launch;
  let phase: TwinPhase = "starting";
  let session: ExecutorSession | undefined;
  let framework: FrameworkInfo | undefined;
  let shuttingDown = false;
  let exit: { waitStatus: number; description: string } | undefined;
  const tasks = new Map<string, TaskState>();
  const received: Event_Type[] = [];
  const errors: string[] = [];
  /** Updates not yet acknowledged, by uuid (hex). */
  const unacknowledged = new Set<string>();
  /** Every timer this executor armed and that has not run: cleared when it exits. */
  const armed = new Set<TimerHandle>();

  const later = (step: () => void, ms = script.stepMs): void => {
    const handle = timers.setTimeout(() => {
      armed.delete(handle);
      if (phase !== "exited") step();
    }, ms);
    armed.add(handle);
  };

  const call = (init: MessageInitShape<typeof CallSchema>): void => {
    const value = create(CallSchema, init);
    value.frameworkId = create(FrameworkIDSchema, { value: frameworkId });
    value.executorId = create(ExecutorIDSchema, { value: executorId });
    session?.request(create(ConnectRequestSchema, { call: { case: "executor", value } }));
  };

  const update = (taskId: string, state: TaskState, message = ""): void => {
    const uuid = deps.nextUuid();
    tasks.set(taskId, state);
    unacknowledged.add(hex(uuid));
    call({
      type: Call_Type.UPDATE,
      update: {
        status: {
          taskId: { value: taskId },
          state,
          message,
          uuid,
          source: TaskStatus_Source.EXECUTOR,
          executorId: { value: executorId },
          timestamp: timers.now() / 1000,
        },
      },
    });
  };

  const runTask = (taskId: string): void => {
    update(taskId, TaskState.TASK_STARTING);
    later(() => {
      if (tasks.get(taskId) !== TaskState.TASK_STARTING) return;
      update(taskId, TaskState.TASK_RUNNING);
      if (script.task === "run") return;
      later(() => {
        if (tasks.get(taskId) !== TaskState.TASK_RUNNING) return;
        if (script.task === "finish") update(taskId, TaskState.TASK_FINISHED, "Command exited with status 0");
        else update(taskId, TaskState.TASK_FAILED, "Command exited with status 1");
      });
    });
  };

  const kill = (taskId: string): void => {
    const state = tasks.get(taskId);
    if (script.kill === "ignore" || state === undefined || isTerminalState(state) || state === TaskState.TASK_KILLING)
      return;
    const killing =
      framework?.capabilities.some((c) => c.type === FrameworkInfo_Capability_Type.TASK_KILLING_STATE) ?? false;
    if (!killing) return update(taskId, TaskState.TASK_KILLED, "Command terminated with signal SIGTERM");
    update(taskId, TaskState.TASK_KILLING);
    later(() => update(taskId, TaskState.TASK_KILLED, "Command terminated with signal SIGTERM"));
  };

  const shutdown = (): void => {
    if (script.kill === "ignore") return;
    shuttingDown = true;
    for (const taskId of tasks.keys()) kill(taskId);
    finishIfDone();
  };

  /** A command executor ends with its task; any executor ends once shut down and its tasks are done. */
  const finishIfDone = (): void => {
    const states = [...tasks.values()];
    const done = states.every(isTerminalState) && unacknowledged.size === 0;
    if (!done || (deps.kind === "custom" && !shuttingDown) || (states.length === 0 && !shuttingDown)) return;
    const last = states.at(-1);
    const how =
      last === TaskState.TASK_FINISHED
        ? EXIT_OK
        : last === TaskState.TASK_FAILED
          ? EXIT_FAILED
          : shuttingDown || last === TaskState.TASK_KILLED
            ? EXIT_TERMINATED
            : EXIT_OK;
    later(() => exited(how.waitStatus, how.description));
  };

  const handle = (event: Event): void => {
    switch (event.type) {
      case Event_Type.SUBSCRIBED:
        phase = "subscribed";
        framework = event.subscribed?.frameworkInfo;
        return;
      case Event_Type.LAUNCH: {
        const taskId = event.launch?.task?.taskId?.value;
        if (taskId !== undefined && !tasks.has(taskId)) runTask(taskId);
        return;
      }
      case Event_Type.KILL:
        return kill(event.kill?.taskId?.value ?? "");
      case Event_Type.SHUTDOWN:
        return shutdown();
      case Event_Type.ACKNOWLEDGED:
        unacknowledged.delete(hex(event.acknowledged?.uuid ?? new Uint8Array()));
        return finishIfDone();
      default:
        return;
    }
  };

  const onResponse = (response: ConnectResponse): void => {
    if (response.event.case === "error") {
      const { message, fatal } = response.event.value;
      errors.push(message);
      if (fatal) later(() => exited(EXIT_FAILED.waitStatus, `refused by the agent: ${message}`));
      return;
    }
    if (response.event.case !== "executor") return;
    const event = response.event.value;
    received.push(event.type);
    later(() => handle(event));
  };

  const exited = (waitStatus: number, description: string): void => {
    if (phase === "exited") return;
    phase = "exited";
    exit = { waitStatus, description };
    for (const handle of armed) timers.clearTimeout(handle);
    armed.clear();
    session?.close();
    session = undefined;
    hooks.onExit({ frameworkId, executorId, waitStatus, description });
  };

  if (script.subscribe) {
    later(() => {
      session = hooks.openExecutorSession({ send: onResponse, end: () => (session = undefined) });
      call({ type: Call_Type.SUBSCRIBE, subscribe: {} });
    });
  }

  return {
    frameworkId,
    executorId,
    kind: deps.kind,
    launch,
    get phase() {
      return phase;
    },
    tasks,
    received,
    errors,
    get exit() {
      return exit;
    },
    update: (taskId, state, message) => update(taskId, state, message),
    exited,
    stop(graceMs) {
      if (phase === "exited") return;
      if (phase === "subscribed") later(shutdown);
      later(() => exited(EXIT_KILLED.waitStatus, EXIT_KILLED.description), graceMs);
    },
  };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
