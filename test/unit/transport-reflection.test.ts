import { create, createFileRegistry, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_mesos_v2_mesos } from "../../gen/mesos/v2/mesos_pb.js";
import { createReflectionResponder, registerReflection } from "../../src/transport/reflection.js";

const respond = createReflectionResponder([file_mesos_v2_mesos]);
const ask = (init: MessageInitShape<typeof ServerReflectionRequestSchema>) =>
  respond(create(ServerReflectionRequestSchema, init));

function fileNames(request: ServerReflectionRequest["messageRequest"]): string[] {
  const answer = ask({ messageRequest: request });
  if (answer.messageResponse.case !== "fileDescriptorResponse")
    throw new Error(`no files: ${answer.messageResponse.case}`);
  return answer.messageResponse.value.fileDescriptorProto.map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

/**
 * Orders files so each comes after its imports, as a FileDescriptorSet must.
 * (createFileRegistry's resolver form orders imports wrongly for diamond
 * imports in @bufbuild/protobuf 2.17, so tests cannot lean on it.)
 */
function importsFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const out: FileDescriptorProto[] = [];
  const visit = (f: FileDescriptorProto | undefined): void => {
    if (f === undefined || out.includes(f)) return;
    f.dependency.forEach((d) => visit(byName.get(d)));
    out.push(f);
  };
  files.forEach(visit);
  return out;
}

describe("reflection responder", () => {
  it("lists the given services and the reflection services", () => {
    const answer = ask({ host: "h", messageRequest: { case: "listServices", value: "*" } });
    expect(answer.validHost).toBe("h");
    expect(answer.originalRequest?.messageRequest.case).toBe("listServices");
    expect(answer.messageResponse.case).toBe("listServicesResponse");
    const names =
      answer.messageResponse.case === "listServicesResponse"
        ? answer.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names.sort()).toEqual([
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "mesos.v2.MesosService",
    ]);
  });

  it("answers a symbol with its file first, then every transitive import", () => {
    const names = fileNames({ case: "fileContainingSymbol", value: "mesos.v2.MesosService" });
    expect(names[0]).toBe("mesos/v2/mesos.proto");
    expect(new Set(names)).toEqual(
      new Set([
        "mesos/v2/mesos.proto",
        "mesos/v1/mesos.proto",
        "mesos/v1/executor/executor.proto",
        "mesos/v1/master/master.proto",
        "mesos/v1/maintenance/maintenance.proto",
        "mesos/v1/allocator/allocator.proto",
        "mesos/v1/quota/quota.proto",
        "mesos/v1/scheduler/scheduler.proto",
      ]),
    );
    // The answer is self-contained: a client can build a registry from it.
    const bytes = ask({ messageRequest: { case: "fileContainingSymbol", value: "mesos.v2.MesosService" } });
    const files =
      bytes.messageResponse.case === "fileDescriptorResponse" ? bytes.messageResponse.value.fileDescriptorProto : [];
    const registry = createFileRegistry(
      create(FileDescriptorSetSchema, {
        file: importsFirst(files.map((b) => fromBinary(FileDescriptorProtoSchema, b))),
      }),
    );
    expect(registry.getService("mesos.v2.MesosService")?.methods.map((m) => m.name)).toEqual([
      "Connect",
      "Operate",
      "OperateStream",
    ]);
  });

  it("resolves methods, nested messages, enums, fields and files by name", () => {
    expect(fileNames({ case: "fileContainingSymbol", value: "mesos.v2.MesosService.Operate" })[0]).toBe(
      "mesos/v2/mesos.proto",
    );
    expect(fileNames({ case: "fileContainingSymbol", value: "mesos.v2.AgentCall.Register" })[0]).toBe(
      "mesos/v2/mesos.proto",
    );
    expect(fileNames({ case: "fileContainingSymbol", value: "mesos.v2.Error.Code" })[0]).toBe("mesos/v2/mesos.proto");
    expect(fileNames({ case: "fileContainingSymbol", value: "mesos.v1.master.Call" })[0]).toBe(
      "mesos/v1/master/master.proto",
    );
    expect(fileNames({ case: "fileContainingSymbol", value: "mesos.v2.ConnectResponse.call_id" })[0]).toBe(
      "mesos/v2/mesos.proto",
    );
    expect(fileNames({ case: "fileContainingSymbol", value: ".mesos.v2.OperateRequest" })[0]).toBe(
      "mesos/v2/mesos.proto",
    );
  });

  it("serves files by name, including the reflection protos", () => {
    expect(fileNames({ case: "fileByFilename", value: "mesos/v1/mesos.proto" })).toEqual(["mesos/v1/mesos.proto"]);
    expect(fileNames({ case: "fileByFilename", value: "grpc/reflection/v1/reflection.proto" })).toEqual([
      "grpc/reflection/v1/reflection.proto",
    ]);
  });

  it("answers unknown names and extensions with NOT_FOUND", () => {
    for (const messageRequest of [
      { case: "fileContainingSymbol", value: "no.such.Thing" },
      { case: "fileContainingSymbol", value: "mesos.v2.MesosService.Nope" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "fileContainingExtension", value: { containingType: "mesos.v2.ConnectRequest", extensionNumber: 100 } },
      { case: "allExtensionNumbersOfType", value: "no.such.Type" },
    ] as const) {
      const answer = ask({ messageRequest });
      expect(answer.messageResponse.case).toBe("errorResponse");
      expect(answer.messageResponse.value).toMatchObject({ errorCode: 5 });
    }
  });

  it("lists no extension numbers for a known message", () => {
    const answer = ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "mesos.v2.ConnectRequest" } });
    expect(answer.messageResponse.case).toBe("allExtensionNumbersResponse");
    expect(answer.messageResponse.value).toMatchObject({
      baseTypeName: "mesos.v2.ConnectRequest",
      extensionNumber: [],
    });
  });

  it("answers an empty request with INVALID_ARGUMENT", () => {
    expect(ask({}).messageResponse.value).toMatchObject({ errorCode: 3 });
  });
});

describe("reflection service", () => {
  it("serves v1alpha with the same answers", async () => {
    const transport = createRouterTransport((router) => registerReflection(router, [file_mesos_v2_mesos]));
    const client = createClient(v1alpha.ServerReflection, transport);
    async function* requests() {
      yield create(v1alpha.ServerReflectionRequestSchema, {
        host: "x",
        messageRequest: { case: "listServices", value: "" },
      });
      yield create(v1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "mesos.v2.OperateRequest" },
      });
    }
    const answers = [];
    for await (const answer of client.serverReflectionInfo(requests())) answers.push(answer);
    expect(answers.map((a) => a.$typeName)).toEqual([
      "grpc.reflection.v1alpha.ServerReflectionResponse",
      "grpc.reflection.v1alpha.ServerReflectionResponse",
    ]);
    expect(answers[0]?.validHost).toBe("x");
    expect(answers[0]?.originalRequest?.$typeName).toBe("grpc.reflection.v1alpha.ServerReflectionRequest");
    expect(answers[1]?.messageResponse.case).toBe("fileDescriptorResponse");
  });
});
