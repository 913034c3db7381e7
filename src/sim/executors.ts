/**
 * The executors of one agent incarnation, as a tiny model: each subscribes
 * after a while, runs the tasks it is given (STARTING, RUNNING, then
 * perhaps FINISHED or FAILED after a while), obeys KILL and SHUTDOWN, and
 * exits once its task ended (a command executor runs one task) or when the
 * agent stops it. Everything it says goes into the real agent core.
 */
import { create } from "@bufbuild/protobuf";
import { Event_Type, type Event as ExecutorEvent } from "../../gen/mesos/v1/executor/executor_pb.js";
import { TaskState, TaskStatus_Source, TaskStatusSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { AgentCore, AgentEffect, ExecutorLaunch } from "../core/agent/agent-core.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import type { EventQueue } from "./event-queue.js";
import type { Rng } from "./rng.js";

/** What the checker hears from executors. */
export interface ExecutorObserver {
  /** A task reached an executor (LAUNCH): it runs now. */
  launched(agent: string, frameworkId: string, taskId: string): void;
  /** The agent core took an executor's update into its stream: it owns delivery from now on. */
  updateTaken(agent: string, frameworkId: string, taskId: string, uuid: Uint8Array, state: TaskState): void;
}

export interface ExecutorModel {
  launch(launch: ExecutorLaunch): void;
  deliver(frameworkId: string, executorId: string, event: ExecutorEvent): void;
  stop(frameworkId: string, executorId: string, graceMs: number): void;
  /** The tasks running in executors now (launched, not ended, executor not exited), as `framework/task`. */
  running(): string[];
}

interface SimExecutor {
  frameworkId: string;
  executorId: string;
  exited: boolean;
  /** Task ids and whether each has ended. */
  tasks: Map<string, boolean>;
}

export interface ExecutorModelDeps {
  agent: string;
  core: AgentCore;
  queue: EventQueue;
  rng: Rng;
  /** False once this agent incarnation crashed: its executors vanish with it. */
  alive(): boolean;
  apply(effects: AgentEffect[]): void;
  observer: ExecutorObserver;
}

export function createExecutorModel(deps: ExecutorModelDeps): ExecutorModel {
  const { core, queue, rng } = deps;
  const executors = new Map<string, SimExecutor>();
  const later = (min: number, max: number, label: string, run: () => void): void =>
    queue.after(rng.int(min, max), `${deps.agent} ${label}`, () => {
      if (deps.alive()) run();
    });

  const exit = (executor: SimExecutor, status: number, description: string): void => {
    if (executor.exited) return;
    executor.exited = true;
    executors.delete(`${executor.frameworkId}/${executor.executorId}`);
    deps.apply(core.executorExited(executor.frameworkId, executor.executorId, { status, description }, queue.now));
  };

  const update = (executor: SimExecutor, taskId: string, state: TaskState): void => {
    if (executor.exited || executor.tasks.get(taskId) !== false) return;
    if (isTerminalState(state)) executor.tasks.set(taskId, true);
    const uuid = rng.uuid();
    const status = create(TaskStatusSchema, {
      taskId: { value: taskId },
      state,
      source: TaskStatus_Source.EXECUTOR,
      uuid,
      timestamp: queue.now / 1000,
    });
    const { frameworkId, executorId } = executor;
    const result = core.executorUpdate(frameworkId, executorId, status, queue.now);
    const latest = core.state.updates.latest(frameworkId, taskId);
    if (result.error === undefined && latest !== undefined && equalBytes(latest.uuid, uuid))
      deps.observer.updateTaken(deps.agent, frameworkId, taskId, uuid, state);
    deps.apply(result.effects);
    if (isTerminalState(state))
      later(20, 300, `executor ${executorId} exits`, () => exit(executor, 0, "exited with status 0"));
  };

  /** A task's life: it starts, runs, and ends by itself after a while, or runs until killed. */
  const run = (executor: SimExecutor, taskId: string): void => {
    executor.tasks.set(taskId, false);
    deps.observer.launched(deps.agent, executor.frameworkId, taskId);
    if (rng.chance(0.5))
      later(5, 200, `task ${taskId} starting`, () => update(executor, taskId, TaskState.TASK_STARTING));
    later(200, 600, `task ${taskId} running`, () => update(executor, taskId, TaskState.TASK_RUNNING));
    if (rng.chance(0.35)) return;
    const ends = rng.chance(0.8) ? TaskState.TASK_FINISHED : TaskState.TASK_FAILED;
    later(1_000, 60_000, `task ${taskId} ends`, () => update(executor, taskId, ends));
  };

  const killAll = (executor: SimExecutor): void => {
    for (const [taskId, ended] of executor.tasks) if (!ended) update(executor, taskId, TaskState.TASK_KILLED);
    later(20, 300, `executor ${executor.executorId} shuts down`, () => exit(executor, 0, "exited with status 0"));
  };

  return {
    launch(launch) {
      const executor: SimExecutor = {
        frameworkId: launch.frameworkId,
        executorId: launch.executorId,
        exited: false,
        tasks: new Map(),
      };
      executors.set(`${launch.frameworkId}/${launch.executorId}`, executor);
      if (rng.chance(0.03)) {
        later(10, 500, `executor ${launch.executorId} fails to launch`, () =>
          exit(executor, 256, "failed to launch: simulated"),
        );
        return;
      }
      later(10, 500, `executor ${launch.executorId} subscribes`, () => {
        if (executor.exited) return;
        const result = core.executorSubscribed(launch.frameworkId, launch.executorId, undefined, queue.now);
        deps.apply(result.effects);
      });
    },
    deliver(frameworkId, executorId, event) {
      const executor = executors.get(`${frameworkId}/${executorId}`);
      if (executor === undefined || executor.exited) return;
      // The executor's stream is local and in order: it acts a moment later.
      later(1, 50, `executor ${executorId} reads ${Event_Type[event.type]}`, () => {
        if (executor.exited) return;
        if (event.type === Event_Type.LAUNCH) {
          const taskId = event.launch?.task?.taskId?.value ?? "";
          if (taskId !== "") run(executor, taskId);
        } else if (event.type === Event_Type.KILL) {
          const taskId = event.kill?.taskId?.value ?? "";
          later(10, 300, `task ${taskId} killed`, () => update(executor, taskId, TaskState.TASK_KILLED));
        } else if (event.type === Event_Type.SHUTDOWN) {
          killAll(executor);
        }
      });
    },
    running: () =>
      [...executors.values()].flatMap((e) =>
        e.exited ? [] : [...e.tasks].flatMap(([taskId, ended]) => (ended ? [] : [`${e.frameworkId}/${taskId}`])),
      ),
    stop(frameworkId, executorId, graceMs) {
      const executor = executors.get(`${frameworkId}/${executorId}`);
      if (executor === undefined) return;
      queue.after(Math.max(1, graceMs), `${deps.agent} stops executor ${executorId}`, () => {
        if (deps.alive()) exit(executor, 9, "terminated with signal SIGKILL");
      });
    },
  };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
