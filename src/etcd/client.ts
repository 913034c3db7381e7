/** Connects to etcd with etcd3, plain or with TLS client certificates. */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { Etcd3 } from "etcd3";

/** PEM files for etcd's --client-cert-auth / --trusted-ca-file setups. */
export interface EtcdTlsFiles {
  /** The CA that signed etcd's server certificate; the system's roots when absent. */
  readonly caFile?: string;
  /** This master's client certificate and key (both or neither). */
  readonly certFile?: string;
  readonly keyFile?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the etcd ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * How long etcd3 waits before reopening a failed watch stream: doubling from
 * 100 ms up to 2 s. etcd3's default grows to 30 s, on timers that close()
 * does not clear (two per failure): after an etcd outage a closed client
 * kept its process alive for up to 30 s (test/leak-check.ts found it in the
 * HA tests), and a leader watch could take as long to come back.
 */
function watchBackoff(attempt = 0): { readonly duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration: Math.min(2_000, 100 * 2 ** attempt), next: () => watchBackoff(attempt + 1) };
}

/** `endpoints` are host:port; with `tls` they are dialled over TLS. */
export function createEtcdClient(endpoints: string[], tls?: EtcdTlsFiles): Etcd3 {
  const faultHandling = { watchBackoff: watchBackoff() };
  if (tls === undefined) return new Etcd3({ hosts: endpoints.map((e) => `http://${e}`), faultHandling });
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new Error("an etcd client certificate needs its key, and a key its certificate: give both files or neither");
  }
  return new Etcd3({
    hosts: endpoints.map((e) => `https://${e}`),
    faultHandling,
    credentials: {
      rootCertificate:
        tls.caFile === undefined ? Buffer.from(rootCertificates.join("\n")) : read(tls.caFile, "CA file"),
      privateKey: tls.keyFile === undefined ? undefined : read(tls.keyFile, "client key"),
      certChain: tls.certFile === undefined ? undefined : read(tls.certFile, "client certificate"),
    },
  });
}
