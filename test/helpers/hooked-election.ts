import type { RegistryOperation } from "../../src/core/registry/registry.js";
import { createEmbeddedElection, type Election } from "../../src/master/election.js";

/**
 * An election (the embedded one unless given) with a hook in front of every
 * registry write: tests hold a write in flight (a gate) or fail it.
 */
export function hookedElection(
  beforeWrite: (operation: RegistryOperation) => Promise<void>,
  inner: Election = createEmbeddedElection(undefined),
): Election {
  return {
    ...inner,
    async campaign(info, signal) {
      const term = await inner.campaign(info, signal);
      return {
        ...term,
        registry: {
          get current() {
            return term.registry.current;
          },
          location: "hooked memory",
          apply: async (operation) => {
            await beforeWrite(operation);
            return term.registry.apply(operation);
          },
        },
      };
    },
  };
}

/** A gate a hooked write waits at until the test opens it. */
export function createGate(): { wait: Promise<void>; open(): void; readonly reached: Promise<void>; arrive(): void } {
  let open: () => void = () => undefined;
  let arrive: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  return { wait, open, reached, arrive };
}
