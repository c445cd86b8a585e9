/**
 * A server's UUID as the BMC reports it (ComputerSystem.UUID) and as its PXE firmware sends it (DHCP
 * option 97) can differ in byte order: SMBIOS stores the first three fields little-endian, and firmware
 * and BMCs disagree on whether to swap them when printing. Two UUIDs name the same server when they are
 * equal, or equal after swapping those three fields.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function reverseBytes(hex: string): string {
  return (hex.match(/../g) ?? []).reverse().join("");
}

/** The same UUID with its first three fields byte-swapped (the other SMBIOS reading); undefined if malformed. */
export function swapUuidByteOrder(uuid: string): string | undefined {
  const u = uuid.trim().toLowerCase();
  if (!UUID.test(u)) return undefined;
  const [a, b, c, ...rest] = u.split("-") as [string, string, string, string, string];
  return [reverseBytes(a), reverseBytes(b), reverseBytes(c), ...rest].join("-");
}

export function sameSystemUuid(a: string, b: string): boolean {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  if (!UUID.test(x) || !UUID.test(y)) return false;
  return x === y || swapUuidByteOrder(x) === y;
}
