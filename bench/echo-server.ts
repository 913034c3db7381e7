/**
 * The bare baseline for the stream benchmark: `MesosService.Connect` served
 * by connect-node on a plain `http2` server, answering every ConnectRequest
 * with ConnectResponse{call_id = id} and nothing else. It runs in its own
 * process (started by stream-bench.ts) so the client and the server do not
 * share an event loop, exactly like the client and a real master.
 *
 * Prints one JSON line `{"port":N}` on stdout once listening; exits on
 * SIGTERM/SIGINT.
 */
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ConnectResponseSchema, MesosService, OperateResponseSchema } from "../gen/mesos/v2/mesos_pb.js";

function routes(router: ConnectRouter): void {
  router.service(MesosService, {
    async *connect(requests) {
      for await (const request of requests) {
        yield create(ConnectResponseSchema, { callId: request.id });
      }
    },
    operate: () => create(OperateResponseSchema, {}),
  });
}

// The same HTTP/2 settings as Plateau's own server, so the baseline differs
// from the master only in what happens above the RPC layer.
const server = http2.createServer(
  { settings: { maxConcurrentStreams: 1000, initialWindowSize: 1024 * 1024 }, maxSessionMemory: 64 },
  connectNodeAdapter({ routes }),
);

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

function stop(): void {
  // Streams of a finished benchmark may still be open: do not wait for them.
  server.close();
  process.exit(0);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
