/**
 * Flood limits that cost O(1) per packet: a sliding one-minute window of creations (the global cap) and a
 * token bucket per source address (so one noisy relay or segment cannot spend the whole global budget),
 * with a bounded number of buckets.
 */
import { BoundedMap } from "./bounded-map.ts";

/** Event times within the last `spanMs`, kept as a queue: the oldest leave from the front as time passes. */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;
  readonly spanMs: number;

  constructor(spanMs: number) {
    this.spanMs = spanMs;
  }

  count(now: number): number {
    while (this.head < this.times.length && now - (this.times[this.head] as number) >= this.spanMs)
      this.head++;
    // Compact once the dead prefix is most of the array, so memory stays proportional to the live count.
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(now: number): void {
    this.times.push(now);
  }
}

export interface BucketRule {
  /** Tokens added per minute. */
  creationsPerMinute: number;
  /** Most tokens a bucket holds: how many creations a quiet source may make at once. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per source address. A source never seen, or forgotten because `maxSources` newer ones
 * came after it, has a full bucket: forgetting an idle bucket loses nothing, and forgetting a busy one under
 * a flood of forged sources only matters until the global window caps the flood anyway.
 */
export class SourceBuckets {
  private readonly buckets: BoundedMap<string, Bucket>;
  private readonly rule: BucketRule;

  constructor(rule: BucketRule, maxSources: number) {
    this.rule = rule;
    this.buckets = new BoundedMap(maxSources);
  }

  /** Tokens this source has now (fractional while refilling). */
  available(source: string, now: number): number {
    const bucket = this.buckets.get(source);
    if (!bucket) return this.rule.burst;
    const refill = (Math.max(0, now - bucket.at) * this.rule.creationsPerMinute) / 60_000;
    return Math.min(this.rule.burst, bucket.tokens + refill);
  }

  take(source: string, now: number): void {
    this.buckets.set(source, { tokens: this.available(source, now) - 1, at: now });
  }

  get size(): number {
    return this.buckets.size;
  }
}
