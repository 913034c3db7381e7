import { describe, expect, it } from "vitest";
import { agentCommand, agentOptionsFromFlags } from "../../src/cli/daemons.js";
import { parseFlags, UsageError } from "../../src/cli/flags.js";

const options = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  agentOptionsFromFlags(parseFlags(["--work-dir", "/tmp/w", ...argv], agentCommand.flags, env));

describe("plateau agent --reconfiguration-policy", () => {
  it("is equal unless told otherwise, as in Mesos", () => {
    expect(options([]).reconfigurationPolicy).toBe("equal");
    expect(options(["--reconfiguration-policy", "additive"]).reconfigurationPolicy).toBe("additive");
    expect(options([], { PLATEAU_RECONFIGURATION_POLICY: "additive" }).reconfigurationPolicy).toBe("additive");
  });

  it("refuses any other value with a usage error", () => {
    expect(() => options(["--reconfiguration-policy", "anything"])).toThrow(UsageError);
    expect(() => options(["--reconfiguration-policy", "anything"])).toThrow(/equal or additive/);
  });
});
