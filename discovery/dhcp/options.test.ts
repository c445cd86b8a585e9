import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OVMF_SMBIOS_UUID, OVMF_UUID_OPTION, packet } from "../../test/fixtures/dhcp.ts";
import { DhcpDecodeError, type DhcpPacket, decode, encode } from "./codec.ts";
import {
  MESSAGE_TYPES,
  type MessageType,
  OPTION,
  clientArchitectures,
  clientId,
  clientNdi,
  clientUuid,
  encodeClientArchitectures,
  encodeClientId,
  encodeClientNdi,
  encodeClientUuid,
  encodeHostname,
  encodeMessageType,
  encodeRelayAgent,
  encodeUserClasses,
  encodeVendorClass,
  formatPxeVendorClass,
  hostname,
  messageType,
  parsePxeVendorClass,
  relayAgent,
  userClasses,
  vendorClass,
} from "./options.ts";

/** One typed view with its encoder and the values it can take. */
interface ViewCase<T> {
  name: string;
  code: number;
  view: (p: DhcpPacket) => T | undefined;
  encode: (x: T) => Uint8Array;
  values: fc.Arbitrary<T>;
  /** Anything the encoder might be handed, valid or not. */
  anything: fc.Arbitrary<unknown>;
}

const latin1 = fc.string({ unit: fc.nat(255).map((c) => String.fromCharCode(c)), maxLength: 400 });
/** What the text views give back: latin1 without trailing NULs (they strip them). */
const text = latin1.filter((s) => !s.endsWith("\0"));
const hexOf = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString("hex"));
const uuidOf = (b: Uint8Array): string => {
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

const cases = [
  {
    name: "message type (53)",
    code: OPTION.messageType,
    view: messageType,
    encode: encodeMessageType,
    values: fc.constantFrom(...(MESSAGE_TYPES.slice(1) as MessageType[])),
    anything: fc.string(),
  } satisfies ViewCase<MessageType>,
  {
    name: "vendor class (60)",
    code: OPTION.vendorClass,
    view: vendorClass,
    encode: encodeVendorClass,
    values: text,
    anything: fc.string({ unit: "binary" }),
  } satisfies ViewCase<string>,
  {
    name: "hostname (12)",
    code: OPTION.hostname,
    view: hostname,
    encode: encodeHostname,
    values: text.filter((s) => s.length > 0),
    anything: fc.string({ unit: "binary" }),
  } satisfies ViewCase<string>,
  {
    name: "client identifier (61)",
    code: OPTION.clientId,
    view: clientId,
    encode: encodeClientId,
    values: fc
      .tuple(fc.nat(255), fc.uint8Array({ minLength: 1, maxLength: 300 }))
      .map(([type, id]) => `${type}:${Buffer.from(id).toString("hex")}`),
    anything: fc.oneof(
      fc.string(),
      fc.tuple(fc.integer(), hexOf(4)).map(([t, h]) => `${t}:${h}`),
    ),
  } satisfies ViewCase<string>,
  {
    name: "user classes (77)",
    code: OPTION.userClass,
    view: userClasses,
    encode: encodeUserClasses,
    values: fc.array(
      text.filter((s) => s.length > 0 && s.length <= 255),
      { maxLength: 6 },
    ),
    anything: fc.array(fc.string({ unit: "binary", maxLength: 300 }), { maxLength: 4 }),
  } satisfies ViewCase<string[]>,
  {
    name: "client architectures (93)",
    code: OPTION.clientArch,
    view: clientArchitectures,
    encode: encodeClientArchitectures,
    values: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 200 }),
    anything: fc.array(fc.integer({ min: -2, max: 0x10001 }), { maxLength: 4 }),
  } satisfies ViewCase<number[]>,
  {
    name: "client network interface (94)",
    code: OPTION.clientNdi,
    view: clientNdi,
    encode: encodeClientNdi,
    values: fc.record({ type: fc.nat(255), major: fc.nat(255), minor: fc.nat(255) }),
    anything: fc.record({
      type: fc.integer({ min: -1, max: 256 }),
      major: fc.double(),
      minor: fc.integer({ min: -1, max: 256 }),
    }),
  } satisfies ViewCase<{ type: number; major: number; minor: number }>,
  {
    name: "client machine identifier (97)",
    code: OPTION.clientUuid,
    view: clientUuid,
    encode: encodeClientUuid,
    values: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(uuidOf),
    anything: fc.oneof(
      fc.string(),
      fc.uuid().map((u) => u.toUpperCase()),
    ),
  } satisfies ViewCase<string>,
  {
    name: "relay agent (82)",
    code: OPTION.relayAgent,
    view: relayAgent,
    encode: encodeRelayAgent,
    values: fc.record({ circuitId: hexOf(255), remoteId: hexOf(255) }, { requiredKeys: [] }),
    anything: fc.record({ circuitId: fc.string(), remoteId: hexOf(300) }, { requiredKeys: [] }),
  } satisfies ViewCase<{ circuitId?: string; remoteId?: string }>,
] as ViewCase<unknown>[];

/** The option as a client sends it: through the packet codec, split over instances when long (RFC 3396). */
const onTheWire = (code: number, value: Uint8Array): DhcpPacket => decode(encode(packet([[code, value]])));

describe.each(cases)("the $name view and its encoder", (c) => {
  it("give back every value: view(encode(x)) equals x, also after the packet codec", () => {
    fc.assert(
      fc.property(c.values, (x) => {
        const bytes = c.encode(x);
        expect(c.view(packet([[c.code, bytes]]))).toEqual(x);
        expect(c.view(onTheWire(c.code, bytes))).toEqual(x);
      }),
      { numRuns: 500 },
    );
  });

  it("encode refuses with a RangeError whatever it cannot give back", () => {
    fc.assert(
      fc.property(c.anything, (x) => {
        let bytes: Uint8Array;
        try {
          bytes = c.encode(x);
        } catch (err) {
          expect(err).toBeInstanceOf(RangeError);
          return;
        }
        expect(c.view(packet([[c.code, bytes]]))).toEqual(x);
      }),
      { numRuns: 500 },
    );
  });

  it("the view reads any bytes or refuses with DhcpDecodeError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          c.view(packet([[c.code, bytes]]));
        } catch (err) {
          expect(err).toBeInstanceOf(DhcpDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe.each(
  cases.filter((c) =>
    [OPTION.messageType, OPTION.clientId, OPTION.clientArch, OPTION.clientNdi, OPTION.clientUuid].includes(
      c.code as never,
    ),
  ),
)("the $name view, one value per byte string", (c) => {
  it("encode(view(bytes)) equals the bytes whenever the view accepts them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (bytes) => {
        let x: unknown;
        try {
          x = c.view(packet([[c.code, bytes]]));
        } catch {
          return;
        }
        expect(c.encode(x)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("encoders on known values", () => {
  it("write the OVMF option 97 bytes for its SMBIOS UUID", () => {
    expect(encodeClientUuid(OVMF_SMBIOS_UUID)).toEqual(OVMF_UUID_OPTION);
  });

  it("text views keep NULs inside a value and drop those at its end", () => {
    const value = Uint8Array.from([...Buffer.from("a\0b"), ...new Uint8Array(3000)]);
    expect(vendorClass(packet([[OPTION.vendorClass, value]]))).toBe("a\0b");
    expect(hostname(packet([[OPTION.hostname, Uint8Array.from([...new Uint8Array(3000), 0x61])]]))).toBe(
      "\0".repeat(3000) + "a",
    );
  });

  it("write iPXE's user class as an RFC 3004 list", () => {
    expect(encodeUserClasses(["iPXE"])).toEqual(Uint8Array.of(4, 0x69, 0x50, 0x58, 0x45));
  });

  it.each([
    [() => encodeHostname(""), "option 12 (hostname) must not be empty"],
    [() => encodeVendorClass("PXE\0"), "option 60 (vendor class) ends with NUL, which the decoder drops"],
    [() => encodeClientUuid("A1B2C3D4-E5F6-4718-9A2B-3C4D5E6F7A8B"), "is not a lowercase UUID"],
    [() => encodeClientId("256:00"), 'is not "type:hex" with a type 0..255'],
    [() => encodeClientArchitectures([]), "needs at least one type"],
    [() => formatPxeVendorClass({ undiMajor: 3 }), "UNDI major and minor versions come together"],
  ])("refuse %#", (f, message) => {
    expect(f).toThrow(RangeError);
    expect(f).toThrow(message);
  });
});

describe("the PXE vendor class", () => {
  it("parses back what format writes", () => {
    const undi = fc.record({ undiMajor: fc.nat(999), undiMinor: fc.nat(999) });
    fc.assert(
      fc.property(
        fc.option(fc.nat(99999), { nil: undefined }),
        fc.option(undi, { nil: undefined }),
        (arch, u) => {
          const pxe = { ...(arch === undefined ? {} : { arch }), ...u };
          expect(parsePxeVendorClass(formatPxeVendorClass(pxe))).toEqual(pxe);
        },
      ),
      { numRuns: 1000 },
    );
    expect(formatPxeVendorClass({ arch: 7, undiMajor: 3, undiMinor: 0 })).toBe(
      "PXEClient:Arch:00007:UNDI:003000",
    );
  });
});
