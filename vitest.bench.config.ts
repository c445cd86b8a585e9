import { defineConfig } from "vitest/config";

/** Benchmarks (`npm run bench`): speed and memory targets live here, never in timed test assertions. */
export default defineConfig({
  test: {
    include: [],
    benchmark: { enabled: true, include: ["test/bench/**/*.bench.ts"] },
    testTimeout: 300_000,
  },
});
