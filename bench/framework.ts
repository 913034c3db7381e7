/**
 * The benchmark's framework: a scheduler (src/client) that launches `count`
 * identical tasks, packing as many into each offer as fit, acknowledges every
 * update and records when the first ACCEPT went out and when the last task
 * reached a terminal state.
 *
 *   subscribing ──OFFERS──► launching (ACCEPT per offer) ──all terminal──► done
 *                                  │ tasks left over: wait for the next offer
 */
import * as os from "node:os";
import { FrameworkInfo_Capability_Type, type Offer, TaskState, type TaskStatus } from "../gen/mesos/v1/mesos_pb.js";
import { type Event, Event_Type } from "../gen/mesos/v1/scheduler/scheduler_pb.js";
import { taskStateName } from "../src/cli/format.js";
import { createScheduler, type SchedulerClient } from "../src/client/scheduler.js";
import { isTerminalState } from "../src/core/task-lifecycle.js";
import { packTasks, type TaskTemplate } from "./pack.js";

/** How long the framework waits for a condition before giving up. */
export const WAIT_LIMIT_MS = 60_000;

/** A framework that runs `count` copies of `template`. */
export class BenchFramework {
  /** When the first ACCEPT was sent (hrtime ns). */
  firstAcceptAt: bigint | undefined;
  /** When the first TASK_RUNNING arrived (hrtime ns): the executor's cold start. */
  firstRunningAt: bigint | undefined;
  /** When the last task reached a terminal state (hrtime ns). */
  allTerminalAt: bigint | undefined;
  readonly states = new Map<string, TaskState>();
  finished = 0;
  failed = 0;
  /** ACCEPTs sent (offers used). */
  accepts = 0;
  /** The first few reasons tasks failed or calls were refused. */
  readonly problems: string[] = [];
  /** Set when the framework cannot go on (stream lost, fatal error): waits end at once. */
  private fatal: string | undefined;
  private readonly pending: string[];
  private readonly scheduler: SchedulerClient;
  private readonly listeners = new Set<() => void>();

  constructor(
    master: string,
    private readonly template: TaskTemplate,
    private readonly count: number,
  ) {
    this.pending = Array.from({ length: count }, (_, i) => `${template.namePrefix}-${i}`);
    this.scheduler = createScheduler({
      master,
      framework: {
        name: `bench-${template.namePrefix}`,
        user: os.userInfo().username,
        roles: ["*"],
        capabilities: [{ type: FrameworkInfo_Capability_Type.MULTI_ROLE }],
      },
      onEvent: (event) => this.onEvent(event),
      onError: (error) => {
        this.note(`master refused a call: ${error.message}`);
        if (error.fatal) this.stop(`the master ended the stream: ${error.message}`);
      },
      onDisconnected: (error) =>
        this.stop(`the scheduler stream ended${error === undefined ? "" : `: ${error.message}`}`),
      // A benchmark measures one uninterrupted run; a drop ends it.
      reconnect: false,
    });
  }

  /** Tasks not yet launched. */
  get unlaunched(): number {
    return this.pending.length;
  }

  /** How many tasks are in `state` now. */
  countIn(state: TaskState): number {
    let n = 0;
    for (const s of this.states.values()) if (s === state) n++;
    return n;
  }

  /** Resolves once `condition()` holds; rejects after `timeoutMs` with `what` and the state counts. */
  waitUntil(condition: () => boolean, what: string, timeoutMs = WAIT_LIMIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.fatal !== undefined) {
          done();
          reject(new Error(`${this.fatal} while waiting for ${what} (${this.summary()})`));
        } else if (condition()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what} (${this.summary()})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  /** A line of counts by state, for errors and the report. */
  summary(): string {
    const counts = new Map<string, number>();
    for (const s of this.states.values()) counts.set(taskStateName(s), (counts.get(taskStateName(s)) ?? 0) + 1);
    const parts = [...counts].map(([name, n]) => `${name} ${n}`);
    if (this.pending.length > 0) parts.push(`unlaunched ${this.pending.length}`);
    return parts.join(", ") || "no updates";
  }

  /** Tears the framework down (the master kills its tasks) and closes the stream. */
  async teardown(): Promise<void> {
    await this.scheduler.teardown();
  }

  private onEvent(event: Event): void {
    switch (event.type) {
      case Event_Type.OFFERS:
        this.onOffers(event.offers?.offers ?? []);
        break;
      case Event_Type.UPDATE:
        if (event.update?.status !== undefined) this.onUpdate(event.update.status);
        break;
      case Event_Type.ERROR:
        this.note(`framework error: ${event.error?.message ?? ""}`);
        break;
      default:
        return;
    }
    for (const listener of [...this.listeners]) listener();
  }

  private onOffers(offers: Offer[]): void {
    for (const offer of offers) {
      const tasks = packTasks(offer, this.pending, this.template);
      if (tasks.length > 0) {
        this.firstAcceptAt ??= process.hrtime.bigint();
        this.accepts++;
        if (!this.scheduler.launch(offer, tasks)) {
          this.note("ACCEPT could not be sent (stream not connected)");
          for (const task of tasks) if (task.taskId !== undefined) this.pending.unshift(task.taskId.value);
        }
      } else if (offer.id !== undefined) {
        // Nothing (more) to launch: keep the offer away while tasks run.
        this.scheduler.decline([offer.id], this.pending.length > 0 ? 1 : 600);
      }
    }
  }

  private onUpdate(status: TaskStatus): void {
    this.scheduler.acknowledge(status);
    const id = status.taskId?.value;
    if (id === undefined) return;
    const before = this.states.get(id);
    if (before !== undefined && isTerminalState(before)) return;
    this.states.set(id, status.state);
    if (status.state === TaskState.TASK_RUNNING) this.firstRunningAt ??= process.hrtime.bigint();
    if (!isTerminalState(status.state)) return;
    if (status.state === TaskState.TASK_FINISHED) this.finished++;
    else {
      this.failed++;
      this.note(`${id}: ${taskStateName(status.state)} ${status.message}`);
    }
    if (this.finished + this.failed === this.count) this.allTerminalAt ??= process.hrtime.bigint();
  }

  private stop(reason: string): void {
    this.fatal ??= reason;
    for (const listener of [...this.listeners]) listener();
  }

  private note(problem: string): void {
    if (this.problems.length < 5) this.problems.push(problem);
  }
}
