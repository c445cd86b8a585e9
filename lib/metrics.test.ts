import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { EVENT_LOOP_MONITORING_MS, packageVersion, registerStandardMetrics } from "./metrics.ts";

const repoVersion = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

describe("registerStandardMetrics", () => {
  it("serves process and Node.js metrics under their standard names, and the build info", async () => {
    const registry = new Registry();
    registerStandardMetrics(registry);
    const text = await registry.metrics();
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_version_info",
    ])
      expect(text).toMatch(new RegExp(`^${name}[ {]`, "m"));
    expect(text).not.toMatch(/^metalpool_\w*process_/m);
    expect(text).toContain(`metalpool_build_info{version="${repoVersion}"} 1`);
  });

  it("still sees a stalled event loop with its coarser (cheaper) sampling period", async () => {
    const registry = new Registry();
    registerStandardMetrics(registry);
    // Let the monitor take a few samples, then block the loop well past the sampling period.
    await new Promise((r) => setTimeout(r, 3 * EVENT_LOOP_MONITORING_MS));
    const until = performance.now() + 400;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 2 * EVENT_LOOP_MONITORING_MS));
    const max = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await registry.metrics())?.[1];
    expect(Number(max)).toBeGreaterThan(0.25);
  });

  it("takes the version it is given", async () => {
    const registry = new Registry();
    registerStandardMetrics(registry, "1.2.3");
    expect(await registry.getSingleMetricAsString("metalpool_build_info")).toContain('{version="1.2.3"} 1');
  });
});

describe("packageVersion", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds metalpool's package.json one or two folders up (source and dist layouts), else says unknown", () => {
    dir = mkdtempSync(join(tmpdir(), "metalpool-version-"));
    mkdirSync(join(dir, "dist", "lib"), { recursive: true });
    expect(packageVersion(join(dir, "dist", "lib"))).toBe("unknown");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "metalpool", version: "9.8.7" }));
    expect(packageVersion(join(dir, "dist", "lib"))).toBe("9.8.7");
    expect(packageVersion(join(dir, "dist"))).toBe("9.8.7");
    writeFileSync(
      join(dir, "dist", "package.json"),
      JSON.stringify({ name: "something-else", version: "1.0.0" }),
    );
    expect(packageVersion(join(dir, "dist", "lib"))).toBe("9.8.7");
  });

  it("reads this repository's version from source", () => {
    expect(packageVersion()).toBe(repoVersion);
  });
});
