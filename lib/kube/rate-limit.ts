/**
 * Client-side request limit, as client-go has one (QPS and burst): `burst` requests may go at once, then
 * `qps` a second. It protects the API server from the operator rather than the other way round: a pass over
 * thousands of members queues here instead of flooding the server (and its priority-and-fairness queues).
 * Waiting requests go in arrival order; an aborted wait gives its turn back.
 */
export interface TokenBucketOptions {
  qps: number;
  burst: number;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  /** May go negative: each waiting request has reserved the token it will use. */
  private tokens: number;
  private last: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Total time requests have waited here, in seconds (a metric: is the limit what slows us?). */
  waitedSeconds = 0;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.qps > 0) || !(opts.burst >= 1))
      throw new Error(`a request limit needs qps > 0 and burst ≥ 1, got ${opts.qps}/${opts.burst}`);
    this.qps = opts.qps;
    this.burst = Math.floor(opts.burst);
    this.tokens = this.burst;
    this.now = opts.now ?? (() => performance.now());
    this.sleep = opts.sleep ?? abortableSleep;
    this.last = this.now();
  }

  /** Resolves when this request may go; rejects if `signal` aborts first. */
  async take(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.qps) * 1000;
    try {
      await this.sleep(waitMs, signal);
      this.waitedSeconds += waitMs / 1000;
    } catch (err) {
      this.tokens += 1;
      throw err;
    }
  }
}

/** The limit --kube-api-qps and --kube-api-burst ask for; undefined (no limit) when qps is 0. */
export function requestLimitFromFlags(
  qps: string,
  burst: string,
): { qps: number; burst: number } | undefined {
  const q = Number(qps);
  const b = Number(burst);
  if (qps.trim() === "" || !Number.isFinite(q) || q < 0)
    throw new Error(`--kube-api-qps must be a number ≥ 0, got "${qps}"`);
  if (!Number.isInteger(b) || b < 1)
    throw new Error(`--kube-api-burst must be a positive integer, got "${burst}"`);
  return q === 0 ? undefined : { qps: q, burst: b };
}
