/**
 * Where the handles still open were created: opt-in with
 * PLATEAU_LEAK_STACKS=1, because tracking every async resource (promises
 * included, once a hook is on) slows a test file down. The leak check then
 * prints the creation stack of each handle of a leaked type.
 */
import { createHook } from "node:async_hooks";

export const LEAK_STACKS = "PLATEAU_LEAK_STACKS";

/** async_hooks types, and the names process.getActiveResourcesInfo() gives some of them. */
const SAME = (asyncType: string, resourceType: string): boolean =>
  asyncType.toLowerCase().replace(/wrap$/, "") === resourceType.toLowerCase().replace(/wrap$/, "");

/** Whether a resource still holds the event loop: a timer that has not fired or been cleared, and is not unref'd. */
function keepsAlive(resource: object | undefined): boolean {
  if (resource === undefined) return false;
  const timer = resource as { hasRef?: () => boolean; _destroyed?: boolean };
  return timer._destroyed !== true && timer.hasRef?.() !== false;
}

export interface HandleOrigins {
  /** Creation stacks of resources still alive whose type is one of `types`. */
  stacks(types: readonly string[]): string[];
  stop(): void;
}

export function trackHandleOrigins(): HandleOrigins | undefined {
  if (process.env[LEAK_STACKS] !== "1") return undefined;
  const live = new Map<number, { type: string; stack: string; resource: WeakRef<object> }>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === "PROMISE") return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const frames = (new Error().stack ?? "").split("\n").slice(2);
      Error.stackTraceLimit = limit;
      const ours = frames.filter((f) => !f.includes("node:") && !f.includes("handle-origins"));
      live.set(id, { type, stack: ours.slice(0, 12).join("\n"), resource: new WeakRef(resource) });
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    stacks: (types) =>
      [...live.values()]
        .filter((r) => types.some((t) => SAME(r.type, t)) && keepsAlive(r.resource.deref()))
        .map((r) => `${r.type} created\n${r.stack}`),
    stop: () => hook.disable(),
  };
}
