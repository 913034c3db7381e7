import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { finished } from "../../bench/state-fleet.js";
import { filledCore } from "../../bench/state-render.js";
import { Call_Type, CallSchema, type Response } from "../../gen/mesos/v1/master/master_pb.js";

const scalar = (resources: { name: string; scalar?: { value: number } }[], name: string): number =>
  resources.filter((r) => r.name === name).reduce((n, r) => n + (r.scalar?.value ?? 0), 0);

describe("the master's views between reads", () => {
  it("hand out the same agent and framework views while nothing changed, and new ones once a task ended", () => {
    const core = filledCore({ agents: 4, runningPerAgent: 2, finishedPerAgent: 0, frameworks: 2 });
    const read = () => (core.operate(create(CallSchema, { type: Call_Type.GET_STATE }), 0).result as Response).getState;
    const first = read();
    const again = read();
    const agents = (s: typeof first) => s?.getAgents?.agents ?? [];
    const frameworks = (s: typeof first) => s?.getFrameworks?.frameworks ?? [];
    expect(agents(again)).toEqual(agents(first));
    agents(again).forEach((a, i) => expect(a).toBe(agents(first)[i]));
    frameworks(again).forEach((f, i) => expect(f).toBe(frameworks(first)[i]));

    const task = first?.getTasks?.tasks.find((t) => t.agentId?.value === "state-agent-0");
    if (task === undefined) throw new Error("no task on agent 0");
    core.request("agent-session-0", finished(task, "state-agent-0"), 1);
    const after = read();
    const agent0 = agents(after).find((a) => a.agentInfo?.id?.value === "state-agent-0");
    const before0 = agents(first).find((a) => a.agentInfo?.id?.value === "state-agent-0");
    expect(agent0).not.toBe(before0);
    expect(scalar(agent0?.allocatedResources ?? [], "cpus")).toBeCloseTo(
      scalar(before0?.allocatedResources ?? [], "cpus") - scalar(task.resources, "cpus"),
    );
    const others = agents(after).filter((a) => a !== agent0);
    for (const a of others) expect(agents(first)).toContain(a);
    const owner = (s: typeof first) =>
      frameworks(s).find((f) => f.frameworkInfo?.id?.value === task.frameworkId?.value);
    expect(owner(after)).not.toBe(owner(first));
    expect(scalar(owner(after)?.allocatedResources ?? [], "mem")).toBeCloseTo(
      scalar(owner(first)?.allocatedResources ?? [], "mem") - scalar(task.resources, "mem"),
    );
  });
});
