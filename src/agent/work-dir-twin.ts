/**
 * An in-memory twin of the agent's work dir, for in-process clusters and
 * simulations: it keeps what the real one would write, in maps, and can be
 * told to fail the way a full or read-only disk does.
 */
import type { Resource } from "../../gen/mesos/v1/mesos_pb.js";
import type { AgentWorkDir } from "./work-dir.js";

/** The twin, with what it holds open to inspection. */
export interface WorkDirTwin extends AgentWorkDir {
  readonly sandboxes: ReadonlySet<string>;
  readonly volumes: ReadonlySet<string>;
  /** Sandbox path + container path → volume directory. */
  readonly links: ReadonlyMap<string, string>;
  /** While set, every write throws this message (reads still work). */
  failWrites: string | undefined;
}

/** An empty work dir at `path` (nothing is created anywhere), or one an earlier run left. */
export function createWorkDirTwin(
  path = "/plateau-agent",
  earlier: { agentId?: string; checkpointed?: Resource[] } = {},
): WorkDirTwin {
  let agentId = earlier.agentId;
  let checkpointed = earlier.checkpointed ?? [];
  const sandboxes = new Set<string>();
  const volumes = new Set<string>();
  const links = new Map<string, string>();
  const twin: WorkDirTwin = {
    path,
    checkpointFile: `${path}/meta/resources.json`,
    sandboxes,
    volumes,
    links,
    failWrites: undefined,
    agentId: () => agentId,
    saveAgentId(id) {
      write();
      agentId = id;
    },
    checkpointedResources: () => checkpointed,
    saveCheckpointedResources(resources) {
      write();
      checkpointed = [...resources];
    },
    prepareSandbox(sandbox) {
      write();
      sandboxes.add(sandbox);
    },
    linkVolumes(sandbox, list) {
      write();
      sandboxes.add(sandbox);
      for (const volume of list) {
        volumes.add(volume.hostPath);
        links.set(`${sandbox}/${volume.containerPath}`, volume.hostPath);
      }
    },
    createVolumes(dirs) {
      write();
      dirs.forEach((dir) => volumes.add(dir));
    },
    destroyVolumes(dirs) {
      write();
      dirs.forEach((dir) => volumes.delete(dir));
    },
  };
  const write = (): void => {
    if (twin.failWrites !== undefined) throw new Error(twin.failWrites);
  };
  return twin;
}
