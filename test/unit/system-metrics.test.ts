import { describe, expect, it } from "vitest";
import { parseDuration, systemMetrics } from "../../src/util/system-metrics.js";

describe("parseDuration (Mesos' Duration text, for /metrics/snapshot?timeout=)", () => {
  it("reads each of Mesos' units into milliseconds", () => {
    expect(parseDuration("5secs")).toBe(5000);
    expect(parseDuration("100ms")).toBe(100);
    expect(parseDuration("1.5mins")).toBe(90_000);
    expect(parseDuration("2hrs")).toBe(7_200_000);
    expect(parseDuration("1days")).toBe(86_400_000);
    expect(parseDuration("1weeks")).toBe(604_800_000);
    expect(parseDuration("1000us")).toBe(1);
    expect(parseDuration("1000000ns")).toBe(1);
  });

  it("says what is wrong with text that is not a duration, as Mesos refuses it", () => {
    for (const text of ["5", "soon", "5 parsecs", "", "-1secs"]) expect(parseDuration(text)).toMatch(/unit/);
  });
});

describe("systemMetrics", () => {
  it("reports the host under Mesos' system/* names", () => {
    const metrics = systemMetrics();
    expect(Object.keys(metrics).sort()).toEqual([
      "system/cpus_total",
      "system/load_15min",
      "system/load_1min",
      "system/load_5min",
      "system/mem_free_bytes",
      "system/mem_total_bytes",
    ]);
    expect(metrics["system/cpus_total"]).toBeGreaterThan(0);
  });
});
