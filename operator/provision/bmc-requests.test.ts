import { describe, expect, it } from "vitest";
import type { PowerPath } from "../../lib/bmc/power.ts";
import { BmcConfigError } from "../../lib/bmc/target.ts";
import { RedfishError } from "../../lib/redfish/errors.ts";
import { powerControl } from "./bmc-power.ts";
import { errorResult, type BmcOperation, type BmcResult } from "./bmc-requests.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";

const hw: Hardware = { metadata: { name: "s1", namespace: "ns" }, spec: {} };

function path(pxe: PowerPath["pxeBootOnce"], off: PowerPath["powerOff"] = pxe): PowerPath {
  return { pxeBootOnce: pxe, powerOff: off, powerState: () => Promise.resolve("unknown") };
}

function recorder(): {
  seen: [BmcOperation, BmcResult][];
  observe: (o: BmcOperation, r: BmcResult, s: number) => void;
} {
  const seen: [BmcOperation, BmcResult][] = [];
  return {
    seen,
    observe: (operation, result, seconds) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      seen.push([operation, result]);
    },
  };
}

describe("power requests are timed and sorted by result", () => {
  it("done, pending (a rufio Job running) and failed outcomes", async () => {
    const r = recorder();
    const outcomes = [
      { state: "done", detail: "ok" },
      { state: "pending", detail: "waiting" },
      { state: "failed", detail: "rufio says no" },
    ] as const;
    let i = 0;
    const power = powerControl(
      path(() => Promise.resolve(outcomes[i++] ?? outcomes[0])),
      r.observe,
    );
    await power.netbootOnce(hw, "k");
    await power.powerOff(hw, "k");
    await expect(power.netbootOnce(hw, "k")).rejects.toThrow("rufio says no");
    expect(r.seen).toEqual([
      ["netboot", "success"],
      ["power-off", "pending"],
      ["netboot", "failed"],
    ]);
  });

  it("a thrown error is counted by its kind and still thrown", async () => {
    const r = recorder();
    const refused = new RedfishError("unauthorized", "BMC 10.0.0.5 refused the credentials", 401);
    const power = powerControl(
      path(() => Promise.reject(refused)),
      r.observe,
    );
    await expect(power.powerOff(hw, "k")).rejects.toBe(refused);
    expect(r.seen).toEqual([["power-off", "unauthorized"]]);
  });

  it("without an observer nothing is timed and requests work the same", async () => {
    const power = powerControl(path(() => Promise.resolve({ state: "done", detail: "ok" })));
    await expect(power.netbootOnce(hw, "k")).resolves.toBeUndefined();
  });
});

describe("errorResult", () => {
  it("Redfish error kinds, a BMC described unusably, anything else", () => {
    expect(errorResult(new RedfishError("unreachable", "x", undefined, { notSent: true }))).toBe(
      "unreachable",
    );
    expect(errorResult(new RedfishError("tls", "x"))).toBe("tls");
    expect(errorResult(new BmcConfigError("no Secret"))).toBe("config");
    expect(errorResult(new Error("409 conflict"))).toBe("error");
  });
});
