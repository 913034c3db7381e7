import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  LabelsSchema,
  Offer_OperationSchema,
  Offer_Operation_Type as OperationType,
  Resource_ReservationInfo_Type as ReservationType,
  type Resource,
  Resource_ReservationInfoSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import {
  addResources,
  allocateTo,
  applyCheckpointed,
  applyConversion,
  type Conversion,
  conversionOf,
  formatResources,
  isCheckpointed,
  parseResources,
  reservationRole,
} from "../../src/core/resources/index.js";
import { reserved, volume } from "../helpers/resources.js";

const op = (init: Parameters<typeof create<typeof Offer_OperationSchema>>[1]) => create(Offer_OperationSchema, init);
const conv = (o: ReturnType<typeof op>): Conversion => {
  const c = conversionOf(o);
  if (typeof c === "string") throw new Error(c);
  return c;
};

describe("operations on resources", () => {
  const total = parseResources("cpus:4;mem:1024;disk:1000");

  it("RESERVE turns unreserved resources into a dynamic reservation, and UNRESERVE turns it back", () => {
    const reserve = conv(
      op({ type: OperationType.RESERVE, reserve: { resources: reserved("cpus:1;disk:100", "prod") } }),
    );
    const after = applyConversion(total, reserve);
    expect(formatResources(after ?? [])).toBe("cpus:3; mem:1024; disk:900; cpus(prod):1; disk(prod):100");
    const unreserve = conv(op({ type: OperationType.UNRESERVE, unreserve: { resources: reserved("cpus:1", "prod") } }));
    expect(formatResources(applyConversion(after ?? [], unreserve) ?? [])).toBe(
      "cpus:4; mem:1024; disk:900; disk(prod):100",
    );
  });

  it("refines a reservation for a sub-role only", () => {
    const base = reserved("cpus:2", "eng");
    const web = reserved("cpus:1", "eng").map((r) => {
      r.reservations = [
        ...r.reservations,
        create(Resource_ReservationInfoSchema, { type: ReservationType.DYNAMIC, role: "eng/web" }),
      ];
      return r;
    });
    const c = conv(op({ type: OperationType.RESERVE, reserve: { resources: web } }));
    const after = applyConversion(addResources(parseResources("cpus:1"), base), c);
    expect(after?.map(reservationRole).sort()).toEqual(["*", "eng", "eng/web"]);
    const sibling = reserved("cpus:1", "eng").map((r) => {
      r.reservations = [
        ...r.reservations,
        create(Resource_ReservationInfoSchema, { type: ReservationType.DYNAMIC, role: "ops" }),
      ];
      return r;
    });
    expect(conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: sibling } }))).toMatch(
      /sub-role of 'eng'/,
    );
  });

  it("refuses what cannot be reserved or unreserved, saying why", () => {
    expect(conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: parseResources("cpus:1") } }))).toMatch(
      /no reservation/,
    );
    expect(
      conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: parseResources("cpus(prod):1") } })),
    ).toMatch(/DYNAMIC/);
    expect(
      conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: reserved("cpus:1", "a//b") } })),
    ).toMatch(/'\/\/'/);
    expect(conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: [] } }))).toMatch(/no resources/);
    expect(
      conversionOf(op({ type: OperationType.UNRESERVE, unreserve: { resources: parseResources("cpus(prod):1") } })),
    ).toMatch(/dynamic/);
    expect(
      conversionOf(op({ type: OperationType.UNRESERVE, unreserve: { resources: volume("prod", "v1", "data") } })),
    ).toMatch(/DESTROY it first/);
    // Not there: the caller's check.
    expect(
      applyConversion(
        total,
        conv(op({ type: OperationType.RESERVE, reserve: { resources: reserved("cpus:5", "prod") } })),
      ),
    ).toBeUndefined();
  });

  it("CREATE makes a volume on reserved disk and DESTROY gives the disk back", () => {
    const withDisk =
      applyConversion(
        total,
        conv(op({ type: OperationType.RESERVE, reserve: { resources: reserved("disk:100", "prod") } })),
      ) ?? [];
    const created = applyConversion(
      withDisk,
      conv(op({ type: OperationType.CREATE, create: { volumes: volume("prod", "v1", "data") } })),
    );
    expect(formatResources(created ?? [])).toBe("cpus:4; mem:1024; disk:900; disk(prod):36; disk(prod)[v1:data]:64");
    const destroyed = applyConversion(
      created ?? [],
      conv(op({ type: OperationType.DESTROY, destroy: { volumes: volume("prod", "v1", "data") } })),
    );
    expect(formatResources(destroyed ?? [])).toBe("cpus:4; mem:1024; disk:900; disk(prod):100");
  });

  it("refuses malformed volumes", () => {
    const bad = (v: Resource[]) => conversionOf(op({ type: OperationType.CREATE, create: { volumes: v } }));
    expect(bad(volume("prod", "", "data"))).toMatch(/persistence.id is required/);
    expect(bad(volume("prod", "v1", "/abs"))).toMatch(/relative/);
    expect(bad(volume("prod", "v1", "a/../../etc"))).toMatch(/'\.\.'/);
    expect(bad(volume("prod", "a/b", "data"))).toMatch(/must not contain/);
    expect(bad([...volume("prod", "v1", "x"), ...volume("prod", "v1", "y")])).toMatch(/more than once/);
    const unreservedVolume = volume("prod", "v1", "data").map((r) => {
      r.reservations = [];
      return r;
    });
    expect(bad(unreservedVolume)).toMatch(/reserved disk/);
    const readOnly = volume("prod", "v1", "data").map((r) => {
      if (r.disk?.volume) r.disk.volume.mode = 2; // RO
      return r;
    });
    expect(bad(readOnly)).toMatch(/read-write/);
    expect(bad(volume("prod", "v\u0001", "data"))).toMatch(/control characters/);
  });

  it("refuses negative or malformed amounts in any operation, which would create resources", () => {
    const negative = reserved("cpus:1", "prod").map((r) => {
      if (r.scalar) r.scalar.value = -3;
      return r;
    });
    expect(conversionOf(op({ type: OperationType.RESERVE, reserve: { resources: negative } }))).toMatch(
      /RESERVE: invalid resources: .*negative/,
    );
    expect(conversionOf(op({ type: OperationType.UNRESERVE, unreserve: { resources: negative } }))).toMatch(
      /UNRESERVE: invalid resources/,
    );
  });

  it("keeps allocation_info, so conversions apply to offered resources", () => {
    const offered = allocateTo(total, "prod");
    const c = conv(
      op({ type: OperationType.RESERVE, reserve: { resources: allocateTo(reserved("cpus:1", "prod"), "prod") } }),
    );
    const after = applyConversion(offered, c) ?? [];
    expect(formatResources(after)).toBe("cpus:3; mem:1024; disk:1000; cpus(prod):1");
    expect(after.every((r) => r.allocationInfo?.role === "prod")).toBe(true);
  });

  it("rebuilds an agent's total from its flags and what it checkpointed", () => {
    const checkpointed = [...reserved("cpus:1", "prod"), ...volume("prod", "v1", "data")];
    expect(checkpointed.every(isCheckpointed)).toBe(true);
    expect(parseResources("cpus(prod):1").some(isCheckpointed)).toBe(false);
    const rebuilt = applyCheckpointed(total, checkpointed);
    expect(typeof rebuilt === "string" ? rebuilt : formatResources(rebuilt)).toBe(
      "cpus:3; mem:1024; disk:936; cpus(prod):1; disk(prod)[v1:data]:64",
    );
    expect(applyCheckpointed(parseResources("cpus:0.5;disk:1000"), checkpointed)).toMatch(/do not fit/);
  });

  it("keeps labelled reservations apart: only the same labels undo them", () => {
    const labelled = reserved("cpus:1", "prod").map((r) => {
      const top = r.reservations.at(-1);
      if (top !== undefined) top.labels = create(LabelsSchema, { labels: [{ key: "owner", value: "db" }] });
      return r;
    });
    const after =
      applyConversion(total, conv(op({ type: OperationType.RESERVE, reserve: { resources: labelled } }))) ?? [];
    expect(
      applyConversion(
        after,
        conv(op({ type: OperationType.UNRESERVE, unreserve: { resources: reserved("cpus:1", "prod") } })),
      ),
    ).toBeUndefined();
    expect(
      formatResources(
        applyConversion(after, conv(op({ type: OperationType.UNRESERVE, unreserve: { resources: labelled } }))) ?? [],
      ),
    ).toBe("cpus:4; mem:1024; disk:1000");
  });
});
