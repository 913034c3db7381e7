// Links bin/plateau.js into node_modules/.bin so `npx plateau` runs this
// checkout's CLI. npm does not link a package's own bin for itself, and
// without the link npx would look for a package named "plateau" elsewhere.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

const binDir = resolve("node_modules", ".bin");
mkdirSync(binDir, { recursive: true });
const link = join(binDir, "plateau");
rmSync(link, { force: true });
symlinkSync(join("..", "..", "bin", "plateau.js"), link);
chmodSync(resolve("bin", "plateau.js"), 0o755);
