/**
 * What each bmc Machine's BMC reports, read with bounded work: a report is reused for `ttlMs` (a server's
 * NICs and UUID do not change by the minute), a BMC that failed is not asked again before its backoff ends
 * (doubling per failure), and at most `concurrency` BMCs are read at once. However many pending servers
 * discovery creates, each BMC is read at most once per `ttlMs`.
 */
import type { BmcMachine } from "../lib/bmc/target.ts";
import type { BmcReport } from "./vouch-match.ts";

export interface BmcReportsOptions {
  read: (machine: BmcMachine) => Promise<BmcReport>;
  ttlMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  concurrency?: number;
  now?: () => number;
  /** A read failed; the Machine is skipped for `retryInMs`. */
  onFailure?: (machine: BmcMachine, err: unknown, retryInMs: number) => void;
}

interface Cached {
  version: string;
  at: number;
  report: BmcReport;
}

interface Failed {
  version: string;
  count: number;
  until: number;
}

const keyOf = (m: BmcMachine): string => `${m.metadata.namespace ?? ""}/${m.metadata.name ?? ""}`;

export class BmcReports {
  private readonly opts: Required<Omit<BmcReportsOptions, "onFailure">> &
    Pick<BmcReportsOptions, "onFailure">;
  private readonly cached = new Map<string, Cached>();
  private readonly failed = new Map<string, Failed>();

  constructor(opts: BmcReportsOptions) {
    this.opts = {
      ttlMs: 10 * 60_000,
      backoffMs: 30_000,
      maxBackoffMs: 10 * 60_000,
      concurrency: 4,
      now: () => Date.now(),
      ...opts,
    };
  }

  /**
   * Reports of `machines` (all of one namespace that may vouch): fresh cached ones, the rest read now;
   * Machines backing off are left out. A changed Machine (another resourceVersion) is read again at once.
   * Memory of that namespace's Machines not in `machines` is dropped.
   */
  async of(namespace: string, machines: readonly BmcMachine[]): Promise<BmcReport[]> {
    this.forgetOthers(namespace, new Set(machines.map(keyOf)));
    const now = this.opts.now();
    const reports: BmcReport[] = [];
    const toRead: BmcMachine[] = [];
    for (const m of machines) {
      const version = m.metadata.resourceVersion ?? "";
      const hit = this.cached.get(keyOf(m));
      const failure = this.failed.get(keyOf(m));
      if (hit && hit.version === version && now - hit.at < this.opts.ttlMs) reports.push(hit.report);
      else if (!failure || failure.version !== version || now >= failure.until) toRead.push(m);
    }
    const read = await eachLimited(toRead, this.opts.concurrency, (m) => this.readOne(m));
    return [...reports, ...read.filter((r): r is BmcReport => r !== undefined)];
  }

  private async readOne(m: BmcMachine): Promise<BmcReport | undefined> {
    const key = keyOf(m);
    const version = m.metadata.resourceVersion ?? "";
    try {
      const report = await this.opts.read(m);
      this.cached.set(key, { version, at: this.opts.now(), report });
      this.failed.delete(key);
      return report;
    } catch (err) {
      this.cached.delete(key);
      const before = this.failed.get(key);
      const count = before && before.version === version ? before.count + 1 : 1;
      const retryInMs = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** (count - 1));
      this.failed.set(key, { version, count, until: this.opts.now() + retryInMs });
      this.opts.onFailure?.(m, err, retryInMs);
      return undefined;
    }
  }

  private forgetOthers(namespace: string, keep: Set<string>): void {
    for (const memory of [this.cached, this.failed])
      for (const key of memory.keys())
        if (key.startsWith(`${namespace}/`) && !keep.has(key)) memory.delete(key);
  }
}

/** `fn` over `items`, at most `limit` at a time; results in the items' order. */
async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return out;
}
