/**
 * Hostile datagrams against the decoder and every option view: each is decoded or refused with
 * DhcpDecodeError, never another error. A modest, fixed-seed run for CI; the long run (a million
 * datagrams, any seed) is in test/bench/dhcp.bench.ts. FUZZ_SEED replays another seed here.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_UDP_PAYLOAD,
  decodeHostile,
  emptyFuzzTally,
  fuzzDatagram,
  fuzzFailure,
} from "../../test/fixtures/dhcp.ts";
import { MAX_PACKET_BYTES } from "./codec.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const COUNT = 20_000;

describe(`the DHCP decoder under fuzzing (seed ${SEED})`, () => {
  it(`decodes or refuses with DhcpDecodeError each of ${COUNT} generated datagrams`, () => {
    const tally = emptyFuzzTally();
    let longest = 0;
    for (let i = 0; i < COUNT; i++) {
      const { shape, bytes } = fuzzDatagram(SEED, i);
      try {
        tally[shape][decodeHostile(bytes)] += 1;
      } catch (err) {
        throw fuzzFailure(SEED, i, shape, bytes, err);
      }
      longest = Math.max(longest, bytes.length);
    }
    // The run reached the option parser with every structured shape, and met the size limit and beyond.
    for (const shape of ["mutated packet", "split option", "option soup"] as const) {
      expect(tally[shape].decoded, shape).toBeGreaterThan(COUNT / 100);
      expect(tally[shape].refused, shape).toBeGreaterThan(COUNT / 100);
    }
    expect(tally["random bytes"].refused).toBeGreaterThan(COUNT / 10);
    expect(longest).toBeGreaterThan(MAX_PACKET_BYTES * 10);
    expect(longest).toBeLessThanOrEqual(MAX_UDP_PAYLOAD);
  });

  it("generates the same datagram for the same seed and index, so a failure can be replayed", () => {
    expect(fuzzDatagram(SEED, 1234)).toEqual(fuzzDatagram(SEED, 1234));
    expect(fuzzDatagram(SEED, 1234).bytes).not.toEqual(fuzzDatagram(SEED + 1, 1234).bytes);
  });
});
