/**
 * A master that only answers registrations, for measuring what the
 * simulated fleet itself costs (fleet-bench.ts): every Connect stream's
 * Register gets a Registered (the id the agent named, else one made up)
 * from leader epoch EPOCH, and nothing else happens. It keeps no state and
 * does in a few microseconds what a real master does in milliseconds, so
 * the fleet's own cost is what shows.
 *
 *   node --import tsx bench/fake-master.ts EPOCH   → prints "listening PORT"
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectRequestSchema, ConnectResponseSchema } from "../gen/mesos/v2/mesos_pb.js";
import { CONNECT_PATH, FrameReader, frame } from "./grpc-frames.js";

const epoch = BigInt(process.argv[2] ?? "1");
let counter = 0;

function registered(agentId: string): Buffer {
  const response = create(ConnectResponseSchema, {
    event: {
      case: "agent",
      value: {
        leaderEpoch: epoch,
        event: { case: "registered", value: { agentId: { value: agentId }, heartbeatIntervalSeconds: 15 } },
      },
    },
  });
  return frame(toBinary(ConnectResponseSchema, response));
}

const server = http2.createServer({
  settings: { maxConcurrentStreams: 1000, initialWindowSize: 1024 * 1024 },
  maxSessionMemory: 64,
});
server.on("stream", (stream, headers) => {
  stream.on("error", () => undefined);
  if (headers[":path"] !== CONNECT_PATH) {
    stream.respond({ ":status": 404 }, { endStream: true });
    return;
  }
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
  const reader = new FrameReader();
  stream.on("data", (chunk: Buffer) =>
    reader.push(chunk, (bytes) => {
      const request = fromBinary(ConnectRequestSchema, bytes);
      const call = request.call.case === "agent" ? request.call.value.call : undefined;
      if (call?.case !== "register") return;
      const named = call.value.agentInfo?.id?.value;
      stream.write(registered(named === undefined || named === "" ? `fake-${++counter}` : named));
    }),
  );
  // The agent hung up: end our side too.
  stream.on("end", () => stream.close());
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
