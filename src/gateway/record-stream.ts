import type { ServerResponse } from "node:http";
import { encodeRecord } from "./recordio.js";

/** The write side of one streamed (RecordIO) answer. */
export interface RecordStream {
  /** Frames and writes one record in a single write (one HTTP chunk). */
  write(record: Uint8Array): void;
  end(): void;
  /** Records written since the socket's buffer filled up: how far the client lags. */
  readonly backlog: number;
  readonly ended: boolean;
}

/** Sends the headers at once (so the client sees 200 before the first event) and streams records. */
export function startRecordStream(res: ServerResponse, headers: Record<string, string>): RecordStream {
  res.writeHead(200, { ...headers, "cache-control": "no-cache" });
  res.flushHeaders();
  let backlog = 0;
  let ended = false;
  res.on("drain", () => (backlog = 0));
  res.once("close", () => (ended = true));
  return {
    write(record) {
      if (ended) return;
      if (!res.write(encodeRecord(record))) backlog++;
    },
    end() {
      if (ended) return;
      ended = true;
      res.end();
    },
    get backlog() {
      return backlog;
    },
    get ended() {
      return ended;
    },
  };
}
