import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CallSchema as OperatorCallSchema,
  Call_Type as OperatorCallType,
} from "../../gen/mesos/v1/master/master_pb.js";
import { Error_Code } from "../../gen/mesos/v2/mesos_pb.js";
import { MasterHarness } from "../helpers/master-harness.js";

type Amounts = Record<string, number>;
interface Config {
  role: string;
  guarantees?: Amounts;
  limits?: Amounts;
}

const toScalars = (m: Amounts = {}) => Object.fromEntries(Object.entries(m).map(([k, value]) => [k, { value }]));
const fromScalars = (m: { [name: string]: { value: number } }) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.value]));

function updateQuota(h: MasterHarness, configs: Config[], force = false) {
  const call = create(OperatorCallSchema, {
    type: OperatorCallType.UPDATE_QUOTA,
    updateQuota: {
      force,
      quotaConfigs: configs.map((c) => ({
        role: c.role,
        guarantees: toScalars(c.guarantees),
        limits: toScalars(c.limits),
      })),
    },
  });
  return h.core.operate(call, h.now).result;
}

function getQuota(h: MasterHarness) {
  const r = h.core.operate(create(OperatorCallSchema, { type: OperatorCallType.GET_QUOTA }), h.now).result;
  if ("code" in r) return [];
  return (r.getQuota?.status?.configs ?? []).map((c) => ({
    role: c.role,
    guarantees: fromScalars(c.guarantees),
    limits: fromScalars(c.limits),
  }));
}

/** cpus offered to each scheduler session so far. */
function offeredCpus(h: MasterHarness, sessions: string[]) {
  return Object.fromEntries(
    sessions.map((s) => [
      s,
      h
        .schedulerEvents(s)
        .flatMap((e) => e.offers?.offers ?? [])
        .flatMap((o) => o.resources)
        .filter((r) => r.name === "cpus")
        .reduce((n, r) => n + (r.scalar?.value ?? 0), 0),
    ]),
  );
}

const MULTI_ROLE = [{ type: 6 }];

describe("master: quota guarantees", () => {
  it("accepts guarantees, reports them in GET_QUOTA, and offers the guaranteed role its share first", () => {
    const h = new MasterHarness();
    for (let i = 0; i < 4; i++) h.registerAgent(`agent-${i}`, "cpus:2;mem:1024", `host-${i}`);
    const ok = updateQuota(h, [{ role: "analytics", guarantees: { cpus: 6 }, limits: { cpus: 8 } }]);
    expect("code" in ok).toBe(false);
    expect(getQuota(h)).toEqual([{ role: "analytics", guarantees: { cpus: 6 }, limits: { cpus: 8 } }]);
    h.subscribe("web", { roles: ["web"], capabilities: MULTI_ROLE });
    h.subscribe("analytics", { roles: ["analytics"], capabilities: MULTI_ROLE });
    h.allocate();
    // The web framework came first and would have had every agent without the guarantee.
    expect(offeredCpus(h, ["web", "analytics"])).toEqual({ web: 2, analytics: 6 });
  });

  it("holds back the guaranteed resources of a role with no framework yet", () => {
    const h = new MasterHarness();
    for (let i = 0; i < 4; i++) h.registerAgent(`agent-${i}`, "cpus:2;mem:1024", `host-${i}`);
    updateQuota(h, [{ role: "analytics", guarantees: { cpus: 4 } }]);
    h.subscribe("web", { roles: ["web"], capabilities: MULTI_ROLE });
    h.allocate();
    expect(offeredCpus(h, ["web"])).toEqual({ web: 4 });
    h.subscribe("analytics", { roles: ["analytics"], capabilities: MULTI_ROLE });
    h.allocate();
    expect(offeredCpus(h, ["analytics"])).toEqual({ analytics: 4 });
  });

  it("removing the guarantee lets everything be offered again", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:2;mem:1024");
    updateQuota(h, [{ role: "analytics", guarantees: { cpus: 2 } }]);
    h.subscribe("web", { roles: ["web"], capabilities: MULTI_ROLE });
    h.allocate();
    expect(offeredCpus(h, ["web"])).toEqual({ web: 0 });
    updateQuota(h, [{ role: "analytics" }]);
    expect(getQuota(h)).toEqual([]);
    h.allocate();
    expect(offeredCpus(h, ["web"])).toEqual({ web: 2 });
  });
});

describe("master: UPDATE_QUOTA validation", () => {
  const refused = (r: ReturnType<typeof updateQuota>) =>
    "code" in r ? { code: r.code, message: r.message } : undefined;

  it("refuses a guarantee above its limit", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:8;mem:1024");
    const r = refused(updateQuota(h, [{ role: "eng", guarantees: { cpus: 4 }, limits: { cpus: 2 } }]));
    expect(r?.code).toBe(Error_Code.INVALID_ARGUMENT);
    expect(r?.message).toMatch(/exceeds its limit/);
    expect(getQuota(h)).toEqual([]);
  });

  it("refuses guarantees beyond the cluster's capacity unless forced", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:2;mem:1024");
    const r = refused(
      updateQuota(h, [
        { role: "a", guarantees: { cpus: 2 } },
        { role: "b", guarantees: { cpus: 1 } },
      ]),
    );
    expect(r?.message).toMatch(/capacity/);
    expect(getQuota(h)).toEqual([]);
    expect(
      refused(
        updateQuota(
          h,
          [
            { role: "a", guarantees: { cpus: 2 } },
            { role: "b", guarantees: { cpus: 1 } },
          ],
          true,
        ),
      ),
    ).toBeUndefined();
    expect(getQuota(h).map((c) => c.role)).toEqual(["a", "b"]);
  });

  it("needs a parent's guarantees to cover its children's", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:8;mem:1024");
    const orphan = refused(updateQuota(h, [{ role: "eng/web", guarantees: { cpus: 1 } }]));
    expect(orphan?.message).toMatch(/role 'eng': its guarantees do not contain/);
    const tooMuch = refused(
      updateQuota(h, [
        { role: "eng", guarantees: { cpus: 2 } },
        { role: "eng/web", guarantees: { cpus: 1 } },
        { role: "eng/api", guarantees: { cpus: 2 } },
      ]),
    );
    expect(tooMuch?.message).toMatch(/children's guarantees \(3 cpus\)/);
    expect(
      refused(
        updateQuota(h, [
          { role: "eng", guarantees: { cpus: 3 } },
          { role: "eng/web", guarantees: { cpus: 1 } },
          { role: "eng/api", guarantees: { cpus: 2 } },
        ]),
      ),
    ).toBeUndefined();
    // Fixed-point sums, as Mesos' scalars: 0.1 + 0.2 fits in 0.3.
    expect(
      refused(
        updateQuota(h, [
          { role: "ops", guarantees: { cpus: 0.3 } },
          { role: "ops/a", guarantees: { cpus: 0.1 } },
          { role: "ops/b", guarantees: { cpus: 0.2 } },
        ]),
      ),
    ).toBeUndefined();
  });

  it("refuses quota on resources that are not scalars", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:8;mem:1024;zones:{a,b}");
    expect(refused(updateQuota(h, [{ role: "eng", guarantees: { ports: 10 } }]))?.message).toMatch(/'ports' is RANGES/);
    expect(refused(updateQuota(h, [{ role: "eng", limits: { zones: 1 } }]))?.message).toMatch(/'zones' is SET/);
    expect(getQuota(h)).toEqual([]);
  });

  it("refuses amounts Mesos cannot represent, and invalid roles", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-0", "cpus:8;mem:1024");
    expect(refused(updateQuota(h, [{ role: "eng", limits: { mem: 2 * 1024 ** 4 } }]))?.message).toMatch(
      /not supported/,
    );
    expect(refused(updateQuota(h, [{ role: "eng", limits: { cpus: 2e12 } }]))?.message).toMatch(/not supported/);
    expect(refused(updateQuota(h, [{ role: "eng/../x", guarantees: { cpus: 1 } }]))?.message).toMatch(/invalid role/);
    expect(refused(updateQuota(h, [{ role: "*", guarantees: { cpus: 1 } }]))?.message).toMatch(/'\*'/);
  });

  it("rescinds outstanding offers when quota changes, so the new limits apply at once", () => {
    const h = new MasterHarness();
    h.registerAgent("agent-1", "cpus:8;mem:4096");
    h.subscribe("sched", { roles: ["web"], capabilities: [{ type: 6 /* MULTI_ROLE */ }] });
    h.allocate();
    const first = h.schedulerEvents("sched").flatMap((e) => e.offers?.offers ?? [])[0];
    const effects = h.core.operate(
      create(OperatorCallSchema, {
        type: OperatorCallType.UPDATE_QUOTA,
        updateQuota: { quotaConfigs: [{ role: "web", limits: toScalars({ cpus: 2 }) }] },
      }),
      h.now,
    ).effects;
    h.apply(effects);
    expect(h.schedulerEvents("sched").some((e) => e.rescind?.offerId?.value === first?.id?.value)).toBe(true);
    h.allocate();
    const next = h
      .schedulerEvents("sched")
      .flatMap((e) => e.offers?.offers ?? [])
      .at(-1);
    expect(next?.resources.find((r) => r.name === "cpus")?.scalar?.value).toBe(2);
  });
});
