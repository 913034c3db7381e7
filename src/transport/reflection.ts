/**
 * gRPC server reflection (grpc/reflection/v1 and v1alpha), so `grpcurl` and
 * `buf curl` can list and call our services with no .proto file at hand.
 *
 * Both versions have the same wire format and differ only in the package
 * name, so one implementation answers v1 messages and v1alpha requests are
 * re-read as v1 bytes (and the answer written back as v1alpha). The cost is a
 * round trip through the binary format per reflection request: nothing.
 */
import { create, createFileRegistry, type DescFile, type FileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ErrorResponseSchema,
  ExtensionNumberResponseSchema,
  FileDescriptorResponseSchema,
  file_grpc_reflection_v1_reflection,
  ListServiceResponseSchema,
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** gRPC status codes used in error_response (google.rpc.Code numbers). */
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

/**
 * Registers `grpc.reflection.v1.ServerReflection` and its v1alpha twin on
 * `router`. They list the services declared in `files` plus themselves, and
 * serve the descriptors of `files`, their transitive imports and the
 * reflection files.
 */
export function registerReflection(router: ConnectRouter, files: DescFile[]): void {
  const answer = createReflectionResponder(files);
  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answer(request);
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const asV1 = fromBinary(
          ServerReflectionRequestSchema,
          toBinary(v1alpha.ServerReflectionRequestSchema, request),
        );
        const response = answer(asV1);
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(ServerReflectionResponseSchema, response));
      }
    },
  });
}

/**
 * The reflection logic without a transport: one request in, one response out.
 * Exported for unit tests; `registerReflection` is what daemons use.
 */
export function createReflectionResponder(
  files: DescFile[],
): (request: ServerReflectionRequest) => ServerReflectionResponse {
  const served = [...files, file_grpc_reflection_v1_reflection, v1alpha.file_grpc_reflection_v1alpha_reflection];
  const registry = buildRegistry(served);
  const serviceNames = [...new Set(served.flatMap((file) => file.services.map((service) => service.typeName)))];
  const encoded = new Map<DescFile, Uint8Array>();
  const encode = (file: DescFile): Uint8Array => {
    let bytes = encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      encoded.set(file, bytes);
    }
    return bytes;
  };

  const fileResponse = (file: DescFile | undefined, what: string): ServerReflectionResponse["messageResponse"] =>
    file === undefined
      ? error(NOT_FOUND, `${what} not found`)
      : {
          case: "fileDescriptorResponse",
          value: create(FileDescriptorResponseSchema, { fileDescriptorProto: withImports(file).map(encode) }),
        };

  const respond = (request: ServerReflectionRequest): ServerReflectionResponse["messageResponse"] => {
    const req = request.messageRequest;
    switch (req.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: create(ListServiceResponseSchema, { service: serviceNames.map((name) => ({ name })) }),
        };
      case "fileByFilename":
        return fileResponse(registry.getFile(req.value), `file "${req.value}"`);
      case "fileContainingSymbol":
        return fileResponse(fileOfSymbol(registry, req.value), `symbol "${req.value}"`);
      case "fileContainingExtension": {
        const message = registry.getMessage(req.value.containingType);
        const extension = message && registry.getExtensionFor(message, req.value.extensionNumber);
        return fileResponse(extension?.file, `extension ${req.value.extensionNumber} of "${req.value.containingType}"`);
      }
      case "allExtensionNumbersOfType": {
        const message = registry.getMessage(req.value);
        if (message === undefined) return error(NOT_FOUND, `type "${req.value}" not found`);
        const numbers: number[] = [];
        for (const type of registry)
          if (type.kind === "extension" && type.extendee.typeName === message.typeName) numbers.push(type.number);
        return {
          case: "allExtensionNumbersResponse",
          value: create(ExtensionNumberResponseSchema, { baseTypeName: message.typeName, extensionNumber: numbers }),
        };
      }
      case undefined:
        return error(INVALID_ARGUMENT, "empty reflection request");
    }
  };

  return (request) =>
    create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: respond(request),
    });
}

/**
 * One registry over `files` and everything they import. createFileRegistry
 * takes a FileDescriptorProto plus a resolver for its imports; the resolver
 * hands back the DescFiles the generated code already built. Note that
 * DescFile.name lacks ".proto" while imports (and proto.name) carry it.
 */
function buildRegistry(files: DescFile[]): FileRegistry {
  const byProtoName = new Map<string, DescFile>();
  for (const file of files) for (const dep of withImports(file)) byProtoName.set(dep.proto.name, dep);
  const registries = files.map((file) => createFileRegistry(file.proto, (name) => byProtoName.get(name)));
  return createFileRegistry(...registries);
}

/** `file` first, then its transitive imports, each once: what a client needs to build the file. */
function withImports(file: DescFile): DescFile[] {
  const seen = new Set<DescFile>();
  const visit = (f: DescFile): void => {
    if (seen.has(f)) return;
    seen.add(f);
    f.dependencies.forEach(visit);
  };
  visit(file);
  return [...seen];
}

/**
 * The file declaring a fully qualified name: a message, enum, service or
 * extension, or a member of one (method, field, enum value), which clients
 * such as grpcurl ask for when describing a method.
 */
function fileOfSymbol(registry: FileRegistry, name: string): DescFile | undefined {
  const symbol = name.startsWith(".") ? name.slice(1) : name;
  const type = registry.get(symbol);
  if (type !== undefined) return type.file;
  const dot = symbol.lastIndexOf(".");
  if (dot < 0) return undefined;
  const parent = registry.get(symbol.slice(0, dot));
  const member = symbol.slice(dot + 1);
  switch (parent?.kind) {
    case "service":
      return parent.methods.some((m) => m.name === member) ? parent.file : undefined;
    case "message":
      return parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member)
        ? parent.file
        : undefined;
    default:
      return undefined;
  }
}

function error(code: number, message: string): ServerReflectionResponse["messageResponse"] {
  return { case: "errorResponse", value: create(ErrorResponseSchema, { errorCode: code, errorMessage: message }) };
}
