import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CallSchema, Call_Type as OperatorCallType } from "../../gen/mesos/v1/master/master_pb.js";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { AgentCall_ReconfigurationPolicy as Policy } from "../../gen/mesos/v2/mesos_pb.js";
import { applyRegistryOperation, emptyRegistry } from "../../src/core/registry/registry.js";
import { formatResources, parseAttributes, parseResources } from "../../src/core/resources/index.js";
import { MasterHarness } from "../helpers/master-harness.js";

function register(
  h: MasterHarness,
  session: string,
  agentId: string,
  resources: string,
  options: { attributes?: string; policy?: Policy; port?: number } = {},
): void {
  h.send(session, {
    case: "agent",
    value: {
      call: {
        case: "register",
        value: {
          agentInfo: {
            id: { value: agentId },
            hostname: "host-a",
            port: options.port ?? 5051,
            resources: parseResources(resources),
            attributes: parseAttributes(options.attributes ?? ""),
          },
          version: "test",
          reconfigurationPolicy: options.policy ?? Policy.UNSPECIFIED,
        },
      },
    },
  });
}

function agentTotal(h: MasterHarness, agentId: string): string | undefined {
  const { result } = h.core.operate(create(CallSchema, { type: OperatorCallType.GET_AGENTS }), h.now);
  if ("code" in result) throw new Error(result.message);
  const agent = result.getAgents?.agents.find((a) => a.agentInfo?.id?.value === agentId);
  return agent === undefined ? undefined : formatResources(agent.totalResources);
}

/** A master started on a registry that holds `agentId` admitted on host-a:5051 with `resources`. */
function restartedWith(agentId: string, resources: string): MasterHarness {
  const info = create(AgentInfoSchema, {
    id: { value: agentId },
    hostname: "host-a",
    port: 5051,
    resources: parseResources(resources),
  });
  return new MasterHarness({
    registry: applyRegistryOperation(emptyRegistry(), { kind: "admit-agent", info }).registry,
  });
}

describe("master: an agent that re-registers offering something else", () => {
  it("is refused for good, naming the change, and its known record is left as it was", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", "cpus:4;mem:1024");
    h.closed("a1");
    const persistedBefore = h.persisted.length;
    register(h, "a1-again", agentId, "cpus:2;mem:1024");
    const error = h.errors("a1-again").at(-1);
    expect(error?.fatal).toBe(true);
    expect(error?.message).toContain(`Agent ${agentId}`);
    expect(error?.message).toContain("resource cpus shrank from cpus:4 to cpus:2");
    expect(error?.message).toContain("'equal'");
    expect(h.ended.has("a1-again")).toBe(true);
    expect(h.agentEvents("a1-again").some((e) => e.event.case === "registered")).toBe(false);
    expect(h.persisted.length).toBe(persistedBefore);
    expect(agentTotal(h, agentId)).toBe("cpus:4; mem:1024");
    // Nothing to offer from it: it stays disconnected until it is marked unreachable.
    h.advance(15_000 * 5);
    h.apply(h.core.expire(h.now));
    expect(h.persisted.at(-1)).toMatchObject({ kind: "mark-agent-unreachable", agentId });
  });

  it("equal (the default) refuses growth too; additive takes it and the new total", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", "cpus:4;mem:1024");
    h.closed("a1");
    register(h, "a1-equal", agentId, "cpus:8;mem:1024", { policy: Policy.EQUAL });
    expect(h.errors("a1-equal").at(-1)?.message).toContain("resource cpus grew from cpus:4 to cpus:8");
    register(h, "a1-additive", agentId, "cpus:8;mem:1024", { attributes: "rack:a", policy: Policy.ADDITIVE });
    expect(h.errors("a1-additive")).toEqual([]);
    expect(h.agentEvents("a1-additive").some((e) => e.event.case === "registered")).toBe(true);
    expect(agentTotal(h, agentId)).toBe("cpus:8; mem:1024");
  });

  it("additive takes an added attribute, then refuses a changed one", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", "cpus:4");
    h.closed("a1");
    register(h, "a1-rack", agentId, "cpus:4", { attributes: "rack:b", policy: Policy.ADDITIVE });
    expect(h.errors("a1-rack")).toEqual([]);
    h.closed("a1-rack");
    register(h, "a1-rack2", agentId, "cpus:4", { attributes: "rack:c", policy: Policy.ADDITIVE });
    expect(h.errors("a1-rack2").at(-1)?.message).toContain("attribute rack changed from rack:b to rack:c");
  });

  it("compares an unreachable agent that comes back with what it offered before", () => {
    const h = new MasterHarness();
    const agentId = h.registerAgent("a1", "cpus:4;mem:1024");
    h.closed("a1");
    h.advance(15_000 * 5);
    h.apply(h.core.expire(h.now));
    expect(h.persisted.at(-1)).toMatchObject({ kind: "mark-agent-unreachable", agentId });
    register(h, "a1-fewer", agentId, "cpus:2;mem:1024");
    expect(h.errors("a1-fewer").at(-1)?.message).toContain("resource cpus shrank from cpus:4 to cpus:2");
    // Still unreachable: nothing was admitted.
    expect(h.persisted.at(-1)).toMatchObject({ kind: "mark-agent-unreachable", agentId });
    register(h, "a1-same", agentId, "cpus:4;mem:1024");
    expect(h.agentEvents("a1-same").some((e) => e.event.case === "registered")).toBe(true);
  });

  it("compares an agent the registry lists as unreachable after a master restart", () => {
    const info = create(AgentInfoSchema, {
      id: { value: "a8" },
      hostname: "host-a",
      resources: parseResources("cpus:4;mem:1024"),
    });
    let registry = applyRegistryOperation(emptyRegistry(), { kind: "admit-agent", info }).registry;
    registry = applyRegistryOperation(registry, { kind: "mark-agent-unreachable", agentId: "a8", time: 1 }).registry;
    const h = new MasterHarness({ registry });
    register(h, "a8-more", "a8", "cpus:4;mem:1024", { attributes: "rack:a" });
    expect(h.errors("a8-more").at(-1)?.message).toContain("attribute rack:a was added");
    register(h, "a8-additive", "a8", "cpus:4;mem:1024", { attributes: "rack:a", policy: Policy.ADDITIVE });
    expect(h.agentEvents("a8-additive").some((e) => e.event.case === "registered")).toBe(true);
  });

  it("compares with the registry's agent info after a master restart", () => {
    const h = restartedWith("a9", "cpus:4;mem:1024");
    register(h, "a9-fewer", "a9", "cpus:1;mem:1024");
    expect(h.errors("a9-fewer").at(-1)?.message).toContain("resource cpus shrank from cpus:4 to cpus:1");
    register(h, "a9-same", "a9", "cpus:4;mem:1024");
    expect(h.errors("a9-same")).toEqual([]);
    expect(h.agentEvents("a9-same").some((e) => e.event.case === "registered")).toBe(true);
  });

  it("writes nothing for an admitted agent that comes back as it was, and admits it again when it is not", () => {
    const h = restartedWith("a10", "cpus:4;mem:1024");
    register(h, "a10-same", "a10", "cpus:4;mem:1024");
    expect(h.agentEvents("a10-same").some((e) => e.event.case === "registered")).toBe(true);
    expect(h.persisted).toEqual([]);
    // Back on another port (`--port 0`): what the registry holds changes.
    register(h, "a10-moved", "a10", "cpus:4;mem:1024", { port: 5052 });
    expect(h.agentEvents("a10-moved").some((e) => e.event.case === "registered")).toBe(true);
    expect(h.persisted).toMatchObject([{ kind: "admit-agent", info: { port: 5052 } }]);
  });
});
