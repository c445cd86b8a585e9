import { describe, expect, it } from "vitest";
import type { BaremetalPoolStatus } from "../../lib/api/baremetalpool.ts";
import { MAX_STATUS_INTERVAL_MS, statusWriteDelay, type StatusPaceInput } from "./status-pace.ts";

function status(members: number, ready: number, opts: { generation?: number; readyReason?: string } = {}) {
  return {
    observedGeneration: opts.generation ?? 2,
    replicas: members,
    readyReplicas: ready,
    provisioningReplicas: members - ready,
    failedReplicas: 0,
    availableHardware: 0,
    conditions: [
      {
        type: "Ready",
        status: "False",
        reason: opts.readyReason ?? "Provisioning",
        message: `${ready} ready`,
      },
      { type: "Progressing", status: "True", reason: "MembersChanging", message: "" },
    ],
    members: Array.from({ length: members }, (_, i) => ({
      hardware: `s${i}`,
      phase: i < ready ? "Ready" : "Provisioning",
      attempts: 1,
    })),
  } as BaremetalPoolStatus;
}

const busyPass = (over: Partial<StatusPaceInput> = {}): StatusPaceInput => ({
  previous: status(1000, 100),
  next: status(1000, 200),
  busy: true,
  errors: 0,
  lastWriteAt: 10_000,
  now: 10_300,
  ...over,
});

describe("pacing a busy pool's status writes", () => {
  it("lets member progress of a big busy pool wait out an interval of 1 ms a member since the last write", () => {
    expect(statusWriteDelay(busyPass())).toBe(700);
    expect(statusWriteDelay(busyPass({ now: 11_000 }))).toBe(0);
    expect(statusWriteDelay(busyPass({ next: status(5000, 200), previous: status(5000, 100) }))).toBe(4700);
    const huge = busyPass({ next: status(20_000, 2), previous: status(20_000, 1), now: 10_000 });
    expect(statusWriteDelay(huge)).toBe(MAX_STATUS_INTERVAL_MS);
  });

  it("writes the status of a pool under 100 members at once", () => {
    expect(statusWriteDelay(busyPass({ next: status(3, 2), previous: status(3, 1), now: 10_001 }))).toBe(0);
    expect(statusWriteDelay(busyPass({ next: status(99, 2), previous: status(99, 1), now: 10_001 }))).toBe(0);
    expect(statusWriteDelay(busyPass({ next: status(100, 2), previous: status(100, 1), now: 10_001 }))).toBe(
      99,
    );
  });

  it("writes at once what people watch for: conditions, generation, errors, a pass with nothing left to do", () => {
    const allReady = status(1000, 1000, { readyReason: "AllReady" });
    expect(statusWriteDelay(busyPass({ next: allReady }))).toBe(0);
    expect(statusWriteDelay(busyPass({ next: status(1000, 200, { generation: 3 }) }))).toBe(0);
    expect(statusWriteDelay(busyPass({ errors: 1 }))).toBe(0);
    expect(statusWriteDelay(busyPass({ busy: false }))).toBe(0);
  });

  it("writes at once when this replica has not written the pool's status yet (a new leader)", () => {
    expect(statusWriteDelay(busyPass({ lastWriteAt: undefined }))).toBe(0);
  });
});
