import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { intToIp } from "./ip.ts";
import { AddressPool } from "./ipam.ts";

const withAddresses = (name: string, ...addresses: string[]): Hardware => ({
  metadata: { namespace: "ns", name },
  spec: { interfaces: addresses.map((address) => ({ dhcp: { ip: { address } } })) },
});

describe("the address pool", () => {
  it("hands out the lowest address no Hardware uses, never twice while a creation is in flight", () => {
    const pool = new AddressPool("10.0.0.10-10.0.0.12");
    pool.put(withAddresses("typed", "10.0.0.10"));
    expect(pool.allocate()).toBe("10.0.0.11");
    expect(pool.allocate()).toBe("10.0.0.12");
    expect(pool.allocate()).toBeUndefined();
    pool.release("10.0.0.11"); // that creation failed
    expect(pool.allocate()).toBe("10.0.0.11");
  });

  it("follows Hardware as it is added, readdressed and deleted", () => {
    const pool = new AddressPool("10.0.0.1-10.0.0.3");
    const a = withAddresses("a", "10.0.0.1", "10.0.0.2");
    pool.put(a);
    expect(pool.allocate()).toBe("10.0.0.3");
    pool.put(withAddresses("a", "10.0.0.2")); // an update: .1 is free again
    expect(pool.allocate()).toBe("10.0.0.1");
    pool.remove(a);
    expect(pool.allocate()).toBe("10.0.0.2");
    expect(pool.allocate()).toBeUndefined();
  });

  it("keeps an address used while any Hardware still uses it, and ignores addresses outside the range", () => {
    const pool = new AddressPool("10.0.0.1-10.0.0.2");
    pool.put(withAddresses("x", "10.0.0.1", "192.168.0.1"));
    pool.put(withAddresses("y", "10.0.0.1"));
    pool.remove(withAddresses("x"));
    expect(pool.allocate()).toBe("10.0.0.2");
    expect(pool.allocate()).toBeUndefined();
    pool.remove(withAddresses("y"));
    expect(pool.allocate()).toBe("10.0.0.1");
  });

  it("keeps a created Hardware's address used after its reservation ends", () => {
    const pool = new AddressPool("10.0.0.1-10.0.0.2");
    const address = pool.allocate() as string;
    pool.put(withAddresses("new", address));
    pool.release(address);
    expect(pool.allocate()).toBe("10.0.0.2");
  });

  it("always hands out the lowest free address, whatever happened before", () => {
    // Model: a set of used addresses; operations put/remove one-address Hardware, allocate, release.
    const op = fc.oneof(
      fc.record({ kind: fc.constant("put" as const), name: fc.integer({ min: 0, max: 5 }), at: fc.nat(9) }),
      fc.record({ kind: fc.constant("remove" as const), name: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant("allocate" as const) }),
      fc.record({ kind: fc.constant("release" as const), at: fc.nat(9) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const pool = new AddressPool("10.0.0.0-10.0.0.9");
        const hw = new Map<number, number>(); // name → address index
        const reserved = new Set<number>();
        for (const o of ops) {
          if (o.kind === "put") {
            hw.set(o.name, o.at);
            pool.put(withAddresses(String(o.name), intToIp(0x0a000000 + o.at)));
          } else if (o.kind === "remove") {
            hw.delete(o.name);
            pool.remove(withAddresses(String(o.name)));
          } else if (o.kind === "release") {
            reserved.delete(o.at);
            pool.release(intToIp(0x0a000000 + o.at));
          } else {
            const used = new Set([...hw.values(), ...reserved]);
            const expected = [...Array(10).keys()].find((i) => !used.has(i));
            expect(pool.allocate()).toBe(expected === undefined ? undefined : intToIp(0x0a000000 + expected));
            if (expected !== undefined) reserved.add(expected);
          }
        }
      }),
    );
  });
});
