import { describe, expect, it } from "vitest";
import { chooseResetType } from "./reset.ts";

describe("chooseResetType", () => {
  it("takes the most direct type when the system advertises nothing", () => {
    expect(chooseResetType("on", undefined)).toBe("On");
    expect(chooseResetType("off", undefined)).toBe("ForceOff");
    expect(chooseResetType("restart", undefined)).toBe("ForceRestart");
  });

  it("falls back to what the system allows", () => {
    const hpeLike = ["On", "ForceOff", "PushPowerButton", "GracefulShutdown", "PowerCycle"];
    expect(chooseResetType("restart", hpeLike)).toBe("PowerCycle");
    expect(chooseResetType("off", ["GracefulShutdown", "On"])).toBe("GracefulShutdown");
    expect(chooseResetType("on", ["ForceOn", "ForceOff"])).toBe("ForceOn");
  });

  it("finds nothing when the system allows none of the acceptable types", () => {
    expect(chooseResetType("restart", ["On", "ForceOff"])).toBeUndefined();
    expect(chooseResetType("on", [])).toBeUndefined();
  });
});
