// Fails when gen/ is not what `buf generate` makes from proto/ now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const out = mkdtempSync(join(tmpdir(), "plateau-gen-"));
try {
  execFileSync("npx", ["buf", "generate", "-o", out], { stdio: "inherit" });
  const fresh = files(join(out, "gen"))
    .map((f) => relative(join(out, "gen"), f))
    .sort();
  const committed = files("gen")
    .map((f) => relative("gen", f))
    .sort();
  const stale = [];
  for (const f of new Set([...fresh, ...committed])) {
    const a = fresh.includes(f) ? readFileSync(join(out, "gen", f), "utf8") : null;
    const b = committed.includes(f) ? readFileSync(join("gen", f), "utf8") : null;
    if (a !== b) stale.push(f);
  }
  if (stale.length > 0) {
    console.error(`gen/ is stale (run npm run gen): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log("gen/ is up to date");
} finally {
  rmSync(out, { recursive: true, force: true });
}
