import { create, equals, fromBinary, merge, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Response, Response_Type, ResponseSchema } from "../../gen/mesos/v1/master/master_pb.js";
import { TaskSchema, TaskState } from "../../gen/mesos/v1/mesos_pb.js";
import { ConnectResponseSchema } from "../../gen/mesos/v2/mesos_pb.js";
import { parseResources } from "../../src/core/resources/index.js";
import { createPieceAssembler, embedded, encodePieces, PieceTooLargeError } from "../../src/wire/pieces.js";

/** A GET_STATE answer with `tasks` live and `completed` ended tasks, labels of `labelBytes` each. */
function stateOf(tasks: number, completed: number, labelBytes = 16): Response {
  const task = (i: number, state: TaskState) =>
    create(TaskSchema, {
      name: `t${i}`,
      taskId: { value: `t${i}` },
      frameworkId: { value: `f${i % 7}` },
      agentId: { value: `a${i % 13}` },
      state,
      resources: parseResources("cpus:0.1;mem:32"),
      labels: { labels: [{ key: "k", value: "x".repeat(labelBytes) }] },
      statuses: [{ taskId: { value: `t${i}` }, state, timestamp: i }],
    });
  return create(ResponseSchema, {
    type: Response_Type.GET_STATE,
    getState: {
      getTasks: {
        tasks: Array.from({ length: tasks }, (_, i) => task(i, TaskState.TASK_RUNNING)),
        completedTasks: Array.from({ length: completed }, (_, i) => task(tasks + i, TaskState.TASK_FINISHED)),
      },
      getExecutors: {},
      getFrameworks: { frameworks: [{ frameworkInfo: { user: "u", name: "n", id: { value: "f0" } }, active: true }] },
      getAgents: { agents: [{ agentInfo: { hostname: "h", id: { value: "a0" } }, active: true }] },
    },
  });
}

/** What a receiver does: decode each piece and merge them in order. */
function reassemble(pieces: Uint8Array[]): Response {
  const whole = create(ResponseSchema);
  for (const piece of pieces) merge(ResponseSchema, whole, fromBinary(ResponseSchema, piece));
  return whole;
}

describe("answers in pieces", () => {
  it("splits a state into pieces under the limit that merge back into the whole", () => {
    const state = stateOf(3000, 2000, 100);
    const max = 64 * 1024;
    const pieces = encodePieces(ResponseSchema, state, max);
    expect(pieces.length).toBeGreaterThan(10);
    for (const piece of pieces) expect(piece.byteLength).toBeLessThanOrEqual(max);
    // Every piece is a GET_STATE answer in its own right.
    for (const piece of pieces) expect(fromBinary(ResponseSchema, piece).type).toBe(Response_Type.GET_STATE);
    const whole = reassemble(pieces);
    expect(whole.getState?.getTasks?.tasks.map((t) => t.taskId?.value)).toEqual(
      state.getState?.getTasks?.tasks.map((t) => t.taskId?.value),
    );
    expect(equals(ResponseSchema, whole, state)).toBe(true);
    // Encoded once: the pieces hold the same bytes as the whole, give or take field headers.
    const size = toBinary(ResponseSchema, state).byteLength;
    const total = pieces.reduce((n, p) => n + p.byteLength, 0);
    expect(total).toBeGreaterThanOrEqual(size);
    expect(total).toBeLessThan(size + pieces.length * 64);
  });

  it("keeps a small answer in one piece, byte for byte the whole", () => {
    const state = stateOf(3, 2);
    const pieces = encodePieces(ResponseSchema, state);
    expect(pieces).toHaveLength(1);
    expect(equals(ResponseSchema, fromBinary(ResponseSchema, pieces[0] as Uint8Array), state)).toBe(true);
  });

  it("reassembles any split, whatever the sizes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1024, max: 8192 }),
        (tasks, completed, labelBytes, max) => {
          const state = stateOf(tasks, completed, labelBytes);
          const pieces = encodePieces(ResponseSchema, state, max);
          for (const piece of pieces) expect(piece.byteLength).toBeLessThanOrEqual(max);
          expect(equals(ResponseSchema, reassemble(pieces), state)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses an item that alone is larger than a piece", () => {
    expect(() => encodePieces(ResponseSchema, stateOf(1, 0, 5000), 1024)).toThrow(PieceTooLargeError);
  });

  it("carries pieces in envelopes as unknown fields that decode as the known field, and gathers them back", () => {
    const state = stateOf(500, 500, 50);
    const pieces = encodePieces(ResponseSchema, state, 16 * 1024);
    const assembler = createPieceAssembler(ConnectResponseSchema);
    let whole: ReturnType<typeof assembler.add>;
    pieces.forEach((bytes, index) => {
      const envelope = create(ConnectResponseSchema, {
        callId: "c",
        piece: { index, last: index === pieces.length - 1 },
      });
      envelope.$unknown = [embedded(ConnectResponseSchema.field.operatorResponse.number, bytes)];
      // As a receiver sees it: the raw field is the operator response.
      const received = fromBinary(ConnectResponseSchema, toBinary(ConnectResponseSchema, envelope));
      expect(received.event.case).toBe("operatorResponse");
      whole = assembler.add("c", received);
      if (index < pieces.length - 1) expect(whole).toBeUndefined();
    });
    expect(whole?.piece).toBeUndefined();
    expect(whole?.event.case === "operatorResponse" && equals(ResponseSchema, whole.event.value, state)).toBe(true);
  });
});
