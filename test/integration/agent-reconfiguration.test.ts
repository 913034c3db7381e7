import { afterEach, describe, expect, it } from "vitest";
import type { Response_GetAgents_Agent } from "../../gen/mesos/v1/master/master_pb.js";
import type { Offer } from "../../gen/mesos/v1/mesos_pb.js";
import { Event_Type } from "../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { createOperator } from "../../src/client/operator.js";
import { createScheduler } from "../../src/client/scheduler.js";
import { formatAttributes, formatResources, scalarOf } from "../../src/core/resources/index.js";
import { type Daemon, eventually, ProcessScope } from "../helpers/processes.js";

function exitCode(daemon: Daemon): Promise<number | null> {
  const child = daemon.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** The agent's log lines at fatal level (pino: 60). */
function fatalLines(daemon: Daemon): string {
  return daemon
    .logs()
    .split("\n")
    .filter((line) => line.includes('"level":60'))
    .join("\n");
}

describe("an agent restarted offering something else under its id", () => {
  const scope = new ProcessScope();
  afterEach(() => scope.cleanup());

  it("is refused and exits with the change named (equal), its old record kept; additive lets it grow", async () => {
    const master = await scope.start(["master", "--port", "0", "--allocation-interval", "200ms"], "master listening");
    const address = `127.0.0.1:${master.port}`;
    const workDir = scope.tempDir();
    const startAgent = (resources: string, attributes: string, more: string[] = []) =>
      scope.start(
        [
          "agent",
          "--master",
          address,
          "--port",
          "0",
          "--work-dir",
          workDir,
          "--resources",
          resources,
          "--attributes",
          attributes,
          ...more,
        ],
        "agent listening",
      );
    const operator = createOperator({ master: address });
    const theAgent = async (): Promise<Response_GetAgents_Agent | undefined> => (await operator.getAgents()).agents[0];
    const offers: Offer[] = [];
    const scheduler = createScheduler({
      master: address,
      framework: { user: "test", name: "watcher" },
      onEvent: (e) => {
        if (e.type !== Event_Type.OFFERS) return;
        offers.push(...(e.offers?.offers ?? []));
        scheduler.decline(
          (e.offers?.offers ?? []).map((o) => o.id!),
          0.2,
        );
      },
    });
    try {
      const first = await startAgent("cpus:2;mem:256;disk:100", "rack:a");
      const registered = await eventually(async () => ((await theAgent())?.active ? theAgent() : undefined), "agent");
      const agentId = registered?.agentInfo?.id?.value ?? "";
      await first.stop();
      await eventually(async () => ((await theAgent())?.active === false ? true : undefined), "agent disconnected");

      // Fewer cpus, another rack: refused with both changes named; the agent exits.
      const fewer = await startAgent("cpus:1;mem:256;disk:100", "rack:b");
      expect(await exitCode(fewer)).toBe(1);
      const said = fatalLines(fewer);
      expect(said).toContain(`Agent ${agentId} offers other than when it registered before`);
      expect(said).toContain("resource cpus shrank from cpus:2 to cpus:1");
      expect(said).toContain("attribute rack changed from rack:a to rack:b");
      expect(said).toContain("'equal'");
      expect(fewer.logs()).toContain("plateau: the master refuses this agent");
      // The operator still sees the agent as it was, not connected.
      const kept = await theAgent();
      expect([kept?.agentInfo?.id?.value, kept?.active]).toEqual([agentId, false]);
      expect(formatResources(kept?.totalResources ?? [])).toBe("cpus:2; mem:256; disk:100; ports:[31000-32000]");
      expect(formatAttributes(kept?.agentInfo?.attributes ?? [])).toBe("rack:a");

      // Growth is refused under the default policy too, and taken under additive.
      const grownEqual = await startAgent("cpus:4;mem:256;disk:100", "rack:a;zone:west");
      expect(await exitCode(grownEqual)).toBe(1);
      expect(fatalLines(grownEqual)).toContain("resource cpus grew from cpus:2 to cpus:4");
      await startAgent("cpus:4;mem:256;disk:100", "rack:a;zone:west", ["--reconfiguration-policy", "additive"]);
      const grown = await eventually(async () => ((await theAgent())?.active ? theAgent() : undefined), "back");
      expect(grown?.agentInfo?.id?.value).toBe(agentId);
      expect(formatResources(grown?.totalResources ?? [])).toBe("cpus:4; mem:256; disk:100; ports:[31000-32000]");
      expect(formatAttributes(grown?.agentInfo?.attributes ?? [])).toBe("rack:a;zone:west");
      // Frameworks are offered the new total.
      offers.splice(0);
      const offer = await eventually(
        () => offers.find((o) => o.agentId?.value === agentId && scalarOf(o.resources, "cpus") === 4),
        "an offer of 4 cpus",
      );
      expect(offer.attributes.map((a) => a.name)).toEqual(["rack", "zone"]);
    } finally {
      await scheduler.teardown().catch(() => undefined);
      await operator.close();
    }
  }, 90_000);
});
