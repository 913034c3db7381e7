/**
 * `plateau run`: like mesos-execute, a one-task framework.
 *
 *   subscribing ──SUBSCRIBED──► waiting for offer ──fits──► launched ──terminal──► done
 *        │                            │                        │  ▲
 *        └── unreachable/timeout/^C ──┴─────────► done         ^C/timeout: KILL ─┘
 *
 * Every update is printed and acknowledged; the exit status is the task's
 * (see taskExitStatus). The framework is torn down on the way out, so
 * nothing it started outlives the command.
 */

import { randomUUID } from "node:crypto";
import * as os from "node:os";
import {
  FrameworkInfo_Capability_Type,
  type Offer,
  type OfferID,
  type TaskStatus,
} from "../../gen/mesos/v1/mesos_pb.js";
import { type Event, Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createScheduler, type SchedulerClient } from "../client/scheduler.js";
import { isTerminalState } from "../core/task-lifecycle.js";
import { type CliIo, type Command, commonFlags } from "./command.js";
import { type FlagSpec, type ParsedFlags, UsageError } from "./flags.js";
import { taskExitStatus, taskStateName } from "./format.js";
import { buildTask, offerFits, parseEnv, type RunSpec } from "./run-task.js";

/** How long to wait for SUBSCRIBED before calling the master unreachable. */
const subscribeDeadlineMs = 15_000;
/** After a kill, how long to wait for the terminal update. */
const killGraceMs = 10_000;

const runFlags: FlagSpec[] = [
  commonFlags.master(),
  { name: "name", kind: "string", description: "Task and framework name (required)" },
  { name: "cpus", kind: "number", description: "CPUs for the task", default: 0.1 },
  { name: "mem", kind: "number", description: "Memory for the task, MB", default: 32 },
  { name: "disk", kind: "number", description: "Disk for the task, MB" },
  { name: "role", kind: "string", description: "Role to subscribe with", default: "*" },
  { name: "env", kind: "list", description: "Environment variable NAME=VALUE (repeatable)", placeholder: "NAME=VALUE" },
  {
    name: "shell",
    kind: "string",
    description: "Run CMD under /bin/sh -c (instead of -- ARGV...)",
    placeholder: "CMD",
  },
  { name: "timeout", kind: "number", description: "Kill the task after this many seconds", placeholder: "SECONDS" },
];

/** The RunSpec from `plateau run` flags; UsageError when incomplete. */
export function runSpecFromFlags(flags: ParsedFlags): RunSpec {
  const name = flags.string("name");
  if (name === undefined || name === "") throw new UsageError("--name is required");
  const shell = flags.string("shell");
  const argv = [...flags.positionals, ...flags.rest];
  if (shell !== undefined && argv.length > 0) throw new UsageError("give either --shell 'CMD' or -- ARGV..., not both");
  if (shell === undefined && argv.length === 0)
    throw new UsageError("nothing to run: give --shell 'CMD' or -- ARGV...");
  const needs: Record<string, number> = { cpus: flags.number("cpus") ?? 0.1, mem: flags.number("mem") ?? 32 };
  const disk = flags.number("disk");
  if (disk !== undefined) needs.disk = disk;
  return {
    name,
    needs,
    env: parseEnv(flags.list("env")),
    command: shell !== undefined ? { shell } : { argv },
  };
}

/** Options of `runTask`. */
export interface RunTaskOptions {
  master: string;
  role: string;
  spec: RunSpec;
  timeoutSeconds?: number;
  io: CliIo;
}

/** Runs one task to its end; resolves with the exit status. */
export async function runTask(options: RunTaskOptions): Promise<number> {
  const session = new RunSession(options);
  return session.done;
}

type Phase = "subscribing" | "waiting" | "launched" | "killing" | "done";

class RunSession {
  readonly done: Promise<number>;
  private phase: Phase = "subscribing";
  private finish: (code: number) => void = () => {};
  private readonly taskId: string;
  private agentId: string | undefined;
  private lastState: string | undefined;
  private lastError: Error | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly scheduler: SchedulerClient;
  private readonly offSignal: () => void;

  constructor(private readonly options: RunTaskOptions) {
    const { spec, io } = options;
    this.taskId = `${spec.name}.${randomUUID().slice(0, 8)}`;
    const finished = new Promise<number>((resolve) => (this.finish = resolve));
    this.scheduler = createScheduler({
      master: options.master,
      framework: {
        name: spec.name,
        user: os.userInfo().username,
        roles: [options.role],
        capabilities: [{ type: FrameworkInfo_Capability_Type.MULTI_ROLE }],
      },
      onEvent: (event) => this.onEvent(event),
      onError: (error) => {
        io.err(`plateau run: the master refused a call: ${error.message}\n`);
        if (error.fatal) this.end(1);
      },
      onDisconnected: (error) => {
        this.lastError = error;
      },
    });
    this.offSignal = io.onSignal(() => this.interrupt());
    this.after(subscribeDeadlineMs, () => {
      if (this.phase !== "subscribing") return;
      const why = this.lastError === undefined ? "no answer" : this.lastError.message;
      io.err(`plateau run: cannot reach the master at ${options.master}: ${why}\n`);
      this.end(1);
    });
    if (options.timeoutSeconds !== undefined) {
      this.after(options.timeoutSeconds * 1000, () => {
        io.err(`plateau run: timed out after ${options.timeoutSeconds} s\n`);
        this.stop(1);
      });
    }
    this.done = finished.then(async (code) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.offSignal();
      await this.scheduler.teardown();
      return code;
    });
  }

  private onEvent(event: Event): void {
    switch (event.type) {
      case Event_Type.SUBSCRIBED:
        return this.onSubscribed();
      case Event_Type.OFFERS:
        return this.onOffers(event.offers?.offers ?? []);
      case Event_Type.UPDATE:
        if (event.update?.status !== undefined) this.onUpdate(event.update.status);
        return;
      case Event_Type.ERROR:
        this.options.io.err(`plateau run: framework error: ${event.error?.message ?? ""}\n`);
        return this.end(1);
      default:
        return;
    }
  }

  private onSubscribed(): void {
    if (this.phase === "subscribing") {
      this.phase = "waiting";
      const needs = Object.entries(this.options.spec.needs)
        .map(([k, v]) => `${k}:${v}`)
        .join(" ");
      this.options.io.err(`framework ${this.scheduler.frameworkId ?? ""} subscribed; waiting for ${needs}\n`);
      this.after(10_000, () => {
        if (this.phase === "waiting") {
          this.options.io.err(
            `still waiting for an offer with ${needs}; is an agent with enough free resources registered?\n`,
          );
        }
      });
    } else if (this.phase === "launched" || this.phase === "killing") {
      // Failed over to a (new) master: ask for the task's latest state.
      this.scheduler.reconcile([{ taskId: this.taskId, agentId: this.agentId }]);
    }
  }

  private onOffers(offers: Offer[]): void {
    const decline: OfferID[] = [];
    for (const offer of offers) {
      if (this.phase === "waiting" && offerFits(offer, this.options.spec.needs)) {
        const task = buildTask(offer, this.options.spec, this.taskId);
        if (this.scheduler.launch(offer, [task])) {
          this.phase = "launched";
          this.agentId = offer.agentId?.value;
          continue;
        }
      }
      if (offer.id !== undefined) decline.push(offer.id);
    }
    // Short while we still look (other agents may free up), long once launched.
    if (decline.length > 0) this.scheduler.decline(decline, this.phase === "waiting" ? 2 : 300);
  }

  private onUpdate(status: TaskStatus): void {
    if (status.taskId?.value !== this.taskId) return;
    this.scheduler.acknowledge(status);
    const state = taskStateName(status.state);
    const terminal = isTerminalState(status.state);
    if (state !== this.lastState) {
      const detail = terminal && status.message !== "" ? ` (${status.message})` : "";
      this.options.io.out(`${this.options.spec.name}: ${state}${detail}\n`);
      this.lastState = state;
    }
    if (terminal) this.end(taskExitStatus(status));
  }

  /** Ctrl-C: first kills the task (if any) and waits; a second one leaves. */
  private interrupt(): void {
    if (this.phase === "killing") return this.end(130);
    this.stop(130);
  }

  private stop(codeIfNoTask: number): void {
    if (this.phase !== "launched") return this.end(codeIfNoTask);
    this.phase = "killing";
    this.options.io.err(`killing task ${this.taskId}...\n`);
    this.scheduler.kill(this.taskId, this.agentId);
    this.after(killGraceMs, () => this.end(codeIfNoTask));
  }

  private end(code: number): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.finish(code);
  }

  private after(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }
}

/** `plateau run` */
export const runCommand: Command = {
  name: "run",
  summary: "Run one command as a task and wait for it (like mesos-execute).",
  usage: "plateau run --name NAME [--cpus 0.1] [--mem 32] [--env K=V] (--shell 'CMD' | -- ARGV...)",
  flags: runFlags,
  takesArguments: true,
  run: (flags, io) =>
    runTask({
      master: flags.string("master") ?? "127.0.0.1:5050",
      role: flags.string("role") ?? "*",
      spec: runSpecFromFlags(flags),
      timeoutSeconds: flags.number("timeout"),
      io,
    }),
};
