import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The version Plateau reports (GET_VERSION, agent registration). */
export const VERSION = "0.1.0";

/**
 * When the running code was built, for `build_time` and `build_date` in
 * /version, /master/state, /slave(1)/state and GET_VERSION (Mesos stamps
 * them into its binary at `make`; tools show "built N days ago").
 *
 * Why the newest modification time of the compiled files: the build is
 * `tsc` writing dist/ (`npm ci` runs it through `prepare` in a fresh clone,
 * and developers and tests run it directly), and the moment it last wrote
 * a file is exactly when the code now running was built. It needs no step
 * that a plain `tsc` would skip, and no .git (an npm tarball has none).
 * The commit time would be wrong for an edited tree, and `tsc` builds are
 * incremental, so one file's time (this module's) could predate the newest
 * change. Under tsx (no build) it is the sources' newest change, which is
 * the same thing for code run straight from them.
 */
export interface BuildInfo {
  /** Seconds since the epoch, as Mesos' build_time. */
  readonly time: number;
  /** `YYYY-MM-DD HH:MM:SS` in UTC, as Mesos' build_date. */
  readonly date: string;
}

let cached: BuildInfo | undefined;

/** The build's time; read once (a few hundred stats) and then remembered. */
export function buildInfo(): BuildInfo {
  if (cached !== undefined) return cached;
  const root = dirname(fileURLToPath(import.meta.url));
  let newest = 0;
  for (const name of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    if (!/\.(js|ts)$/.test(name)) continue;
    try {
      newest = Math.max(newest, statSync(join(root, name)).mtimeMs);
    } catch {
      // removed while we looked (a rebuild in progress): the rest still tell
    }
  }
  const time = Math.floor(newest / 1000);
  cached = { time, date: new Date(time * 1000).toISOString().replace("T", " ").slice(0, 19) };
  return cached;
}
