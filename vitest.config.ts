import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "lib/**/*.test.ts",
            "operator/**/*.test.ts",
            "discovery/**/*.test.ts",
            "test/unit/**/*.test.ts",
          ],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/{api,operator,discovery,bmc,lib,charts,sandbox,chaos,cluster,stack}/**/*.test.ts"],
          globalSetup: ["test/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: the API server, etcd and simulators need the second one.
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});
