// Fails when proto/ (as it is in the working tree, uncommitted edits
// included) breaks wire compatibility with main before the change under test,
// by buf.yaml's `breaking` rules: the promise Mesos made with 1.0.
//
// Which commit is "main before the change":
// - On a branch: its merge-base with main, so every commit on the branch and
//   every uncommitted edit is checked, however far main has moved since.
// - On main itself (a clean clone in CI, where the working tree equals main's
//   tip, or a developer editing main): the merge-base is HEAD, and comparing
//   HEAD with itself would never fail. So we take HEAD's first parent: main
//   before its last commit landed. When that commit merges a branch, its first
//   parent is main before the merge, so the whole merged branch is checked.
//   (Several commits pushed at once without a merge are checked only as the
//   last of them; CI can name its last good commit instead, see below.)
// PLATEAU_BREAKING_AGAINST=<git ref> overrides the choice.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const git = (...args) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};
const commit = (ref) => tryGit("rev-parse", "--verify", "--quiet", `${ref}^{commit}`);

function fail(message) {
  console.error(`check-breaking: ${message}`);
  process.exit(1);
}

function against() {
  const named = process.env.PLATEAU_BREAKING_AGAINST;
  if (named !== undefined) return commit(named) ?? fail(`PLATEAU_BREAKING_AGAINST=${named} names no commit`);
  const head = commit("HEAD") ?? fail("not a git checkout with commits: there is no main to compare proto/ with");
  const main = commit("main") ?? commit("origin/main");
  const base = main === undefined ? head : tryGit("merge-base", head, main);
  if (base !== undefined && base !== head) return base;
  const parent = commit(`${head}^1`);
  if (parent !== undefined) return parent;
  if (tryGit("rev-parse", "--is-shallow-repository") === "true") {
    fail(
      "a shallow clone has no parent commit to compare proto/ with: fetch main's history (git fetch --unshallow) or set PLATEAU_BREAKING_AGAINST",
    );
  }
  console.log("check-breaking: HEAD is the first commit; nothing to compare proto/ with");
  process.exit(0);
}

const base = against();
const dir = mkdtempSync(join(tmpdir(), "plateau-breaking-"));
try {
  // A plain copy of the old protos, so this works in worktrees and needs no
  // network; today's buf.yaml says where the module lives.
  execFileSync("git", ["archive", "--output", join(dir, "base.tar"), base, "proto"]);
  execFileSync("tar", ["-xf", join(dir, "base.tar"), "-C", dir]);
  copyFileSync("buf.yaml", join(dir, "buf.yaml"));
  const buf = spawnSync(join("node_modules", ".bin", "buf"), ["breaking", "--against", dir], { stdio: "inherit" });
  if (buf.status === 0) console.log(`check-breaking: proto/ is wire-compatible with ${base.slice(0, 12)}`);
  else {
    console.error(
      `check-breaking: proto/ breaks compatibility with ${base.slice(0, 12)} (above)${buf.error ? `: ${buf.error.message}` : ""}`,
    );
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
