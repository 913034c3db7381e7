/**
 * The `--registry etcd://host:port[,host:port...]/prefix` form. The prefix
 * scopes every key Plateau writes, so several clusters can share one etcd.
 */

export interface EtcdUrl {
  /** host:port, in the order given. */
  readonly endpoints: string[];
  /** Starts with "/", never ends with one: keys are `${prefix}/registry`, ... */
  readonly prefix: string;
}

const SCHEME = "etcd://";
/** A DNS name, an IPv4 address, or an IPv6 address in brackets. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

function parseEndpoint(endpoint: string, url: string): string {
  const colon = endpoint.lastIndexOf(":");
  if (colon <= 0)
    throw new Error(`etcd endpoint '${endpoint}' in '${url}' needs a port (host:port, e.g. 127.0.0.1:2379)`);
  const host = endpoint.slice(0, colon);
  const port = endpoint.slice(colon + 1);
  if (!HOST.test(host)) throw new Error(`etcd endpoint '${endpoint}' in '${url}' has an invalid host '${host}'`);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new Error(`etcd endpoint '${endpoint}' in '${url}' has an invalid port '${port}' (1-65535)`);
  }
  return `${host}:${Number(port)}`;
}

function parsePrefix(path: string, url: string): string {
  const segments = path.split("/").filter((s, i, all) => !(s === "" && i === all.length - 1));
  if (segments.length === 0)
    throw new Error(`'${url}' needs a key prefix after the endpoints, e.g. etcd://127.0.0.1:2379/plateau`);
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      throw new Error(
        `the key prefix '/${path}' in '${url}' may hold only letters, digits, '.', '_', '-' between single slashes`,
      );
    }
  }
  return `/${segments.join("/")}`;
}

/** Parses `etcd://host:port[,host:port...]/prefix`; throws an Error that says what is wrong. */
export function parseEtcdUrl(url: string): EtcdUrl {
  if (!url.startsWith(SCHEME))
    throw new Error(`'${url}' is not an etcd URL: expected etcd://host:port[,host:port...]/prefix`);
  const rest = url.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  if (hosts === "") throw new Error(`'${url}' names no etcd endpoint: expected etcd://host:port[,host:port...]/prefix`);
  if (/[?#@]/.test(rest))
    throw new Error(`'${url}' may not carry credentials, a query or a fragment; pass TLS files as options`);
  const endpoints = hosts.split(",").map((e) => parseEndpoint(e.trim(), url));
  if (new Set(endpoints).size !== endpoints.length) throw new Error(`'${url}' names an endpoint twice`);
  return { endpoints, prefix: parsePrefix(slash < 0 ? "" : rest.slice(slash + 1), url) };
}
