/**
 * Requests the API server has served, from its own counter `apiserver_request_total` on /metrics: by verb
 * and resource, so a benchmark can say how many writes of which kind a phase cost, whoever made them; and
 * how long they took in all (`apiserver_request_duration_seconds_sum`), to say which kind keeps it busy.
 */
import { apiRequest, type ControlPlane } from "./control-plane.ts";

/** "VERB group/resource[/subresource]" → requests served (every response code). */
export type RequestCounts = Map<string, number>;

/** Verbs that read; everything else (POST, PUT, PATCH, APPLY, DELETE, DELETECOLLECTION) writes. */
const READS = new Set(["GET", "LIST", "WATCH", "WATCHLIST", "CONNECT", "HEAD", "OPTIONS"]);

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function parseRequestCounts(text: string, metric = "apiserver_request_total"): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("}");
    const labels = new Map([...line.slice(0, close).matchAll(LABEL)].map((m) => [m[1], m[2]]));
    const value = Number(line.slice(close + 1).trim());
    const resource = `${labels.get("group") ?? ""}/${labels.get("resource") ?? ""}${labels.get("subresource") ? `/${labels.get("subresource")}` : ""}`;
    const k = `${labels.get("verb") ?? "?"} ${resource}`;
    counts.set(k, (counts.get(k) ?? 0) + value);
  }
  return counts;
}

export interface RequestStats {
  counts: RequestCounts;
  /** Seconds spent serving each kind (watches excluded: they last as long as they are open). */
  seconds: RequestCounts;
}

export async function scrapeRequests(cp: Pick<ControlPlane, "server" | "token">): Promise<RequestStats> {
  const res = await apiRequest(cp, "GET", "/metrics");
  if (res.status !== 200 || typeof res.json !== "string") throw new Error(`GET /metrics: ${res.status}`);
  const seconds = parseRequestCounts(res.json, "apiserver_request_duration_seconds_sum");
  for (const k of seconds.keys()) if (k.startsWith("WATCH")) seconds.delete(k);
  return { counts: parseRequestCounts(res.json), seconds };
}

/** What was served between two scrapes (zeros left out). */
export function countsSince(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

export const isWrite = (k: string): boolean => !READS.has(k.split(" ")[0] ?? "");

/** Sum of the writes whose "VERB group/resource" key satisfies `match`. */
export function sumWrites(counts: RequestCounts, match: (k: string) => boolean = () => true): number {
  let total = 0;
  for (const [k, v] of counts) if (isWrite(k) && match(k)) total += v;
  return total;
}

/** The `top` largest entries as a plain object, for a results file. */
export function largest(counts: RequestCounts, top = 10, digits = 2): Record<string, number> {
  return Object.fromEntries(
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, Number(v.toFixed(digits))]),
  );
}

/** The writes as a plain object, largest first, for a results file. */
export function writesByKind(counts: RequestCounts): Record<string, number> {
  return Object.fromEntries([...counts].filter(([k]) => isWrite(k)).sort((a, b) => b[1] - a[1]));
}
