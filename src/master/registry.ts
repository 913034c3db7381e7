/**
 * Where the master keeps its registry. The embedded backend is one file in
 * the master's work dir, replaced atomically (write a temporary file, fsync,
 * rename, fsync the directory), so a crash leaves the old registry or the
 * new one, never half of either. Without a work dir the registry lives in
 * memory and nothing survives a restart.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { RegistrySchema } from "../../gen/plateau/registry/v1/registry_pb.js";
import {
  applyRegistryOperation,
  emptyRegistry,
  type Registry,
  type RegistryOperation,
} from "../core/registry/registry.js";
import { writeFileDurably } from "../util/durable-file.js";

export interface RegistryStore {
  /** What is stored now. */
  readonly current: Registry;
  /** A file path, or "memory". */
  readonly location: string;
  /**
   * Applies the operation and resolves once the result is durable (false:
   * it changed nothing, so nothing was written). Operations take effect in
   * call order.
   */
  apply(operation: RegistryOperation): Promise<boolean>;
}

const FILE = "registry.binpb";

/** Opens the embedded registry in `workDir` (created when missing), or one in memory. */
export function openEmbeddedRegistry(workDir: string | undefined): RegistryStore {
  let current = emptyRegistry();
  if (workDir !== undefined) {
    mkdirSync(workDir, { recursive: true });
    const file = join(workDir, FILE);
    if (existsSync(file)) {
      try {
        current = fromBinary(RegistrySchema, readFileSync(file));
      } catch (err) {
        throw new Error(
          `the registry ${file} cannot be read (${err instanceof Error ? err.message : String(err)}); restore it from a backup or move it away to start empty`,
        );
      }
    }
  }
  return {
    get current() {
      return current;
    },
    location: workDir === undefined ? "memory" : join(workDir, FILE),
    apply(operation) {
      const { registry, changed } = applyRegistryOperation(current, operation);
      if (!changed) return Promise.resolve(false);
      try {
        if (workDir !== undefined) writeFileDurably(join(workDir, FILE), toBinary(RegistrySchema, registry));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      current = registry;
      return Promise.resolve(true);
    },
  };
}
