import { describe, expect, it } from "vitest";
import { parseMinAllocatable, parseWeights } from "../../src/core/allocator/index.js";

describe("--weights", () => {
  it("reads role=weight pairs", () => {
    expect([...parseWeights("eng=2, ops=0.5,eng/web=1.5")]).toEqual([
      ["eng", 2],
      ["ops", 0.5],
      ["eng/web", 1.5],
    ]);
    expect(parseWeights("").size).toBe(0);
  });

  it.each([
    ["eng", /ROLE=WEIGHT/],
    ["eng=0", /positive/],
    ["eng=abc", /positive/],
    ["a//b=1", /invalid role/],
  ])("refuses %j", (text, message) => {
    expect(() => parseWeights(text)).toThrow(message);
  });
});

describe("--min-allocatable-resources", () => {
  it("reads alternatives of quantities", () => {
    expect(parseMinAllocatable("cpus:0.01|mem:32").map((m) => [...m])).toEqual([[["cpus", 0.01]], [["mem", 32]]]);
    expect(parseMinAllocatable("cpus:1;mem:512").map((m) => [...m])).toEqual([
      [
        ["cpus", 1],
        ["mem", 512],
      ],
    ]);
  });

  it.each(["cpus", "cpus:-1", "cpus:1|", ":3"])("refuses %j", (text) => {
    expect(() => parseMinAllocatable(text)).toThrow();
  });
});
