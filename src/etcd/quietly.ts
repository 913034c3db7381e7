/** Best-effort cleanups of etcd resources we are done with, whoever owned them. */
import type { Watcher } from "etcd3";

/** Stops a watch; a failure (the client closed, etcd gone) leaves nothing to stop. */
export async function cancelQuietly(watcher: Watcher | undefined): Promise<void> {
  await watcher?.cancel().catch(() => undefined);
}
