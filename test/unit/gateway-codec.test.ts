import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskState, TaskStatusSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { Call_Type, CallSchema } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { GatewayError } from "../../src/gateway/errors.js";
import { parseMesosJson, toMesosJson } from "../../src/gateway/json.js";
import { accepts, decodeBody, requestMedia, responseMedia, streamFormat } from "../../src/gateway/media.js";
import { createRecordDecoder, encodeRecord } from "../../src/gateway/recordio.js";

describe("RecordIO", () => {
  it("frames a record as its byte length, a newline and the bytes, in one buffer", () => {
    expect(encodeRecord(Buffer.from('{"type":"HEARTBEAT"}')).toString()).toBe('20\n{"type":"HEARTBEAT"}');
    expect(encodeRecord(Buffer.from("é")).toString()).toBe("2\né");
  });

  it("decodes records however the bytes are chunked", () => {
    const stream = Buffer.concat([
      encodeRecord(Buffer.from("hello")),
      encodeRecord(Buffer.from("")),
      encodeRecord(Buffer.from("a\nb")),
    ]);
    for (const size of [1, 2, 3, 7, stream.length]) {
      const decoder = createRecordDecoder();
      const records: string[] = [];
      for (let i = 0; i < stream.length; i += size)
        records.push(...decoder.push(stream.subarray(i, i + size)).map((r) => Buffer.from(r).toString()));
      expect(records).toEqual(["hello", "", "a\nb"]);
      expect(decoder.pending).toBe(0);
    }
  });

  it("refuses a stream that is not RecordIO", () => {
    expect(() => createRecordDecoder().push(Buffer.from("{\n"))).toThrow(/length prefix/);
  });
});

describe("Mesos JSON", () => {
  it("writes proto field names, enum names, 64-bit numbers and base64 bytes", () => {
    const status = create(TaskStatusSchema, {
      taskId: { value: "t" },
      state: TaskState.TASK_RUNNING,
      uuid: Buffer.from("abc"),
      timestamp: 1.5,
    });
    expect(toMesosJson(TaskStatusSchema, status)).toMatchObject({
      task_id: { value: "t" },
      state: "TASK_RUNNING",
      uuid: "YWJj",
      timestamp: 1.5,
    });
  });

  it("treats null as unset, in fields and in lists, and ignores unknown fields", () => {
    const call = parseMesosJson(CallSchema, {
      framework_id: null,
      type: "SUBSCRIBE",
      subscribe: {
        framework_info: { user: "u", name: "n", id: null, capabilities: null, roles: [null, "a"], no_such_field: 1 },
      },
    });
    expect(call.type).toBe(Call_Type.SUBSCRIBE);
    expect(call.frameworkId).toBeUndefined();
    expect(call.subscribe?.frameworkInfo?.roles).toEqual(["a"]);
  });
});

describe("content negotiation", () => {
  const status = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof GatewayError ? err.status : -1;
    }
    return 0;
  };

  it("reads JSON and protobuf bodies and refuses the rest as Mesos does", () => {
    expect(requestMedia({ "content-type": "application/json" })).toBe("json");
    expect(requestMedia({ "content-type": "application/x-protobuf" })).toBe("protobuf");
    expect(status(() => requestMedia({}))).toBe(400);
    expect(status(() => requestMedia({ "content-type": "text/plain" }))).toBe(415);
    expect(status(() => decodeBody(CallSchema, Buffer.from("{"), "json", "Call"))).toBe(400);
    expect(status(() => decodeBody(CallSchema, Buffer.from('{"type": 3.5}'), "json", "Call"))).toBe(400);
  });

  it("answers JSON unless Accept rules it out", () => {
    expect(responseMedia({})).toBe("json");
    expect(responseMedia({ accept: "*/*" })).toBe("json");
    expect(responseMedia({ accept: "application/x-protobuf" })).toBe("protobuf");
    expect(responseMedia({ accept: "application/json;q=0, application/*" })).toBe("protobuf");
    expect(status(() => responseMedia({ accept: "text/html" }))).toBe(406);
    expect(accepts("text/*, application/json;q=0.5", "application/json")).toBe(true);
  });

  it("streams JSON records as application/json, or as application/recordio when asked", () => {
    expect(streamFormat({}).headers["content-type"]).toBe("application/json");
    const recordio = streamFormat({ accept: "application/recordio", "message-accept": "application/x-protobuf" });
    expect(recordio).toEqual({
      headers: { "content-type": "application/recordio", "message-content-type": "application/x-protobuf" },
      record: "protobuf",
    });
  });
});
