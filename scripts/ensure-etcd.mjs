// Makes sure the etcd binary the integration tests start is there, before
// `npm test` (pretest) and so before CI's run. As root on Debian it installs
// the etcd-server package; otherwise it says what to install and fails.
// PLATEAU_ETCD_BIN names another binary (one you built, another
// distribution's); test/helpers/etcd-bin.ts reads the same variable.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";

const ETCD_BIN = process.env.PLATEAU_ETCD_BIN ?? "/usr/bin/etcd";
const ETCD_PACKAGE = "etcd-server";
const POLICY_RC = "/usr/sbin/policy-rc.d";

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    env: { ...process.env, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return {
    ok: result.status === 0,
    output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}`,
  };
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function fail(message) {
  console.error(`ensure-etcd: ${message}`);
  process.exit(1);
}

/**
 * Debian's etcd-server starts a system etcd on 2379 from its postinst. The
 * tests never use it (each starts its own on free ports), and a service we
 * did not mean to start is a process nobody owns. invoke-rc.d and
 * deb-systemd-invoke ask policy-rc.d whether they may start a service: exit
 * 101 says no. We write one only when there is none, and remove only the one
 * we wrote. RUNLEVEL=1 is a second guard for init scripts that check it.
 */
function install() {
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy)
    writeFileSync(
      POLICY_RC,
      "#!/bin/sh\n# written by plateau's scripts/ensure-etcd.mjs while it installs etcd-server\nexit 101\n",
      { mode: 0o755 },
    );
  const env = { DEBIAN_FRONTEND: "noninteractive", RUNLEVEL: "1" };
  const apt = ["install", "-y", "--no-install-recommends", ETCD_PACKAGE];
  try {
    let result = run("apt-get", apt, env);
    if (!result.ok) {
      // An old or missing package list is the usual cause; refresh once.
      run("apt-get", ["update"], env);
      result = run("apt-get", apt, env);
    }
    return result;
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true });
  }
}

if (existsSync(ETCD_BIN)) process.exit(0);
if (process.env.PLATEAU_ETCD_BIN !== undefined) fail(`PLATEAU_ETCD_BIN names ${ETCD_BIN}, which does not exist`);
if (process.getuid?.() !== 0)
  fail(
    `the etcd integration tests need ${ETCD_BIN}: install Debian's ${ETCD_PACKAGE} package (sudo apt-get install ${ETCD_PACKAGE}) or point PLATEAU_ETCD_BIN at an etcd binary`,
  );

console.log(`ensure-etcd: ${ETCD_BIN} is missing; installing ${ETCD_PACKAGE} with apt-get`);
const before = await listening(2379);
const result = install();
if (!before && (await listening(2379))) {
  // Only reached if a service started despite the policy above. Our install
  // started it (2379 was free before), so it is ours to stop.
  const stopped = run("service", ["etcd", "stop"]);
  if (!stopped.ok)
    console.warn(
      `ensure-etcd: installing ${ETCD_PACKAGE} started a system etcd on 127.0.0.1:2379 that could not be stopped; the tests do not use it:\n${stopped.output}`,
    );
}
if (!result.ok || !existsSync(ETCD_BIN))
  fail(
    `installing ${ETCD_PACKAGE} with apt-get failed; install it by hand (apt-get install ${ETCD_PACKAGE}):\n${result.output.slice(-2000)}`,
  );
