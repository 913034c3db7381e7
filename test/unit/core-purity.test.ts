import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/processes.js";

/** The pure core may import only the protobuf runtime, generated code and itself. */
const ALLOWED = [/^@bufbuild\/protobuf(\/|$)/, /^\.{1,2}\//];
const FORBIDDEN_GLOBALS = /\b(Date\.now|setTimeout|setInterval|setImmediate|process\.|require\()/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("src/core stays free of I/O", () => {
  const files = sources(join(ROOT, "src", "core"));

  it("has files to check", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files.map((f) => [relative(ROOT, f), f]))(
    "%s imports no sockets, files, timers, processes or loggers",
    (_name, file) => {
      const text = readFileSync(file, "utf8");
      const imports = [...text.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)].map(
        (m) => m[1] ?? "",
      );
      const bad = imports.filter((spec) => !ALLOWED.some((re) => re.test(spec)));
      expect(bad).toEqual([]);
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      expect(code).not.toMatch(FORBIDDEN_GLOBALS);
      // Relative imports must stay inside src/core or reach generated code.
      for (const spec of imports.filter((s) => s.startsWith("."))) {
        const target = relative(ROOT, join(file, "..", spec));
        expect(target.startsWith("src/core") || target.startsWith("gen/"), `${spec} from ${relative(ROOT, file)}`).toBe(
          true,
        );
      }
    },
  );
});
