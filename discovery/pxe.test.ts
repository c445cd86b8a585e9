import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DhcpDecodeError, decode, encode } from "./dhcp/codec.ts";
import { OVMF_UUID_OPTION, packet } from "../test/fixtures/dhcp.ts";
import { clientUuid } from "./dhcp/options.ts";
import { clientFacts } from "./pxe.ts";

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const str = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "latin1"));

describe("PXE client facts", () => {
  it("reads what SeaBIOS with the iPXE ROM sends: legacy BIOS x86_64, user class iPXE", () => {
    const p = packet([
      [53, b(1)],
      [60, str("PXEClient:Arch:00000:UNDI:002001")],
      [93, b(0, 0)],
      [94, b(1, 2, 1)],
      [77, str("iPXE")],
      [61, b(1, 0x52, 0x54, 0, 0x12, 0x34, 0x56)],
      [97, OVMF_UUID_OPTION],
    ]);
    const r = clientFacts(decode(encode(p)));
    expect(r).toEqual({
      ok: true,
      facts: {
        mac: "52:54:00:12:34:56",
        xid: 0x1234abcd,
        hops: 0,
        messageType: "DISCOVER",
        archCode: 0,
        arch: "x86_64",
        uefi: false,
        vendorClass: "PXEClient:Arch:00000:UNDI:002001",
        userClasses: ["iPXE"],
        uuid: "a1b2c3d4-e5f6-4718-9a2b-3c4d5e6f7a8b",
        clientId: "1:525400123456",
        undi: { major: 2, minor: 1 },
      },
    });
  });

  it("reads OVMF (x86_64 UEFI) and AAVMF (aarch64 UEFI), and a relayed request's giaddr and option 82", () => {
    const ovmf = clientFacts(
      decode(
        encode(
          packet([
            [53, b(1)],
            [60, str("PXEClient:Arch:00007:UNDI:003000")],
            [93, b(0, 7)],
          ]),
        ),
      ),
    );
    expect(ovmf.ok && [ovmf.facts.arch, ovmf.facts.uefi]).toEqual(["x86_64", true]);
    const arm = clientFacts(
      decode(
        encode(
          packet(
            [
              [53, b(3)],
              [60, str("PXEClient:Arch:00011:UNDI:003000")],
              [93, b(0, 11)],
              [82, b(1, 2, 0, 7, 2, 1, 9)],
            ],
            { giaddr: "10.20.0.1", hops: 1 },
          ),
        ),
      ),
    );
    expect(
      arm.ok && {
        arch: arm.facts.arch,
        uefi: arm.facts.uefi,
        type: arm.facts.messageType,
        relay: arm.facts.relay,
        hops: arm.facts.hops,
        agent: arm.facts.relayAgent,
      },
    ).toEqual({
      arch: "aarch64",
      uefi: true,
      type: "REQUEST",
      relay: "10.20.0.1",
      hops: 1,
      agent: { circuitId: "0007", remoteId: "09" },
    });
  });

  it("falls back to option 60's architecture when option 93 is missing", () => {
    const r = clientFacts(
      decode(
        encode(
          packet([
            [53, b(1)],
            [60, str("PXEClient:Arch:00011:UNDI:003000")],
          ]),
        ),
      ),
    );
    expect(r.ok && r.facts.arch).toBe("aarch64");
  });

  it("says why a packet is not a PXE client to discover", () => {
    expect(
      clientFacts(
        decode(
          encode(
            packet([
              [53, b(1)],
              [60, str("MSFT 5.0")],
            ]),
          ),
        ),
      ),
    ).toEqual({
      ok: false,
      reasons: ["no PXEClient vendor class (option 60)", "no client architecture (option 93 or option 60)"],
    });
    expect(
      clientFacts(
        decode(
          encode(
            packet([
              [53, b(7)],
              [60, str("PXEClient:Arch:00000")],
              [93, b(0, 0)],
            ]),
          ),
        ),
      ),
    ).toEqual({
      ok: false,
      reasons: ["message type RELEASE is not DISCOVER or REQUEST"],
    });
    expect(
      clientFacts(
        decode(
          encode(
            packet([
              [53, b(1)],
              [60, str("PXEClient")],
              [93, b(0, 99)],
            ]),
          ),
        ),
      ),
    ).toEqual({ ok: false, reasons: ["unknown client architecture 99"] });
    expect(
      clientFacts(
        decode(
          encode(
            packet([
              [53, b(1, 2)],
              [60, str("PXEClient")],
            ]),
          ),
        ),
      ),
    ).toEqual({
      ok: false,
      reasons: ["option 53 (message type) has length 2, expected 1"],
    });
  });

  it("converts option 97 to the SMBIOS byte order and rejects malformed ones", () => {
    expect(clientUuid(packet([[97, OVMF_UUID_OPTION]]))).toBe("a1b2c3d4-e5f6-4718-9a2b-3c4d5e6f7a8b");
    expect(() => clientUuid(packet([[97, b(0, 1, 2)]]))).toThrow(
      new DhcpDecodeError("option 97 (client machine identifier) has length 3, expected 17"),
    );
    expect(() => clientUuid(packet([[97, Uint8Array.from([1, ...OVMF_UUID_OPTION.subarray(1)])]]))).toThrow(
      "has type 1, expected 0 (GUID)",
    );
  });

  it("never throws on any option content (fuzz)", () => {
    const code = fc.constantFrom(12, 53, 60, 61, 77, 82, 93, 94, 97);
    fc.assert(
      fc.property(fc.array(fc.tuple(code, fc.uint8Array({ maxLength: 40 })), { maxLength: 10 }), (opts) => {
        const r = clientFacts(decode(encode(packet(opts))));
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });
});
