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
export function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: (string | Uint8Array)[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: options.method ?? "POST", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    for (const chunk of options.body ?? []) req.write(chunk);
    req.end();
  });
}

export const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  body: [JSON.stringify(body)],
});

/** A subscribed v1 scheduler: the streamed events as they arrive, and the stream's headers. */
export interface Stream {
  status: number;
  headers: http.IncomingHttpHeaders;
  records: Buffer[];
  ended: boolean;
  close(): void;
}

export function subscribe(
  port: number,
  headers: Record<string, string>,
  body: string | Uint8Array,
  path = "/api/v1/scheduler",
): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent: false }, (res) => {
      const decoder = createRecordDecoder();
      const stream: Stream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        records: [],
        ended: false,
        close: () => req.destroy(),
      };
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

/**
 * Subscribes a v1 framework and runs two tasks through it: `done` (finishes)
 * and `sleeper` (keeps running), acknowledging every update, so that the
 * master's views have a live and a completed task to show.
 */
export async function startFrameworkWithTasks(
  port: number,
  framework: Json,
  sleeperCommand = "sleep 60",
): Promise<{ stream: Stream; frameworkId: string }> {
  const stream = await subscribe(
    port,
    { "content-type": "application/json" },
    JSON.stringify({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "test", ...framework } } }),
  );
  const frameworkId = ((await eventOf(stream, "SUBSCRIBED")).subscribed as { framework_id: { value: string } })
    .framework_id.value;
  const offer = ((await eventOf(stream, "OFFERS")).offers as { offers: { id: unknown; agent_id: unknown }[] })
    .offers[0];
  if (offer === undefined) throw new Error("OFFERS without an offer");
  const streamId = String(stream.headers["mesos-stream-id"]);
  const call = (body: Json) =>
    request(port, "/api/v1/scheduler", {
      headers: { "content-type": "application/json", "mesos-stream-id": streamId },
      body: [JSON.stringify({ framework_id: { value: frameworkId }, ...body })],
    });
  const resources = (ports: number) => [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
    { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: ports, end: ports }] } },
  ];
  const task = (id: string, command: string, ports: number) => ({
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    command: { value: command },
    resources: resources(ports),
  });
  const launch = {
    type: "LAUNCH",
    launch: { task_infos: [task("done", "true", 31000), task("sleeper", sleeperCommand, 31001)] },
  };
  const accepted = await call({ type: "ACCEPT", accept: { offer_ids: [offer.id], operations: [launch] } });
  if (accepted.status !== 202) throw new Error(`ACCEPT answered ${accepted.status}: ${accepted.body.toString()}`);
  const reached = new Set<string>();
  for (let seen = 0; !(reached.has("done/TASK_FINISHED") && reached.has("sleeper/TASK_RUNNING")); seen++) {
    const update = await eventually(
      () => events(stream).filter((e) => e.type === "UPDATE")[seen],
      `update ${seen + 1}`,
    );
    const status = (
      update.update as { status: { state: string; agent_id: unknown; task_id: { value: string }; uuid: string } }
    ).status;
    reached.add(`${status.task_id.value}/${status.state}`);
    await call({
      type: "ACKNOWLEDGE",
      acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
    });
  }
  return { stream, frameworkId };
}
