/**
 * A plain v1 HTTP scheduler, written as a third-party Mesos framework would
 * be: one SUBSCRIBE request whose response is the RecordIO event stream, and
 * every other call (ACCEPT, DECLINE, ACKNOWLEDGE, TEARDOWN) a JSON POST with
 * the Mesos-Stream-Id header on a small pool of keep-alive connections. No
 * Plateau client code: JSON built and read by hand.
 *
 *   SUBSCRIBE ──SUBSCRIBED──► OFFERS ──ACCEPT (tasks packed)──► UPDATE ──ACKNOWLEDGE──► ... all terminal
 */
import * as http from "node:http";
import * as os from "node:os";
import { createRecordDecoder } from "../src/gateway/recordio.js";

type Json = Record<string, unknown>;
interface JsonResource {
  name: string;
  type?: string;
  scalar?: { value: number };
  [more: string]: unknown;
}
interface JsonOffer {
  id: Json;
  agent_id: Json;
  resources: JsonResource[];
}
interface JsonStatus {
  task_id: { value: string };
  state: string;
  agent_id?: Json;
  uuid?: string;
  message?: string;
}

const TERMINAL = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** What one v1 run measured. */
export interface V1Run {
  finished: number;
  failed: number;
  accepts: number;
  firstAcceptAt: bigint | undefined;
  firstRunningAt: bigint | undefined;
  allTerminalAt: bigint | undefined;
  problems: string[];
}

/** Takes tasks needing `needs` out of `offer` while they fit; copies of the offer's entries keep role and allocation info. */
function pack(offer: JsonOffer, pending: string[], needs: Record<string, number>, argv: string[]): Json[] {
  const left = offer.resources.map((r) => ({ r, left: r.scalar?.value ?? 0 }));
  const total = (name: string) => left.filter((s) => s.r.name === name).reduce((a, s) => a + s.left, 0);
  const tasks: Json[] = [];
  while (pending.length > 0 && Object.entries(needs).every(([n, v]) => total(n) + 1e-9 >= v)) {
    const id = pending.shift() as string;
    const resources: JsonResource[] = [];
    for (const [name, amount] of Object.entries(needs)) {
      let want = amount;
      for (const slot of left) {
        if (slot.r.name !== name || want <= 1e-9 || slot.left <= 0) continue;
        const part = round3(Math.min(want, slot.left));
        resources.push({ ...slot.r, scalar: { value: part } });
        slot.left = round3(slot.left - part);
        want = round3(want - part);
      }
    }
    tasks.push({
      name: id,
      task_id: { value: id },
      agent_id: offer.agent_id,
      resources,
      command: { shell: false, value: argv[0], arguments: argv },
    });
  }
  return tasks;
}

/**
 * Runs `count` tasks of `argv` through the v1 scheduler API of the master
 * on `port`; resolves once all are terminal, rejects after `timeoutMs`.
 */
export function runV1Framework(
  port: number,
  count: number,
  template: { argv: string[]; needs: Record<string, number> },
  timeoutMs: number,
): Promise<V1Run> {
  const run: V1Run = {
    finished: 0,
    failed: 0,
    accepts: 0,
    firstAcceptAt: undefined,
    firstRunningAt: undefined,
    allTerminalAt: undefined,
    problems: [],
  };
  const pending = Array.from({ length: count }, (_, i) => `true-${i}`);
  const states = new Map<string, string>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let streamId = "";
  let frameworkId: Json | undefined;
  const note = (p: string) => {
    if (run.problems.length < 5) run.problems.push(p);
  };

  /** Calls not yet answered: TEARDOWN waits for them, so no ACKNOWLEDGE races it. */
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const call = (body: Json): void => {
    inFlight++;
    const answered = () => {
      if (--inFlight === 0) drained?.();
    };
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/api/v1/scheduler",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "mesos-stream-id": streamId },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 202) note(`${body.type} answered ${res.statusCode}: ${Buffer.concat(chunks)}`);
          answered();
        });
      },
    );
    req.on("error", (e) => {
      note(`${body.type} failed: ${e.message}`);
      answered();
    });
    req.end(JSON.stringify({ framework_id: frameworkId, ...body }));
  };

  const onOffers = (offers: JsonOffer[]): void => {
    for (const offer of offers) {
      const tasks = pack(offer, pending, template.needs, template.argv);
      if (tasks.length === 0) {
        const refuse = pending.length > 0 ? 1 : 600;
        call({ type: "DECLINE", decline: { offer_ids: [offer.id], filters: { refuse_seconds: refuse } } });
        continue;
      }
      run.firstAcceptAt ??= process.hrtime.bigint();
      run.accepts++;
      call({
        type: "ACCEPT",
        accept: { offer_ids: [offer.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }] },
      });
    }
  };

  const onUpdate = (status: JsonStatus): void => {
    if (status.uuid !== undefined)
      call({
        type: "ACKNOWLEDGE",
        acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
      });
    const id = status.task_id.value;
    const before = states.get(id);
    if (before !== undefined && TERMINAL.has(before)) return;
    states.set(id, status.state);
    if (status.state === "TASK_RUNNING") run.firstRunningAt ??= process.hrtime.bigint();
    if (!TERMINAL.has(status.state)) return;
    if (status.state === "TASK_FINISHED") run.finished++;
    else {
      run.failed++;
      note(`${id}: ${status.state} ${status.message ?? ""}`);
    }
    if (run.finished + run.failed === count) run.allTerminalAt ??= process.hrtime.bigint();
  };

  return new Promise<V1Run>((resolve, reject) => {
    let req: http.ClientRequest | undefined;
    let ended = false;
    const finish = (err?: Error): void => {
      req?.destroy();
      agent.destroy();
      if (err === undefined) resolve(run);
      else reject(err);
    };
    // TEARDOWN, awaited, so the master kills what is left before the agent stops.
    const teardown = (err?: Error): void => {
      const call = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/api/v1/scheduler",
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "mesos-stream-id": streamId },
        },
        (res) => res.resume().on("end", () => finish(err)),
      );
      call.on("error", () => finish(err));
      call.end(JSON.stringify({ framework_id: frameworkId, type: "TEARDOWN" }));
    };
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      if (frameworkId === undefined) return finish(err);
      // Acknowledgements still on their way would race the TEARDOWN.
      if (inFlight > 0 && err === undefined) drained = () => teardown();
      else teardown(err);
    };
    const timer = setTimeout(
      () =>
        end(
          new Error(`v1: gave up after ${timeoutMs / 1000} s (${run.finished} finished, ${pending.length} unlaunched)`),
        ),
      timeoutMs,
    );
    const decoder = createRecordDecoder();
    req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/api/v1/scheduler",
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
      },
      (res) => {
        if (res.statusCode !== 200) return end(new Error(`SUBSCRIBE answered ${res.statusCode}`));
        streamId = String(res.headers["mesos-stream-id"]);
        res.on("data", (chunk: Buffer) => {
          for (const record of decoder.push(chunk)) {
            const event = JSON.parse(Buffer.from(record).toString("utf8")) as Json;
            if (event.type === "SUBSCRIBED") frameworkId = (event.subscribed as Json).framework_id as Json;
            else if (event.type === "OFFERS") onOffers((event.offers as { offers: JsonOffer[] }).offers);
            else if (event.type === "UPDATE") onUpdate((event.update as { status: JsonStatus }).status);
            else if (event.type === "ERROR") note(`framework error: ${JSON.stringify(event.error)}`);
          }
          if (run.allTerminalAt !== undefined) end();
        });
        res.on("close", () => {
          if (run.allTerminalAt === undefined) end(new Error("v1: the event stream ended"));
        });
      },
    );
    req.on("error", (e) => end(e));
    req.end(
      JSON.stringify({
        type: "SUBSCRIBE",
        subscribe: { framework_info: { user: os.userInfo().username, name: "launch-bench-v1" } },
      }),
    );
  });
}
