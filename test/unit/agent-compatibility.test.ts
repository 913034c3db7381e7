import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { AgentCall_ReconfigurationPolicy as Policy } from "../../gen/mesos/v2/mesos_pb.js";
import { agentInfoChanges, reconfigurationRefusal } from "../../src/core/master/agent-compatibility.js";
import { parseAttributes, parseResources } from "../../src/core/resources/index.js";

const info = (resources: string, attributes = "", more: { hostname?: string; port?: number } = {}) =>
  create(AgentInfoSchema, {
    hostname: more.hostname ?? "host-a",
    port: more.port ?? 5051,
    resources: resources === "" ? [] : parseResources(resources),
    attributes: attributes === "" ? [] : parseAttributes(attributes),
  });

const allowed = (policy: Policy, before: ReturnType<typeof info>, after: ReturnType<typeof info>) =>
  reconfigurationRefusal("a1", policy, before, after) === undefined;

describe("agent reconfiguration policy", () => {
  it("equal: accepts the same offer in another order or port, refuses any change", () => {
    const before = info("cpus:4;mem:1024;ports:[31000-32000]", "rack:a;zone:west");
    expect(allowed(Policy.EQUAL, before, info("mem:1024;ports:[31000-32000];cpus:4", "zone:west;rack:a"))).toBe(true);
    expect(
      allowed(Policy.EQUAL, before, info("cpus:4;mem:1024;ports:[31000-32000]", "rack:a;zone:west", { port: 0 })),
    ).toBe(true);
    expect(allowed(Policy.EQUAL, before, info("cpus:8;mem:1024;ports:[31000-32000]", "rack:a;zone:west"))).toBe(false);
    expect(allowed(Policy.EQUAL, before, info("cpus:4;mem:1024;ports:[31000-32000]", "rack:a;zone:west;os:x"))).toBe(
      false,
    );
  });

  it("equal: the same offer in the same order is accepted, and one changed value in it is not (each kind of value)", () => {
    const offer = "cpus:4;mem:1024;ports:[31000-31500,31600-32000];gpus(gpu-role):1;colors:{red,blue}";
    const before = info(offer, "rack:a;zone:west;floor:3;slots:[1-4];tags:{x,y}");
    expect(allowed(Policy.EQUAL, before, info(offer, "rack:a;zone:west;floor:3;slots:[1-4];tags:{x,y}"))).toBe(true);
    for (const changed of [
      "cpus:4;mem:1024;ports:[31000-31500,31600-32001];gpus(gpu-role):1;colors:{red,blue}",
      "cpus:4;mem:1024;ports:[31000-31500];gpus(gpu-role):1;colors:{red,blue}",
      "cpus:4;mem:1024;ports:[31000-31500,31600-32000];gpus:1;colors:{red,blue}",
      "cpus:4;mem:1024;ports:[31000-31500,31600-32000];gpus(gpu-role):1;colors:{red,green}",
      "cpus:4;mem:1024.5;ports:[31000-31500,31600-32000];gpus(gpu-role):1;colors:{red,blue}",
    ])
      expect(allowed(Policy.EQUAL, before, info(changed, "rack:a;zone:west;floor:3;slots:[1-4];tags:{x,y}"))).toBe(
        false,
      );
    for (const changed of [
      "rack:b;zone:west;floor:3;slots:[1-4];tags:{x,y}",
      "rack:a;zone:west;floor:4;slots:[1-4];tags:{x,y}",
      "rack:a;zone:west;floor:3;slots:[1-5];tags:{x,y}",
      "rack:a;zone:west;floor:3;slots:[1-4];tags:{x}",
    ])
      expect(allowed(Policy.EQUAL, before, info(offer, changed))).toBe(false);
    expect(
      allowed(Policy.EQUAL, before, info(offer, "rack:a;zone:west;floor:3;slots:[1-4];tags:{x,y}", { hostname: "b" })),
    ).toBe(false);
  });

  it("unspecified is equal (an agent that sends no policy)", () => {
    expect(allowed(Policy.UNSPECIFIED, info("cpus:4"), info("cpus:4;mem:10"))).toBe(false);
    expect(allowed(Policy.UNSPECIFIED, info("cpus:4"), info("cpus:4"))).toBe(true);
  });

  it("additive: resources may be added and grow, never removed, shrunk or retyped", () => {
    expect(allowed(Policy.ADDITIVE, info("cpus:50"), info("cpus:50;mem:100"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("cpus:50;mem:100"), info("cpus:50"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("cpus:50"), info("cpus:[100-200]"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("cpus:50"), info("cpus:100"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("cpus:100"), info("cpus:50"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("ports:[100-200]"), info("ports:[100-300]"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("ports:[100-300]"), info("ports:[100-200]"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("ports:[100-200]"), info("ports:[150-300]"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("gpus:{a}"), info("gpus:{a,b}"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("gpus:{a,b}"), info("gpus:{a}"))).toBe(false);
    // A reservation is another kind of resource: moving cpus into one removes unreserved cpus.
    expect(allowed(Policy.ADDITIVE, info("cpus:4"), info("cpus(eng):4"))).toBe(false);
  });

  it("additive: attributes may be added, and range and set attributes grow; others may not change", () => {
    expect(allowed(Policy.ADDITIVE, info("", "os:lucid"), info("", "os:lucid;dc:amsterdam"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("", "os:lucid;dc:amsterdam"), info("", "os:lucid"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("", "os:lucid"), info("", "os:4"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("", "os:lucid"), info("", "os:trusty"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("", "rack:1"), info("", "rack:2"))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("", "span:[100-200]"), info("", "span:[100-300]"))).toBe(true);
    expect(allowed(Policy.ADDITIVE, info("", "span:[100-300]"), info("", "span:[100-200]"))).toBe(false);
  });

  it("additive: the hostname may not change; the port may", () => {
    expect(allowed(Policy.ADDITIVE, info("cpus:1"), info("cpus:1", "", { hostname: "host-b" }))).toBe(false);
    expect(allowed(Policy.ADDITIVE, info("cpus:1"), info("cpus:1", "", { port: 6000 }))).toBe(true);
  });

  it("names every change the policy refuses, and only those", () => {
    const message = reconfigurationRefusal(
      "a1",
      Policy.ADDITIVE,
      info("cpus:4;mem:1024", "rack:a"),
      info("cpus:2;mem:2048;disk:10", "rack:b;zone:west"),
    );
    expect(message).toContain("Agent a1");
    expect(message).toContain("'additive'");
    expect(message).toContain("resource cpus shrank from cpus:4 to cpus:2");
    expect(message).toContain("attribute rack changed from rack:a to rack:b");
    expect(message).not.toContain("mem");
    expect(message).not.toContain("zone");
    expect(message).toContain("empty work dir");
    expect(message).not.toContain("--reconfiguration-policy");
  });

  it("suggests the additive policy where it would allow every change", () => {
    expect(reconfigurationRefusal("a1", Policy.EQUAL, info("cpus:4"), info("cpus:8"))).toContain(
      "--reconfiguration-policy=additive",
    );
    expect(reconfigurationRefusal("a1", Policy.EQUAL, info("cpus:4"), info("cpus:2"))).not.toContain(
      "--reconfiguration-policy",
    );
  });

  it("lists growth too, for the equal policy's message and for the operator", () => {
    expect(agentInfoChanges(info("cpus:4", "rack:a"), info("cpus:8;mem:1", "rack:a;os:x"))).toEqual([
      { what: "resource cpus grew from cpus:4 to cpus:8", additive: true },
      { what: "resource mem:1 was added", additive: true },
      { what: "attribute os:x was added", additive: true },
    ]);
  });
});
