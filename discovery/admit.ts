/**
 * Admission: whether an unknown PXE client becomes Hardware, as one pure function of what the packet says,
 * where it came from, what discovery's caches hold right now, and the policy. No I/O, no clock, no caches:
 * the Discoverer reads the state, calls admit, and acts on the decision. Checks run cheapest first and the
 * first that fails names the reason, from a closed set that is also the metric's label.
 */
import { parseDuration } from "../lib/api/quantity.ts";
import { cidr, contains, parseIpv4, type Cidr } from "./ip.ts";
import type { Policy } from "./policy.ts";
import type { ClientFacts } from "./pxe.ts";

export const REJECT_REASONS = [
  /** Relayed, but giaddr is in no acceptRelays entry. */
  "relay-not-allowed",
  /** giaddr names an accepted relay, but the packet did not come from that relay's addresses: forged. */
  "relay-source-mismatch",
  /** Direct requests are not accepted (acceptDirect: false). */
  "direct-not-allowed",
  /** giaddr 0.0.0.0 but hops > 0: claims to have passed a relay it does not name. */
  "direct-with-hops",
  /** The same MAC was handled within the dedupe window (a retry). */
  "duplicate",
  /** This source address used up its token bucket. */
  "source-rate-limit",
  /** creationsPerMinute reached. */
  "rate-limit",
  /** maxPending unapproved servers already seen within pendingExpiry. */
  "pending-cap",
  /** Decided after admission, by the Discoverer: the address range is used up. */
  "no-address",
  /** Decided after admission: the API server refused or failed the create. */
  "api-error",
  /** Decided before decoding, by the listener: the packet queue was full. */
  "queue-full",
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export type Decision = { kind: "create"; approved: boolean } | { kind: "reject"; reason: RejectReason };

/** What arrived: the client's facts from the packet and the UDP source address it came from. */
export interface Arrival {
  client: ClientFacts;
  source: string;
}

/** What discovery knows at the moment of the decision, read from its caches. */
export interface AdmissionState {
  now: number;
  /** When this MAC was last handled (remembered after the path checks pass), if it was. */
  lastHandledAt: number | undefined;
  /** Tokens left in this source's bucket. */
  sourceTokens: number;
  /** Creations in the last minute, all sources. */
  creationsLastMinute: number;
  /** Pending Hardware seen within pendingExpiry. */
  pendingActive: number;
}

export interface ApprovalRule {
  macPrefix?: string;
  vendorClassPrefix?: string;
  subnet?: Cidr;
}

/** An accepted relay: its giaddr lies in `subnet`, its packets come from one of `sources`. */
export interface RelayRule {
  subnet: Cidr;
  sources: Cidr[];
}

/** The policy with its strings parsed once, so admission does no parsing per packet. */
export interface AdmissionRules {
  acceptDirect: boolean;
  relays: RelayRule[];
  autoApprove: ApprovalRule[];
  dedupeMs: number;
  creationsPerMinute: number;
  maxPending: number;
}

export function admissionRules(policy: Policy): AdmissionRules {
  return {
    acceptDirect: policy.acceptDirect,
    relays: policy.acceptRelays.map((r) =>
      typeof r === "string"
        ? { subnet: cidr(r), sources: [cidr(r)] }
        : { subnet: cidr(r.subnet), sources: (r.sources ?? [r.subnet]).map(cidr) },
    ),
    autoApprove: policy.autoApprove.map((r) => ({
      ...(r.macPrefix ? { macPrefix: r.macPrefix.toLowerCase() } : {}),
      ...(r.vendorClassPrefix ? { vendorClassPrefix: r.vendorClassPrefix } : {}),
      ...(r.subnet ? { subnet: cidr(r.subnet) } : {}),
    })),
    dedupeMs: parseDuration(policy.limits.dedupeWindow),
    creationsPerMinute: policy.limits.creationsPerMinute,
    maxPending: policy.limits.maxPending,
  };
}

/**
 * Whether the request came the way the policy accepts. Relayed: giaddr in an accepted relay's subnet, and
 * the UDP source one of that relay's addresses — giaddr is just a field anyone can fill in, the source
 * address at least has to be forged at the IP layer. Direct: giaddr 0.0.0.0 and hops 0.
 */
export function pathRejection(arrival: Arrival, rules: AdmissionRules): RejectReason | undefined {
  const { relay, hops } = arrival.client;
  if (relay === undefined) {
    if (!rules.acceptDirect) return "direct-not-allowed";
    return hops === 0 ? undefined : "direct-with-hops";
  }
  const giaddr = parseIpv4(relay);
  const candidates = rules.relays.filter((r) => giaddr !== undefined && contains(r.subnet, giaddr));
  if (!candidates.length) return "relay-not-allowed";
  const source = parseIpv4(arrival.source);
  const fromRelay = candidates.some(
    (r) => source !== undefined && r.sources.some((b) => contains(b, source)),
  );
  return fromRelay ? undefined : "relay-source-mismatch";
}

/** All conditions of one rule must hold; any rule will do. */
export function autoApproved(rules: AdmissionRules, client: ClientFacts): boolean {
  const giaddr = client.relay === undefined ? undefined : parseIpv4(client.relay);
  return rules.autoApprove.some(
    (rule) =>
      (!rule.macPrefix || client.mac.startsWith(rule.macPrefix)) &&
      (!rule.vendorClassPrefix || client.vendorClass.startsWith(rule.vendorClassPrefix)) &&
      (!rule.subnet || (giaddr !== undefined && contains(rule.subnet, giaddr))),
  );
}

const reject = (reason: RejectReason): Decision => ({ kind: "reject", reason });

/** Path, retry, per-source rate, global rate, pending cap: the first that says no is the reason. */
export function admit(arrival: Arrival, state: AdmissionState, rules: AdmissionRules): Decision {
  const path = pathRejection(arrival, rules);
  if (path) return reject(path);
  const last = state.lastHandledAt;
  if (last !== undefined && state.now - last < rules.dedupeMs) return reject("duplicate");
  if (state.sourceTokens < 1) return reject("source-rate-limit");
  if (state.creationsLastMinute >= rules.creationsPerMinute) return reject("rate-limit");
  const approved = autoApproved(rules, arrival.client);
  if (!approved && state.pendingActive >= rules.maxPending) return reject("pending-cap");
  return { kind: "create", approved };
}

const NOT_REMEMBERED: ReadonlySet<RejectReason> = new Set([
  "relay-not-allowed",
  "relay-source-mismatch",
  "direct-not-allowed",
  "direct-with-hops",
  "duplicate",
]);

/**
 * Whether the Discoverer remembers the MAC as handled after this decision, so its retries within the dedupe
 * window are duplicates. Not after a path rejection: a forged packet carrying a real server's MAC must not
 * make that server's own requests duplicates. Not after a duplicate either, so the window is not extended
 * by retries and a client refused for a limit is looked at again once the window has passed.
 */
export function remembersClient(decision: Decision): boolean {
  return decision.kind === "create" || !NOT_REMEMBERED.has(decision.reason);
}
