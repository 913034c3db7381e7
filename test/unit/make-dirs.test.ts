import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeDirs } from "../../src/util/make-dirs.js";

describe("makeDirs", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const base = () => {
    const dir = mkdtempSync(join(tmpdir(), "plateau-make-dirs-"));
    dirs.push(dir);
    return dir;
  };

  it("creates missing parents, and accepts a directory that exists", () => {
    const path = join(base(), "slaves", "a", "frameworks", "f", "executors", "e", "runs", "c");
    makeDirs(path);
    expect(statSync(path).isDirectory()).toBe(true);
    makeDirs(path);
    makeDirs(join(path, "..", "d"));
    expect(statSync(join(path, "..", "d")).isDirectory()).toBe(true);
  });

  it("fails where a file is in the way", () => {
    const dir = base();
    writeFileSync(join(dir, "file"), "");
    expect(() => makeDirs(join(dir, "file", "sandbox"))).toThrow(/ENOTDIR/);
  });
});
