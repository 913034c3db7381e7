/**
 * One large JSON document (/master/state) served to every reader that asks
 * for it at about the same time, from one rendering, streamed as it is
 * built (json-stream.ts).
 *
 *   GET ──► waiting ──(no rendering running: on the next turn)──► rendering
 *             ▲                                                    │ each chunk written to
 *             │ GETs arriving meanwhile wait for the next one      │ every reader, then the
 *             └────────────────────────────────────────────────────┘ slowest one drains
 *
 * Why batch: twenty dashboards polling a large cluster's state would render
 * it twenty times over; Mesos batches parallel /state requests the same way.
 * A reader that arrives mid-rendering waits for the next one rather than
 * join late, so every answer is one whole document from one moment.
 *
 * Backpressure: a chunk goes out once every reader drained the last one
 * (a reader whose connection closes is dropped), so memory holds one chunk
 * whatever the readers' speed; the slowest reader of a batch sets its pace.
 */
import type { ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import { answerError, GatewayError } from "./errors.js";
import { jsonChunks, type StreamedValue } from "./json-stream.js";
import { APPLICATION_JSON } from "./media.js";

/** A JSONP callback name Mesos' endpoints would take; anything else is ignored rather than echoed. */
const CALLBACK = /^[A-Za-z_$][\w$.]*$/;

interface Reader {
  res: ServerResponse;
  /** The JSONP callback, when asked for and valid. */
  callback: string | undefined;
  done(): void;
}

export interface JsonBroadcast {
  /** Answers GET `res` (JSONP when `jsonp` names a callback) with the next rendering; resolves once written. */
  serve(res: ServerResponse, jsonp: string | null): Promise<void>;
}

/** Resolves once `res` can take more, or is closed. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

const open = (reader: Reader): boolean => !reader.res.destroyed && !reader.res.writableEnded;

async function write(document: StreamedValue, readers: Reader[]): Promise<void> {
  for (const r of readers) {
    r.res.writeHead(200, { "content-type": r.callback === undefined ? APPLICATION_JSON : "text/javascript" });
    if (r.callback !== undefined) r.res.write(`${r.callback}(`);
  }
  for (const chunk of jsonChunks(document)) {
    const live = readers.filter(open);
    if (live.length === 0) return;
    const slow = live.filter((r) => !r.res.write(chunk));
    if (slow.length > 0) await Promise.all(slow.map((r) => drained(r.res)));
  }
  for (const r of readers) if (open(r)) r.res.end(r.callback === undefined ? undefined : ");");
}

/** `render` takes its snapshot when called: once per batch, just before the batch's first byte. */
export function createJsonBroadcast(render: () => StreamedValue, logger: Logger): JsonBroadcast {
  let waiting: Reader[] = [];
  let rendering = false;

  const runBatch = async (): Promise<void> => {
    const readers = waiting;
    waiting = [];
    let document: StreamedValue;
    try {
      document = render();
    } catch (err) {
      const error = err instanceof GatewayError ? err : new GatewayError(500, String(err));
      for (const r of readers) answerError(r.res, error);
      return;
    }
    try {
      await write(document, readers);
    } catch (err) {
      // Headers are out: all a reader can be told is that the body broke off.
      logger.error({ err }, "writing a streamed JSON document failed (a bug)");
      for (const r of readers) r.res.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      for (const r of readers) r.done();
    }
  };

  const next = (): void => {
    if (rendering || waiting.length === 0) return;
    rendering = true;
    // On the next turn, so readers whose requests were read in this one join the batch.
    setImmediate(() => {
      // runBatch settles its readers itself and never rejects.
      void runBatch().finally(() => {
        rendering = false;
        next();
      });
    });
  };

  return {
    serve(res, jsonp) {
      const callback = jsonp !== null && CALLBACK.test(jsonp) ? jsonp : undefined;
      return new Promise<void>((done) => {
        waiting.push({ res, callback, done });
        next();
      });
    },
  };
}
