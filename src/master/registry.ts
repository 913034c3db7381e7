/**
 * Where the master keeps its registry. The embedded backend is a snapshot
 * and a log of the operations since, in the master's work dir
 * (registry-log.ts); without a work dir the registry lives in memory and
 * nothing survives a restart. Both hold it in a registry book, changed in
 * place, so an operation costs what it changes.
 */
import { mkdirSync } from "node:fs";
import { emptyRegistry, type Registry, type RegistryOperation } from "../core/registry/registry.js";
import { createRegistryBook } from "../core/registry/registry-book.js";
import { type LoggedRegistryOptions, openLoggedRegistry } from "./registry-log.js";

export interface RegistryStore {
  /** What is stored now (embedded: with the operations still being written). Do not mutate. */
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

/** Opens the embedded registry in `workDir` (created when missing), or one in memory. */
export function openEmbeddedRegistry(workDir: string | undefined, options: LoggedRegistryOptions = {}): RegistryStore {
  if (workDir !== undefined) {
    mkdirSync(workDir, { recursive: true });
    return openLoggedRegistry(workDir, options);
  }
  const book = createRegistryBook(emptyRegistry());
  return {
    get current() {
      return book.snapshot();
    },
    location: "memory",
    apply: (operation) => Promise.resolve(book.apply(operation)),
  };
}
