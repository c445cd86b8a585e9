/** Kubernetes quantities ("64Gi", "500G", "1.5T", "1024") as numbers of bytes (or plain units). */
const SUFFIX: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(value: string): number {
  const match = /^([+]?[0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a quantity such as 64Gi or 500G`);
  return Number(match[1]) * (SUFFIX[match[2] ?? ""] as number);
}

/** Go-style durations ("45m", "1h30m", "90s", "250ms") in milliseconds. */
export function parseDuration(value: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = value.trim();
  if (!rest) throw new Error("empty duration");
  while (rest) {
    const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/.exec(rest);
    if (!match) throw new Error(`"${value}" is not a duration such as 45m or 1h30m`);
    total += Number(match[1]) * (units[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return total;
}
