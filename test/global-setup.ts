/**
 * Runs once before any test file: makes sure an etcd binary is there for the
 * etcd integration tests. Installing here, not in each file's setup, keeps
 * parallel test files from racing on dpkg's lock.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Kept here, not in helpers/etcd.ts: a global setup may not load modules
// that import vitest, and the harness does.
/** Debian's path; PLATEAU_ETCD_BIN points elsewhere (an etcd you built, another distribution's). */
export const ETCD_BIN = process.env.PLATEAU_ETCD_BIN ?? "/usr/bin/etcd";
export const ETCD_PACKAGE = "etcd-server";
/** The provided-context key under which setup says why etcd is unavailable. */
/**
 * The environment variable under which setup says why etcd is unavailable:
 * test workers start after setup and inherit it, and the harness reads it
 * without importing vitest (the benchmarks use the harness too).
 */
export const ETCD_UNAVAILABLE = "PLATEAU_ETCD_UNAVAILABLE";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");

function run(command: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const POLICY_RC = "/usr/sbin/policy-rc.d";

/**
 * Debian's etcd-server starts a system etcd on 2379 from its postinst. Our
 * tests never use that one (each starts its own on free ports), and a
 * service we did not mean to start is a process nobody owns. invoke-rc.d and
 * deb-systemd-invoke ask policy-rc.d whether they may start a service: exit
 * 101 says no. We write one only when there is none, and remove only the one
 * we wrote. RUNLEVEL=1 is a second guard for init scripts that check it.
 */
function installEtcd(): void {
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, "#!/bin/sh\n# written by plateau's test setup while it installs etcd-server\nexit 101\n", { mode: 0o755 });
  const env = { DEBIAN_FRONTEND: "noninteractive", RUNLEVEL: "1" };
  try {
    let result = run("apt-get", ["install", "-y", "--no-install-recommends", ETCD_PACKAGE], env);
    if (!result.ok) {
      // An old or missing package list is the usual cause; refresh once.
      run("apt-get", ["update"], env);
      result = run("apt-get", ["install", "-y", "--no-install-recommends", ETCD_PACKAGE], env);
    }
    if (!result.ok || !existsSync(ETCD_BIN)) {
      throw new Error(`installing ${ETCD_PACKAGE} with apt-get failed; install it by hand (apt-get install ${ETCD_PACKAGE}):\n${result.output.slice(-2000)}`);
    }
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true });
  }
}

/**
 * Whether this run can include an etcd test. Vitest's positional filters
 * match file paths by substring; when every filter is an existing path and
 * none covers an etcd test (`npx vitest run test/unit`), installing would be
 * wasted time. Anything else (no filter, a name, an option value) counts as
 * "maybe".
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
    .filter((f) => f.endsWith(".test.ts") && readFileSync(join(ROOT, "test", "integration", f), "utf8").includes("helpers/etcd"))
    .map((f) => `test/integration/${f}`);
  return filters.some(({ path }) => path.includes("etcd") || etcdTests.some((t) => t.includes(path)));
}

async function ensureEtcd(): Promise<void> {
  if (process.env.PLATEAU_ETCD_BIN !== undefined) throw new Error(`PLATEAU_ETCD_BIN names ${ETCD_BIN}, which does not exist`);
  if (process.getuid?.() !== 0) {
    throw new Error(`the etcd integration tests need ${ETCD_BIN}: install Debian's ${ETCD_PACKAGE} package (sudo apt-get install ${ETCD_PACKAGE})`);
  }
  const before = await listening(2379);
  installEtcd();
  if (!before && (await listening(2379))) {
    // Only reached if a service started despite the policy above. Our
    // install started it (2379 was free before), so it is ours to stop;
    // nothing of ours uses it.
    const stopped = run("service", ["etcd", "stop"], {});
    if (!stopped.ok) console.warn(`installing ${ETCD_PACKAGE} started a system etcd on 127.0.0.1:2379 that could not be stopped; the tests do not use it:\n${stopped.output}`);
  }
}

/**
 * A missing etcd fails the etcd tests (the harness throws this message when
 * one starts etcd), not the whole run: unit tests need no etcd.
 */
export default async function setup(): Promise<void> {
  if (existsSync(ETCD_BIN) || !mayRunEtcdTests()) return;
  try {
    await ensureEtcd();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(message);
    process.env[ETCD_UNAVAILABLE] = message;
  }
}
