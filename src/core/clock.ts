/**
 * Time as the core sees it. The core never reads the system clock: the shell
 * passes `now` (milliseconds since the epoch) into every handler, and tests
 * advance a number instead of sleeping.
 */
import { create } from "@bufbuild/protobuf";
import { type TimeInfo, TimeInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";

export type Millis = number;

/** Seconds since the epoch, as Mesos puts in TaskStatus.timestamp. */
export function toSeconds(now: Millis): number {
  return now / 1000;
}

/** A moment as Mesos' TimeInfo (nanoseconds since the epoch). */
export function toTimeInfo(at: Millis): TimeInfo {
  return create(TimeInfoSchema, { nanoseconds: BigInt(Math.round(at)) * 1_000_000n });
}

/** A source of ids, injected so that tests get predictable ones. */
export interface IdSource {
  next(prefix: string): string;
}

/** Ids made of a fixed prefix and a counter: deterministic, for tests. */
export function createCounterIds(seed = "test"): IdSource {
  let n = 0;
  return { next: (prefix) => `${seed}-${prefix}-${++n}` };
}
