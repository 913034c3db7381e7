import { describe, expect, it } from "vitest";
import { parseEtcdUrl } from "../../src/etcd/url.js";

describe("parseEtcdUrl", () => {
  it("reads one endpoint and the key prefix", () => {
    expect(parseEtcdUrl("etcd://127.0.0.1:2379/plateau")).toEqual({
      endpoints: ["127.0.0.1:2379"],
      prefix: "/plateau",
    });
  });

  it("reads several comma-separated endpoints, a nested prefix, and drops a trailing slash", () => {
    expect(parseEtcdUrl("etcd://etcd-1.example:2379,etcd-2.example:2379,[::1]:2379/prod/plateau/")).toEqual({
      endpoints: ["etcd-1.example:2379", "etcd-2.example:2379", "[::1]:2379"],
      prefix: "/prod/plateau",
    });
  });

  it.each([
    ["http://127.0.0.1:2379/plateau", /not an etcd URL/],
    ["etcd:///plateau", /names no etcd endpoint/],
    ["etcd://127.0.0.1/plateau", /needs a port/],
    ["etcd://127.0.0.1:0/plateau", /invalid port '0'/],
    ["etcd://127.0.0.1:70000/plateau", /invalid port/],
    ["etcd://127.0.0.1:x/plateau", /invalid port 'x'/],
    ["etcd://bad_host!:2379/plateau", /invalid host/],
    ["etcd://127.0.0.1:2379,/plateau", /needs a port/],
    ["etcd://127.0.0.1:2379,127.0.0.1:2379/plateau", /endpoint twice/],
    ["etcd://127.0.0.1:2379", /needs a key prefix/],
    ["etcd://127.0.0.1:2379/", /needs a key prefix/],
    ["etcd://127.0.0.1:2379/a//b", /key prefix/],
    ["etcd://127.0.0.1:2379/a/../b", /key prefix/],
    ["etcd://user:pw@127.0.0.1:2379/plateau", /credentials/],
    ["etcd://127.0.0.1:2379/plateau?x=1", /query/],
  ])("rejects %s with a message that says why", (url, message) => {
    expect(() => parseEtcdUrl(url)).toThrow(message);
  });
});
