/**
 * A deliberately lean client of `MesosService.Connect` for the stream
 * benchmark: one bidi stream, a request queue, and a map from call id to the
 * waiting caller. Both targets (the bare echo server and the master) are
 * measured through this same client, so any difference between them is the
 * server's. (src/client/stream.ts adds reconnects and a timer per call; it is
 * the right client for applications, not for measuring the server.)
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { type ConnectRequest, type ConnectResponse, MesosService } from "../gen/mesos/v2/mesos_pb.js";
import { createAsyncQueue } from "../src/util/async-queue.js";

/** One open stream; `call` resolves with the answer carrying the request's id. */
export interface BenchStream {
  call(request: ConnectRequest): Promise<ConnectResponse>;
  /** Number of answers received so far (the stall watchdog reads it). */
  readonly answered: number;
  close(): Promise<void>;
}

interface Waiter {
  resolve: (response: ConnectResponse) => void;
  reject: (error: Error) => void;
}

/** If no answer arrives for this long while calls are pending, the stream is aborted. */
const STALL_MS = 10_000;

/**
 * Opens a stream to `baseUrl` whose first message is `hello`, and resolves
 * once the answer to the hello has arrived (the stream is then bound to its
 * role on the server).
 */
export async function openBenchStream(baseUrl: string, hello: ConnectRequest): Promise<BenchStream> {
  const sessions = new Http2SessionManager(baseUrl);
  const client = createClient(MesosService, createGrpcTransport({ baseUrl, sessionManager: sessions }));
  const queue = createAsyncQueue<ConnectRequest>();
  const abort = new AbortController();
  const waiting = new Map<string, Waiter>();
  let answered = 0;
  let ended: Error | undefined;

  const failAll = (error: Error): void => {
    ended ??= error;
    for (const waiter of waiting.values()) waiter.reject(error);
    waiting.clear();
  };

  const reader = (async () => {
    try {
      for await (const response of client.connect(queue, { signal: abort.signal })) {
        answered++;
        const waiter = waiting.get(response.callId);
        if (waiter === undefined) continue;
        waiting.delete(response.callId);
        if (response.event.case === "error") {
          waiter.reject(new Error(`server refused call ${response.callId}: ${response.event.value.message}`));
        } else {
          waiter.resolve(response);
        }
      }
      failAll(new Error(`${baseUrl} ended the stream`));
    } catch (err) {
      failAll(err instanceof Error ? err : new Error(String(err)));
    }
  })();

  // The watchdog: a benchmark must never hang on a server that stopped answering.
  let lastAnswered = -1;
  let lastProgress = Date.now();
  const watchdog = setInterval(() => {
    if (answered !== lastAnswered || waiting.size === 0) {
      lastAnswered = answered;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > STALL_MS) {
      abort.abort(new Error(`no answer from ${baseUrl} for ${STALL_MS} ms`));
    }
  }, 500);

  const call = (request: ConnectRequest): Promise<ConnectResponse> =>
    new Promise<ConnectResponse>((resolve, reject) => {
      if (ended !== undefined) return reject(ended);
      waiting.set(request.id, { resolve, reject });
      queue.push(request);
    });

  const close = async (): Promise<void> => {
    clearInterval(watchdog);
    queue.end();
    // Give the server a moment to end its side, then cut the connection.
    const grace = setTimeout(() => abort.abort(new Error("closed")), 500);
    await reader;
    clearTimeout(grace);
    sessions.abort();
  };

  try {
    await call(hello);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    call,
    get answered() {
      return answered;
    },
    close,
  };
}
