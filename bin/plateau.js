#!/usr/bin/env node
// Entry point for `npx plateau`: runs the compiled CLI (built by `npm ci`
// through the `prepare` script).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
