import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packet } from "../../test/fixtures/dhcp.ts";
import {
  BOOTREPLY,
  BOOTREQUEST,
  DhcpDecodeError,
  type DhcpPacket,
  MAX_PACKET_BYTES,
  decode,
  encode,
} from "./codec.ts";

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

const byte = fc.nat(255);
const ipv4 = fc.tuple(byte, byte, byte, byte).map((parts) => parts.join("."));
const cString = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength });
/** Options other than 52, some long enough to be split into several instances (RFC 3396). */
const options = fc.uniqueArray(
  fc.tuple(
    fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52),
    fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 700 })),
  ),
  { selector: ([code]) => code, maxLength: 5 },
);

/** Every packet decode can give: with option 52, the overloaded fields carry options and no names. */
const packets: fc.Arbitrary<DhcpPacket> = fc
  .record({
    op: fc.constantFrom(BOOTREQUEST, BOOTREPLY),
    htype: byte,
    hlen: fc.nat(16),
    hops: byte,
    xid: fc.nat(0xffffffff),
    secs: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    ciaddr: ipv4,
    yiaddr: ipv4,
    siaddr: ipv4,
    giaddr: ipv4,
    chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    sname: cString(63),
    file: cString(127),
    options,
    overload: fc.constantFrom(0, 1, 2, 3),
  })
  .map(({ options: opts, overload, ...header }) => ({
    ...header,
    sname: overload & 2 ? "" : header.sname,
    file: overload & 1 ? "" : header.file,
    options: new Map([...(overload ? ([[52, bytes(overload)]] as const) : []), ...opts]),
  }));

describe("the DHCP codec", () => {
  it("round-trips every header field and option", () => {
    const p = packet(
      [
        [53, bytes(1)],
        [60, Buffer.from("PXEClient:Arch:00007:UNDI:003000")],
        [93, bytes(0, 7)],
        [97, new Uint8Array(17)],
        [82, bytes(1, 2, 0xaa, 0xbb, 2, 1, 0xcc)],
      ],
      { giaddr: "10.1.2.3", hops: 1, sname: "server", file: "undionly.kpxe" },
    );
    expect(decode(encode(p))).toEqual(p);
  });

  it("decode(encode(p)) equals p for every packet, with and without a length limit", () => {
    let spilled = 0;
    fc.assert(
      fc.property(
        packets,
        fc.option(fc.integer({ min: 244, max: 1500 }), { nil: undefined }),
        (p, maxLength) => {
          let raw: Uint8Array;
          try {
            raw = encode(p, { maxLength });
          } catch (err) {
            // Only a limit can make options not fit.
            expect(maxLength).toBeDefined();
            expect(err).toBeInstanceOf(RangeError);
            return;
          }
          expect(raw.length).toBeLessThanOrEqual(maxLength ?? Infinity);
          expect(decode(raw)).toEqual(p);
          if (raw[108] !== 0 && raw[108] !== 255 && p.options.has(52)) spilled += 1;
        },
      ),
      { numRuns: 1000 },
    );
    // The limit really sent options into file and sname, not only into the options field.
    expect(spilled).toBeGreaterThan(20);
  });

  it("joins a long option split over several instances (RFC 3396)", () => {
    const long = Uint8Array.from({ length: 600 }, (_, i) => i % 256);
    const decoded = decode(encode(packet([[43, long]])));
    expect(decoded.options.get(43)).toEqual(long);
  });

  it("joins thousands of tiny instances of one option in packet order", () => {
    const header = encode(packet([])).subarray(0, 240);
    const instances = Array.from({ length: 900 }, (_, i) => [43, 2, i >> 8, i & 255]).flat();
    const decoded = decode(Uint8Array.from([...header, ...instances, 53, 1, 1, 255]));
    const expected = Uint8Array.from(Array.from({ length: 900 }, (_, i) => [i >> 8, i & 255]).flat());
    expect(decoded.options.get(43)).toEqual(expected);
    expect([...decoded.options.keys()]).toEqual([43, 53]);
  });

  it("copies option values, so reusing the receive buffer cannot change a decoded packet", () => {
    const raw = encode(packet([[60, Buffer.from("PXEClient")]]));
    const decoded = decode(raw);
    raw.fill(0, 240);
    expect(Buffer.from(decoded.options.get(60) ?? []).toString()).toBe("PXEClient");
  });

  it("spills options into file, then sname, when option 52 allows and the packet must stay short", () => {
    const long = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const p = packet([
      [52, bytes(3)],
      [43, long],
      [60, Buffer.from("PXEClient")],
    ]);
    const raw = encode(p, { maxLength: 400 });
    expect(raw.length).toBeLessThanOrEqual(400);
    expect(raw[108]).not.toBe(0); // the file field carries options
    expect(decode(raw)).toEqual(p);
    expect(() => encode(packet([[43, long]]), { maxLength: 400 })).toThrow(RangeError);
  });

  it("skips pad bytes between options instead of losing the packet", () => {
    const raw = encode(packet([[53, bytes(1)]]));
    const withPads = Buffer.concat([raw.subarray(0, 240), bytes(0, 0, 0), raw.subarray(240)]);
    expect(decode(withPads).options.get(53)).toEqual(bytes(1));
  });

  it("reads options from file and sname when option 52 says they are overloaded", () => {
    const p = packet([[52, bytes(3)]]);
    const raw = encode(p);
    raw.set([12, 3, 0x61, 0x62, 0x63, 255], 108); // file: hostname "abc"
    raw.set([60, 4, 0x50, 0x58, 0x45, 0x43, 255], 44); // sname: vendor class "PXEC"
    const decoded = decode(raw);
    expect(Buffer.from(decoded.options.get(12) ?? []).toString()).toBe("abc");
    expect(Buffer.from(decoded.options.get(60) ?? []).toString()).toBe("PXEC");
    expect(decoded.file).toBe("");
    expect(decoded.sname).toBe("");
  });

  it("honours a sliced buffer's offset", () => {
    const raw = encode(packet([[53, bytes(3)]]));
    const pool = Buffer.alloc(raw.length + 100, 0xee);
    pool.set(raw, 37);
    expect(decode(pool.subarray(37, 37 + raw.length)).options.get(53)).toEqual(bytes(3));
  });

  it.each([
    [
      "a packet over the size limit",
      new Uint8Array(MAX_PACKET_BYTES + 1),
      `packet is ${MAX_PACKET_BYTES + 1} bytes; discovery accepts at most ${MAX_PACKET_BYTES}`,
    ],
    ["a short packet", new Uint8Array(100), "packet is 100 bytes; a DHCP packet has at least 240"],
    [
      "a bad magic cookie",
      (() => {
        const b = encode(packet([]));
        b[236] = 1;
        return b;
      })(),
      "bad magic cookie 0x01825363",
    ],
    ["an unknown op", encode(packet([], { op: 9 })), "unknown op 9"],
    [
      "an over-long hardware address",
      encode(packet([], { hlen: 17 })),
      "hardware address length 17 exceeds 16",
    ],
    [
      "an option without its length byte",
      Buffer.concat([encode(packet([])).subarray(0, 240), bytes(53)]),
      "options: option 53 at offset 0 has no length byte",
    ],
    [
      "an option longer than the packet",
      Buffer.concat([encode(packet([])).subarray(0, 240), bytes(60, 40, 1, 2)]),
      "options: option 60 at offset 0 claims 40 bytes but only 2 remain",
    ],
  ])("rejects %s with an exact message", (_name, raw, message) => {
    expect(() => decode(raw)).toThrow(new DhcpDecodeError(message));
  });

  it("never throws anything but DhcpDecodeError, whatever the bytes (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (raw) => {
        try {
          decode(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(DhcpDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("survives hostile mutations of a valid packet (fuzz)", () => {
    const base = encode(
      packet([
        [53, bytes(1)],
        [60, Buffer.from("PXEClient:Arch:00000:UNDI:002001")],
        [93, bytes(0, 0)],
      ]),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
        fc.nat(base.length),
        (edits, cut) => {
          const raw = Uint8Array.from(base);
          for (const [at, value] of edits) raw[at] = value;
          try {
            decode(raw.subarray(0, Math.max(cut, 0)));
          } catch (err) {
            expect(err).toBeInstanceOf(DhcpDecodeError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
