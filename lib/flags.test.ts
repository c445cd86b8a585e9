import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { envName, flag, parseHostPort } from "./flags.ts";

describe("flags", () => {
  it("each flag has a METALPOOL_* environment twin", () => {
    expect(envName("--metrics-addr")).toBe("METALPOOL_METRICS_ADDR");
    const cmd = new Command().addOption(flag("--listen <addr>", "where", "0.0.0.0:67")).exitOverride();
    process.env.METALPOOL_LISTEN = "127.0.0.1:6767";
    try {
      expect(cmd.parse([], { from: "user" }).opts()).toEqual({ listen: "127.0.0.1:6767" });
      expect(cmd.parse(["--listen", "10.0.0.1:67"], { from: "user" }).opts()).toEqual({
        listen: "10.0.0.1:67",
      });
    } finally {
      delete process.env.METALPOOL_LISTEN;
    }
  });

  it("parses ADDR:PORT and rejects anything else with the flag's name", () => {
    expect(parseHostPort("0.0.0.0:67", "--listen")).toEqual({ host: "0.0.0.0", port: 67 });
    expect(parseHostPort("[::1]:8080", "--listen")).toEqual({ host: "::1", port: 8080 });
    expect(() => parseHostPort("67", "--listen")).toThrow(
      '--listen: expected ADDR:PORT such as 0.0.0.0:67, got "67"',
    );
    expect(() => parseHostPort("a:99999", "--listen")).toThrow();
  });
});
