/**
 * The discovery policy: where discovered Hardware goes, which clients are accepted, which are approved
 * automatically, the address range, and the flood limits. Read from a YAML/JSON file (a ConfigMap in the
 * chart), validated with zod so a bad file fails at start with a message that names the field.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDuration } from "../lib/api/quantity.ts";
import { isIpv4, parseCidr, parseRange } from "./ip.ts";

const ipv4 = z.string().refine(isIpv4, "must be an IPv4 address");
const cidr = z
  .string()
  .refine((s) => s.includes("/") && parseCidr(s) !== undefined, "must be an IPv4 CIDR such as 10.0.0.0/24");
const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, "must be a duration such as 30s or 10m");

export const approvalRuleSchema = z
  .object({
    macPrefix: z
      .string()
      .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){0,5}$/i, "must be a MAC prefix such as 52:54:00")
      .optional(),
    vendorClassPrefix: z.string().min(1).optional(),
    subnet: cidr.optional().describe("matches the relay address (giaddr) of relayed requests"),
  })
  .refine(
    (r) => r.macPrefix ?? r.vendorClassPrefix ?? r.subnet,
    "a rule needs macPrefix, vendorClassPrefix or subnet",
  );

function longer(a: string, b: string): boolean {
  try {
    return parseDuration(a) > parseDuration(b);
  } catch {
    return true; // a malformed duration has its own message
  }
}

const cidrOrAddress = z
  .string()
  .refine(
    (s) => parseCidr(s) !== undefined,
    "must be an IPv4 address or CIDR such as 10.0.0.1 or 10.0.0.0/24",
  );

/**
 * An accepted relay. A plain CIDR: the relay's giaddr and the UDP source address of its packets must both
 * lie in it. The object form names the source addresses separately, for relays that send from another
 * interface (a loopback, an uplink) than the one on the clients' segment.
 */
export const relayRuleSchema = z.union(
  [
    cidr,
    z.object({
      subnet: cidr.describe("the relay's giaddr lies here"),
      sources: z
        .array(cidrOrAddress)
        .min(1)
        .optional()
        .describe("the relay's packets come from these addresses; default: from subnet"),
    }),
  ],
  { error: "must be a CIDR such as 10.20.0.0/16, or {subnet: CIDR, sources: [addresses or CIDRs]}" },
);

export const policySchema = z.object({
  namespace: z.string().min(1).default("tink-system"),
  acceptDirect: z
    .boolean()
    .default(true)
    .describe("accept broadcasts from clients on the listener's own network"),
  acceptRelays: z
    .array(relayRuleSchema)
    .default([])
    .describe("relayed requests are accepted only from relays listed here; empty: none"),
  autoApprove: z.array(approvalRuleSchema).default([]),
  addresses: z.object({
    range: z.string().superRefine((range, ctx) => {
      const ends = range.split("-");
      if (ends.length !== 2 || !ends.every(isIpv4))
        ctx.addIssue({ code: "custom", message: "must be START-END such as 10.77.0.100-10.77.0.199" });
      else if (!parseRange(range)) ctx.addIssue({ code: "custom", message: "ends before it starts" });
    }),
    netmask: ipv4,
    gateway: ipv4.optional(),
    nameServers: z.array(ipv4).default([]),
  }),
  hardware: z
    .object({
      ifaceName: z.string().min(1).default("eth0"),
      disks: z
        .array(z.string().regex(/^\/dev\//, "must be a device path such as /dev/sda"))
        .min(1)
        .default(["/dev/sda"]),
      allowPXE: z.boolean().default(false),
      allowWorkflow: z.boolean().default(false),
    })
    .default({ ifaceName: "eth0", disks: ["/dev/sda"], allowPXE: false, allowWorkflow: false }),
  limits: z
    .object({
      dedupeWindow: duration.default("30s"),
      creationsPerMinute: z.int().min(1).max(10_000).default(30),
      maxPending: z.int().min(0).max(100_000).default(100),
      lastSeenInterval: duration.default("10m"),
      pendingExpiry: duration
        .default("1h")
        .describe("pending Hardware not seen for this long stops counting against maxPending"),
      deleteExpiredPending: z
        .boolean()
        .default(false)
        .describe("delete expired pending Hardware (only unclaimed, still pending, created by discovery)"),
      perSource: z
        .object({
          creationsPerMinute: z.int().min(1).max(10_000).default(20),
          burst: z.int().min(1).max(10_000).default(20),
        })
        .default({ creationsPerMinute: 20, burst: 20 })
        .describe("a token bucket per UDP source address (a relay, or 0.0.0.0 for unconfigured clients)"),
    })
    .refine((l) => longer(l.pendingExpiry, l.lastSeenInterval), {
      // A pending server that keeps booting is seen again only every lastSeenInterval.
      message: "must be longer than lastSeenInterval, or a server still booting would expire",
      path: ["pendingExpiry"],
    })
    .default({
      dedupeWindow: "30s",
      creationsPerMinute: 30,
      maxPending: 100,
      lastSeenInterval: "10m",
      pendingExpiry: "1h",
      deleteExpiredPending: false,
      perSource: { creationsPerMinute: 20, burst: 20 },
    }),
});

export type Policy = z.output<typeof policySchema>;

export function loadPolicy(file: string | undefined, overrides: Record<string, unknown> = {}): Policy {
  let raw: unknown = {};
  if (file) {
    try {
      raw = parseYaml(readFileSync(file, "utf8")) ?? {};
    } catch (err) {
      throw new Error(`policy file ${file}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }
  // Flags override single fields: --ip-range replaces the file's range but keeps its gateway.
  const base = (raw ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base, ...overrides };
  if (overrides.addresses)
    merged.addresses = { ...(base.addresses as object | undefined), ...overrides.addresses };
  const parsed = policySchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`invalid discovery policy${file ? ` in ${file}` : ""}: ${issues}`);
  }
  return parsed.data;
}
