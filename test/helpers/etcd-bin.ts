/**
 * Where the tests find etcd: a module of its own so that the global setup,
 * which runs in vitest's main process, loads nothing else of the harness.
 * scripts/ensure-etcd.mjs installs it (`npm test` runs that first).
 */
import { existsSync } from "node:fs";

/** Debian's path; PLATEAU_ETCD_BIN points elsewhere (an etcd you built, another distribution's). */
export const ETCD_BIN = process.env.PLATEAU_ETCD_BIN ?? "/usr/bin/etcd";
export const ETCD_PACKAGE = "etcd-server";

/** Why the etcd tests cannot run here, or undefined when they can. */
export function etcdMissing(): string | undefined {
  if (existsSync(ETCD_BIN)) return undefined;
  const named =
    process.env.PLATEAU_ETCD_BIN !== undefined ? "PLATEAU_ETCD_BIN names" : "the etcd integration tests need";
  return (
    `${named} ${ETCD_BIN}, which does not exist: run \`node scripts/ensure-etcd.mjs\` ` +
    `(as root it installs Debian's ${ETCD_PACKAGE}), install ${ETCD_PACKAGE} yourself, or point PLATEAU_ETCD_BIN at an etcd binary`
  );
}
