/**
 * What an agent keeps under its work dir besides what tasks write: its id,
 * the dynamic reservations and volumes it checkpointed, sandboxes and
 * persistent volume directories. One interface, so the agent's shell can
 * run on the disk (`createWorkDir`) or in memory (`createWorkDirTwin`).
 *
 *   <work_dir>/meta/agent_id             the id the master gave, kept across restarts
 *   <work_dir>/meta/resources.json       checkpointed reservations and volumes
 *   <work_dir>/slaves/.../runs/<id>/     sandboxes (layout: src/core/agent/state.ts)
 *   <work_dir>/volumes/roles/<role>/<id> persistent volumes (src/core/agent/operations.ts)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Resource, ResourceSchema } from "../../gen/mesos/v1/mesos_pb.js";
import type { VolumeLink } from "../core/agent/agent-core.js";
import { writeFileDurably } from "../util/durable-file.js";
import { makeDirs } from "../util/make-dirs.js";

/** The agent's durable storage and sandboxes. Every method throws on failure. */
export interface AgentWorkDir {
  readonly path: string;
  /** Where the checkpointed resources live, for messages to the operator. */
  readonly checkpointFile: string;
  /** The id an earlier run was given, if any. */
  agentId(): string | undefined;
  /** Durably: a crash never leaves half an id. */
  saveAgentId(id: string): void;
  /** The dynamic reservations and volumes an earlier run checkpointed (none: []). */
  checkpointedResources(): Resource[];
  /** Durably, before the master hears an operation finished: a crash leaves the old checkpoint or the new one. */
  saveCheckpointedResources(resources: Resource[]): void;
  /** Creates an executor's sandbox before it starts. */
  prepareSandbox(sandbox: string): void;
  /** Makes each volume appear at its container path inside the sandbox. */
  linkVolumes(sandbox: string, volumes: VolumeLink[]): void;
  createVolumes(dirs: string[]): void;
  destroyVolumes(dirs: string[]): void;
}

/** The work dir on disk at `path` (created if missing). */
export function createWorkDir(path: string): AgentWorkDir {
  mkdirSync(path, { recursive: true });
  const idFile = join(path, "meta", "agent_id");
  const checkpointFile = join(path, "meta", "resources.json");
  return {
    path,
    checkpointFile,
    agentId: () => (existsSync(idFile) ? readFileSync(idFile, "utf8").trim() || undefined : undefined),
    saveAgentId: (id) => writeFileDurably(idFile, `${id}\n`),
    checkpointedResources() {
      if (!existsSync(checkpointFile)) return [];
      const parsed: unknown = JSON.parse(readFileSync(checkpointFile, "utf8"));
      if (!Array.isArray(parsed)) throw new Error(`${checkpointFile} does not hold a list of resources`);
      return parsed.map((r: JsonValue) => fromJson(ResourceSchema, r));
    },
    saveCheckpointedResources: (resources) =>
      writeFileDurably(
        checkpointFile,
        `${JSON.stringify(
          resources.map((r) => toJson(ResourceSchema, r)),
          null,
          2,
        )}\n`,
      ),
    prepareSandbox: (sandbox) => makeDirs(sandbox),
    linkVolumes(sandbox, volumes) {
      for (const volume of volumes) {
        mkdirSync(volume.hostPath, { recursive: true });
        const target = join(sandbox, volume.containerPath);
        mkdirSync(dirname(target), { recursive: true });
        if (!existsSync(target)) symlinkSync(volume.hostPath, target);
      }
    },
    createVolumes: (dirs) => dirs.forEach((dir) => mkdirSync(dir, { recursive: true })),
    destroyVolumes: (dirs) => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })),
  };
}
