/**
 * Debian packages a test needs from outside npm (a Python gRPC client, its
 * code generator), installed the way scripts/ensure-etcd.mjs installs
 * etcd-server: as root with apt-get, refreshing the package lists once when
 * the first try fails; anyone else is told what to install. None of these
 * packages starts a service, so no policy-rc.d guard is needed here.
 */
import { execFile } from "node:child_process";

interface Run {
  ok: boolean;
  output: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}${error?.message ?? ""}` }),
    );
  });
}

/** The packages of `names` that dpkg does not list as installed (all of them where there is no dpkg). */
export async function missingDebianPackages(names: readonly string[]): Promise<string[]> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a JavaScript template
  const format = "-f=${Package} ${db:Status-Abbrev}\\n";
  const query = await run("dpkg-query", ["-W", format, ...names], 30_000);
  const installed = new Set(
    query.output
      .split("\n")
      .filter((line) => /^\S+ ii/.test(line))
      .map((line) => line.split(" ")[0]),
  );
  return names.filter((name) => !installed.has(name));
}

/** apt-get waits this long for another apt or dpkg (a colleague's install) to let go of its lock. */
const LOCK_TIMEOUT_S = 120;
/** Each apt-get run; three at most (install, update, install) fit in a test hook of 400 s. */
const APT_TIMEOUT_MS = 120_000;

/**
 * Makes sure `names` are installed: as root installs the missing ones,
 * otherwise (or when apt-get fails) throws an error that names the
 * packages and the command that installs them.
 */
export async function ensureDebianPackages(names: readonly string[], neededFor: string): Promise<void> {
  const missing = await missingDebianPackages(names);
  if (missing.length === 0) return;
  const command = `apt-get install ${missing.join(" ")}`;
  if (process.getuid?.() !== 0)
    throw new Error(`${neededFor} needs Debian's ${missing.join(", ")}: run \`sudo ${command}\``);
  const install = [
    "-o",
    `DPkg::Lock::Timeout=${LOCK_TIMEOUT_S}`,
    "install",
    "-y",
    "--no-install-recommends",
    ...missing,
  ];
  let result = await run("apt-get", install, APT_TIMEOUT_MS);
  if (!result.ok) {
    // An old or missing package list is the usual cause; refresh once.
    await run("apt-get", ["-o", `DPkg::Lock::Timeout=${LOCK_TIMEOUT_S}`, "update"], APT_TIMEOUT_MS);
    result = await run("apt-get", install, APT_TIMEOUT_MS);
  }
  const still = await missingDebianPackages(missing);
  if (still.length > 0)
    throw new Error(
      `${neededFor} needs Debian's ${still.join(", ")}, and \`${command}\` failed; install them by hand:\n${result.output.slice(-2000)}`,
    );
}
