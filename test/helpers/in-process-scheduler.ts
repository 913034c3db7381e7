/**
 * A scheduler for the in-process cluster: it records what the master sends
 * it and makes the calls a test asks for, on its one session. Like a v1
 * HTTP framework, it hears of a refused call from that call's answer, not
 * from its event stream (the cluster keeps such events off the stream, as
 * the v1 gateway does).
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Offer, Offer_Operation_Type, type TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import {
  CallSchema as SchedulerCallSchema,
  Call_Type as SchedulerCallType,
  type Event as SchedulerEvent,
  Event_Type as SchedulerEventType,
} from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import type { ConnectRequestSchema, ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import type { CallError } from "../../src/core/master/events.js";
import { parseResources } from "../../src/core/resources/index.js";

export interface ClusterScheduler {
  readonly session: string;
  /** From SUBSCRIBED; undefined until then. */
  readonly frameworkId: string | undefined;
  readonly events: readonly SchedulerEvent[];
  /** ERROR events and the refusals its calls were answered with, as messages. */
  readonly errors: readonly string[];
  /** The master ended its session. */
  readonly ended: boolean;
  /** A call on the wire (the framework id is filled in once known). */
  call(init: MessageInitShape<typeof SchedulerCallSchema>): void;
  /** Offers received and neither rescinded nor used yet. */
  offers(): Offer[];
  /** Every status update received, in order. */
  updates(): TaskStatus[];
  /** The states a task went through, as this scheduler heard them. */
  states(taskId: string): TaskState[];
  /** ACCEPTs `offer` with one LAUNCH of command tasks. */
  launch(offer: Offer, tasks: Array<{ id: string; resources?: string; command?: string }>): void;
  acknowledge(status: TaskStatus): void;
  kill(taskId: string, agentId: string): void;
  /** The cluster's end of the session. */
  readonly end: {
    deliver(response: ConnectResponse): void;
    end(error: CallError | undefined): void;
    /** The answer to one of its calls: refused with this message. */
    refused(message: string): void;
  };
}

export function createScheduler(
  session: string,
  send: (request: MessageInitShape<typeof ConnectRequestSchema>) => void,
): ClusterScheduler {
  const events: SchedulerEvent[] = [];
  const errors: string[] = [];
  const outstanding = new Map<string, Offer>();
  let frameworkId: string | undefined;
  let ended = false;

  const receive = (event: SchedulerEvent): void => {
    events.push(event);
    if (event.type === SchedulerEventType.SUBSCRIBED) frameworkId = event.subscribed?.frameworkId?.value;
    for (const offer of event.offers?.offers ?? []) outstanding.set(offer.id?.value ?? "", offer);
    if (event.type === SchedulerEventType.RESCIND) outstanding.delete(event.rescind?.offerId?.value ?? "");
    if (event.type === SchedulerEventType.ERROR) errors.push(event.error?.message ?? "");
  };

  const call = (init: MessageInitShape<typeof SchedulerCallSchema>): void => {
    const value = create(SchedulerCallSchema, init);
    if (frameworkId !== undefined) value.frameworkId = { $typeName: "mesos.v1.FrameworkID", value: frameworkId };
    send({ call: { case: "scheduler", value } });
  };

  return {
    session,
    get frameworkId() {
      return frameworkId;
    },
    events,
    errors,
    get ended() {
      return ended;
    },
    call,
    offers: () => [...outstanding.values()],
    updates: () => events.flatMap((e) => (e.update?.status === undefined ? [] : [e.update.status])),
    states(taskId) {
      return this.updates()
        .filter((s) => s.taskId?.value === taskId)
        .map((s) => s.state);
    },
    launch(offer, tasks) {
      outstanding.delete(offer.id?.value ?? "");
      call({
        type: SchedulerCallType.ACCEPT,
        accept: {
          offerIds: [offer.id ?? { value: "" }],
          operations: [
            {
              type: Offer_Operation_Type.LAUNCH,
              launch: {
                taskInfos: tasks.map((t) => ({
                  name: t.id,
                  taskId: { value: t.id },
                  agentId: offer.agentId,
                  resources: parseResources(t.resources ?? "cpus:1;mem:128"),
                  command: { value: t.command ?? "sleep 1000" },
                })),
              },
            },
          ],
        },
      });
    },
    acknowledge(status) {
      call({
        type: SchedulerCallType.ACKNOWLEDGE,
        acknowledge: { agentId: status.agentId, taskId: status.taskId, uuid: status.uuid },
      });
    },
    kill(taskId, agentId) {
      call({ type: SchedulerCallType.KILL, kill: { taskId: { value: taskId }, agentId: { value: agentId } } });
    },
    end: {
      deliver(response) {
        if (response.event.case === "scheduler") receive(response.event.value);
        else if (response.event.case === "error") errors.push(response.event.value.message);
      },
      end() {
        ended = true;
      },
      refused(message) {
        errors.push(message);
      },
    },
  };
}
