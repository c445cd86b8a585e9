/**
 * The fleet-scale benchmark (`npm run bench:scale`, README "Scale") run small in CI so it cannot rot: the
 * same code on its own control plane with N = 100. Only what does not depend on the machine's speed is
 * asserted: every member Ready and then released, the operator's writes per member on the happy path, no
 * writes at idle but the Lease's. The speed figures belong to the full benchmark.
 */
import { describe, expect, it } from "vitest";
import { runScale } from "../bench/scale-run.ts";

describe("the fleet-scale benchmark, N = 100", () => {
  it("runs end to end with at most 4 operator writes per member and none at idle", async () => {
    const lines: string[] = [];
    const r = await runScale({
      members: 100,
      hardware: 300,
      built: false,
      rawCount: 50,
      idleSeconds: 5,
      wipeMode: "None",
      simulatorConcurrency: 16,
      phaseTimeoutSeconds: 300,
      operatorArgs: [],
      log: (l) => lines.push(l),
    });
    expect(r.hardware).toBe(300);
    expect(r.up.operatorWritesPerMember).toBeGreaterThanOrEqual(2); // a claim and a Workflow each, at least
    expect(r.up.operatorWritesPerMember).toBeLessThanOrEqual(4);
    expect(r.down.operatorWritesPerMember).toBeLessThanOrEqual(4);
    expect(r.idle.writes.operator).toBe(0);
    expect(r.idle.writes.events).toBe(0);
    expect(r.up.eventsPerMember).toBeLessThan(1);
  }, 600_000);
});
