/** A bare v1 HTTP client for the gateway tests: what a framework or tool written against Mesos sends. */
import * as http from "node:http";
import { createRecordDecoder } from "../../src/gateway/recordio.js";
import { eventually } from "../helpers/processes.js";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Json = Record<string, unknown>;

/** One v1 request; `body` chunks are written separately, so several chunks make a chunked body. */
export function request(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: (string | Uint8Array)[] } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: options.method ?? "POST", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    for (const chunk of options.body ?? []) req.write(chunk);
    req.end();
  });
}

export const json = (body: unknown) => ({ headers: { "content-type": "application/json" }, body: [JSON.stringify(body)] });

/** A subscribed v1 scheduler: the streamed events as they arrive, and the stream's headers. */
export interface Stream {
  status: number;
  headers: http.IncomingHttpHeaders;
  records: Buffer[];
  ended: boolean;
  close(): void;
}

export function subscribe(port: number, headers: Record<string, string>, body: string | Uint8Array, path = "/api/v1/scheduler"): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent: false }, (res) => {
      const decoder = createRecordDecoder();
      const stream: Stream = { status: res.statusCode ?? 0, headers: res.headers, records: [], ended: false, close: () => req.destroy() };
      res.on("data", (c: Buffer) => {
        if (stream.status === 200) stream.records.push(...decoder.push(c).map((r) => Buffer.from(r)));
        else stream.records.push(c);
      });
      res.on("close", () => (stream.ended = true));
      resolve(stream);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const events = (stream: Stream): Json[] => stream.records.map((r) => JSON.parse(r.toString()) as Json);
export const eventOf = (stream: Stream, type: string, where: (e: Json) => boolean = () => true) =>
  eventually(() => events(stream).find((e) => e.type === type && where(e)), `a ${type} event`);

