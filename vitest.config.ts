import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Fails the run when it needs etcd and etcd is missing (see the file).
    globalSetup: ["test/global-setup.ts"],
    // Fails each file that leaves a process, a port or a handle behind.
    setupFiles: ["test/leak-check.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real daemons; two cores do not gain from more.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
