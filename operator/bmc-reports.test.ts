import { describe, expect, it } from "vitest";
import type { BmcMachine } from "../lib/bmc/target.ts";
import { BmcReports } from "./bmc-reports.ts";
import type { BmcReport } from "./vouch-match.ts";

const machine = (name: string, resourceVersion = "1"): BmcMachine => ({
  metadata: { name, namespace: "dc", resourceVersion },
  spec: { connection: { host: "https://10.0.0.1" } },
});

/** A clock the test moves, and a BMC reader that counts its reads and can be told to fail. */
function setup(opts: { concurrency?: number } = {}) {
  let now = 0;
  const reads: string[] = [];
  const failing = new Set<string>();
  const failures: { name: string; retryInMs: number }[] = [];
  const reports = new BmcReports({
    read: (m) => {
      const name = m.metadata.name ?? "";
      reads.push(name);
      return failing.has(name)
        ? Promise.reject(new Error("unreachable"))
        : Promise.resolve<BmcReport>({ machine: name, macs: [] });
    },
    onFailure: (m, _err, retryInMs) => failures.push({ name: m.metadata.name ?? "", retryInMs }),
    ttlMs: 600_000,
    backoffMs: 30_000,
    maxBackoffMs: 100_000,
    now: () => now,
    ...opts,
  });
  return { reports, reads, failing, failures, advance: (ms: number) => (now += ms) };
}

describe("reading what BMCs report, with bounded work", () => {
  it("reuses a report until it is ttl old, and reads a changed Machine again at once", async () => {
    const t = setup();
    await t.reports.of("dc", [machine("m1")]);
    t.advance(599_999);
    expect(await t.reports.of("dc", [machine("m1")])).toEqual([{ machine: "m1", macs: [] }]);
    expect(t.reads).toEqual(["m1"]);
    await t.reports.of("dc", [machine("m1", "2")]);
    expect(t.reads).toEqual(["m1", "m1"]);
    t.advance(600_000);
    await t.reports.of("dc", [machine("m1", "2")]);
    expect(t.reads).toEqual(["m1", "m1", "m1"]);
  });

  it("leaves a failed BMC out until its backoff ends, doubling per failure up to the cap", async () => {
    const t = setup();
    t.failing.add("m1");
    expect(await t.reports.of("dc", [machine("m1"), machine("m2")])).toEqual([{ machine: "m2", macs: [] }]);
    t.advance(29_999);
    await t.reports.of("dc", [machine("m1")]);
    expect(t.reads.filter((n) => n === "m1")).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      t.advance(100_000);
      await t.reports.of("dc", [machine("m1")]);
    }
    expect(t.failures.map((f) => f.retryInMs)).toEqual([30_000, 60_000, 100_000, 100_000]);
    t.failing.delete("m1");
    t.advance(100_000);
    expect(await t.reports.of("dc", [machine("m1")])).toEqual([{ machine: "m1", macs: [] }]);
  });

  it("forgets a Machine no longer listed, so one listed again is read afresh", async () => {
    const t = setup();
    await t.reports.of("dc", [machine("m1")]);
    await t.reports.of("dc", []);
    await t.reports.of("dc", [machine("m1")]);
    expect(t.reads).toEqual(["m1", "m1"]);
  });

  it("reads at most `concurrency` BMCs at once, and all of them", async () => {
    let running = 0;
    let most = 0;
    const reports = new BmcReports({
      concurrency: 3,
      read: async (m) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        running -= 1;
        return { machine: m.metadata.name ?? "", macs: [] };
      },
    });
    const names = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const got = await reports.of(
      "dc",
      names.map((n) => machine(n)),
    );
    expect(got.map((r) => r.machine)).toEqual(names);
    expect(most).toBe(3);
  });
});
