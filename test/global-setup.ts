/**
 * Runs once before any test file: fails the run when it includes an etcd
 * test and etcd is missing, so a machine without etcd never passes by
 * skipping. Installing is scripts/ensure-etcd.mjs's job (`npm test` runs it
 * first); a test run only checks.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { etcdMissing } from "./helpers/etcd-bin.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");

/**
 * Whether this run can include an etcd test. Vitest's positional filters
 * match file paths by substring; when every filter is an existing path and
 * none covers an etcd test (`npx vitest run test/unit`), the run needs no
 * etcd. Anything else (no filter, a name, an option value) counts as "maybe".
 */
function mayRunEtcdTests(): boolean {
  const filters = process.argv
    .slice(2)
    .filter((a) => !a.startsWith("-") && a !== "run" && a !== "watch")
    .map((f) => ({ f, path: relative(ROOT, resolve(f)) }));
  // An option's value (--config vitest.config.ts) can look like a path: only
  // paths under test/ count as filters.
  if (filters.length === 0 || !filters.every(({ f, path }) => existsSync(f) && path.startsWith("test"))) return true;
  // The tests that start etcd are the ones that use its harness.
  const etcdTests = readdirSync(join(ROOT, "test", "integration"))
    .filter(
      (f) =>
        f.endsWith(".test.ts") && readFileSync(join(ROOT, "test", "integration", f), "utf8").includes("helpers/etcd"),
    )
    .map((f) => `test/integration/${f}`);
  return filters.some(({ path }) => path.includes("etcd") || etcdTests.some((t) => t.includes(path)));
}

export default function setup(): void {
  const missing = etcdMissing();
  if (missing !== undefined && mayRunEtcdTests()) throw new Error(missing);
}
