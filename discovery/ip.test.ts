import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cidr,
  contains,
  hostOf,
  inSubnet,
  intToIp,
  ipToInt,
  isIpv4,
  parseCidr,
  parseIpv4,
  parseRange,
} from "./ip.ts";

const address = fc.integer({ min: 0, max: 0xffffffff });
const prefix = fc.integer({ min: 0, max: 32 });

describe("IPv4 arithmetic", () => {
  it("reads dotted quads strictly", () => {
    expect(ipToInt("0.0.0.0")).toBe(0);
    expect(ipToInt("10.0.0.1")).toBe(0x0a000001);
    expect(ipToInt("255.255.255.255")).toBe(0xffffffff);
    for (const bad of [
      "256.0.0.1",
      "10.0.0",
      "10.0.0.1.2",
      "10.0.0.01",
      "10.0.0.-1",
      " 10.0.0.1",
      "a.b.c.d",
      "",
    ])
      expect(parseIpv4(bad), bad).toBeUndefined();
    expect(() => ipToInt("10.0.0")).toThrow('"10.0.0" is not an IPv4 address');
    expect(isIpv4("192.168.1.1")).toBe(true);
  });

  it("writes back every 32-bit value it reads", () => {
    fc.assert(fc.property(address, (n) => ipToInt(intToIp(n)) === n));
    expect(intToIp(0xffffffff)).toBe("255.255.255.255");
    expect(intToIp(0x80000001)).toBe("128.0.0.1");
  });

  it("parses CIDR blocks, clearing host bits, and takes a bare address as a /32", () => {
    expect(parseCidr("10.0.0.7/24")).toEqual({ network: 0x0a000000, prefix: 24, mask: 0xffffff00 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ network: 0, prefix: 0, mask: 0 });
    expect(parseCidr("10.0.0.7")).toEqual({ network: 0x0a000007, prefix: 32, mask: 0xffffffff });
    for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0/8", "10.0.0.0/-1", "10.0.0.0/08x"])
      expect(parseCidr(bad), bad).toBeUndefined();
    expect(() => cidr("nope")).toThrow('"nope" is not an IPv4 CIDR block');
  });

  it("does subnet membership right at the edges", () => {
    expect(inSubnet("10.0.0.255", "10.0.0.0/24")).toBe(true);
    expect(inSubnet("10.0.1.0", "10.0.0.0/24")).toBe(false);
    expect(inSubnet("9.255.255.255", "10.0.0.0/8")).toBe(false);
    expect(inSubnet("192.168.7.7", "0.0.0.0/0")).toBe(true);
    expect(inSubnet("10.0.0.1", "10.0.0.1/32")).toBe(true);
    expect(inSubnet("10.0.0.2", "10.0.0.1/32")).toBe(false);
    expect(inSubnet("255.255.255.255", "255.255.255.128/25")).toBe(true);
    expect(inSubnet("not-an-ip", "0.0.0.0/0")).toBe(false);
  });

  it("agrees with counting: a /p block holds exactly the 2^(32-p) addresses from its network up", () => {
    fc.assert(
      fc.property(address, prefix, address, (base, bits, ip) => {
        const block = cidr(`${intToIp(base)}/${bits}`);
        const size = 2 ** (32 - bits);
        const first = Math.floor(base / size) * size;
        expect(block.network).toBe(first);
        expect(contains(block, ip)).toBe(ip >= first && ip < first + size);
      }),
    );
  });

  it("reads address ranges and refuses reversed or malformed ones", () => {
    expect(parseRange("10.0.0.1-10.0.0.9")).toEqual({ start: 0x0a000001, end: 0x0a000009 });
    expect(parseRange("10.0.0.5-10.0.0.5")).toEqual({ start: 0x0a000005, end: 0x0a000005 });
    expect(parseRange("10.0.0.9-10.0.0.1")).toBeUndefined();
    expect(parseRange("10.0.0.1-10.0.0.300")).toBeUndefined();
    expect(parseRange("10.0.0.1")).toBeUndefined();
  });

  it("takes the address out of a socket address", () => {
    expect(hostOf("10.0.0.1:67")).toBe("10.0.0.1");
    expect(hostOf("0.0.0.0:68")).toBe("0.0.0.0");
    expect(hostOf("10.0.0.1")).toBe("10.0.0.1");
  });
});
