/**
 * One v1 SUBSCRIBE's stream, from the call until its response closes: how
 * the core's events for the session become v1 events on the HTTP response,
 * and which refusals stay out of it because a call awaits them.
 */
import { create } from "@bufbuild/protobuf";
import { type Event, Event_Type, EventSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import type { ConnectResponse } from "../../gen/mesos/v2/mesos_pb.js";
import { ErrorCode } from "../core/master/events.js";
import type { Logger } from "../log.js";
import { encodeMessage, type Media } from "./media.js";
import type { RecordStream } from "./record-stream.js";
import type { SessionSink } from "./sessions.js";

export interface Subscription {
  readonly streamId: string;
  session: string;
  frameworkId: string | undefined;
  /** Ids of this session's calls whose callers await their refusals: those never become events. */
  readonly pending: Set<string>;
  /** Events produced before the answer's headers went out. */
  readonly early: Event[];
  out: RecordStream | undefined;
  readonly media: Media;
  ended: boolean;
  lastWasError: boolean;
}

export interface SubscriptionHooks {
  /** Fills in what a v1 event needs that the core leaves out; returns a new event. */
  decorate?: (event: Event) => Event;
  /** The core named the framework this stream belongs to (SUBSCRIBED). */
  subscribed(sub: Subscription): void;
  /** The stream is over (the core ended it). */
  finished(sub: Subscription): void;
  logger: Logger;
}

export function createSubscription(streamId: string, media: Media): Subscription {
  return {
    streamId,
    session: "",
    frameworkId: undefined,
    pending: new Set(),
    early: [],
    out: undefined,
    media,
    ended: false,
    lastWasError: false,
  };
}

export const errorEventOf = (message: string): Event =>
  create(EventSchema, { type: Event_Type.ERROR, error: { message } });

/** Writes one event, or holds it until the answer's headers are out. */
export function emit(sub: Subscription, original: Event, hooks: SubscriptionHooks): void {
  const event = hooks.decorate?.(original) ?? original;
  sub.lastWasError = event.type === Event_Type.ERROR;
  if (sub.out === undefined) sub.early.push(event);
  else sub.out.write(encodeMessage(EventSchema, event, sub.media));
}

/** Starts writing: the events held so far go out first. */
export function startWriting(sub: Subscription, out: RecordStream): void {
  sub.out = out;
  for (const event of sub.early.splice(0)) out.write(encodeMessage(EventSchema, event, sub.media));
}

/** The sink the session table writes this subscription's events to. */
export function subscriptionSink(sub: Subscription, hooks: SubscriptionHooks): SessionSink {
  return {
    send: (response) => deliver(sub, response, hooks),
    end: (error) => {
      // v1 libraries treat ERROR as fatal: say why a refused call ends the
      // stream, but a master going away (or dropping a slow reader) just
      // closes it, as Mesos does, so the scheduler reconnects.
      if (error !== undefined && error.code !== ErrorCode.UNAVAILABLE && !sub.lastWasError)
        emit(sub, errorEventOf(error.message), hooks);
      sub.ended = true;
      hooks.finished(sub);
      sub.out?.end();
    },
    get backlog() {
      return sub.out?.backlog ?? 0;
    },
  };
}

function deliver(sub: Subscription, response: ConnectResponse, hooks: SubscriptionHooks): void {
  const event = response.event;
  if (event.case === "error") {
    // v1 libraries take an ERROR event as the end of the framework, so
    // only an error that ends the stream becomes one, and it is written
    // here, once, whoever's call it refused: the stream's end that follows
    // sees it was the last event and adds nothing. A call's other refusals
    // are its caller's answer (202 or 4xx).
    if (event.value.fatal) emit(sub, errorEventOf(event.value.message), hooks);
    else if (sub.pending.has(response.callId)) return;
    else
      hooks.logger.debug(
        { session: sub.session, message: event.value.message },
        "master reported an error outside a call",
      );
    return;
  }
  if (event.case !== "scheduler") return;
  if (event.value.type === Event_Type.SUBSCRIBED) {
    sub.frameworkId = event.value.subscribed?.frameworkId?.value;
    hooks.subscribed(sub);
  }
  emit(sub, event.value, hooks);
}
