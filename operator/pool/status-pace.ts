/**
 * How often a busy pool's status is written. A pass writes the status it computed whenever it differs from
 * the one the pool shows; for a large pool that write is the costliest request of the pass (every member is
 * in it: ~100 bytes each, validated and stored whole, sent to every watcher) and, while members change,
 * passes follow one another back to back. Written every pass, a pool of N members costs O(N) per pass and
 * O(N²) over a scale-up.
 *
 * So while a pass applies actions (more change is on its way), a status that differs only in members and
 * counts waits until an interval that grows with the pool has passed since the last write (1 ms a member,
 * at most 10 s); a pool under 100 members waits for nothing. Anything a person or a tool watches for is written at
 * once: a condition's status or reason, the observed generation, a member error, or a pass with nothing
 * left to do. Pure: the reconciler keeps when it last wrote.
 */
import type { BaremetalPoolStatus } from "../../lib/api/baremetalpool.ts";

export const STATUS_MS_PER_MEMBER = 1;
export const MAX_STATUS_INTERVAL_MS = 10_000;
/** Below this an interval is not worth a requeue: the pass itself takes about as long. */
const MIN_STATUS_INTERVAL_MS = 100;

export interface StatusPaceInput {
  /** What the pool shows now. */
  previous: BaremetalPoolStatus | undefined;
  /** What this pass computed. */
  next: BaremetalPoolStatus;
  /** The pass applied actions (not only waits). */
  busy: boolean;
  /** Members whose actions failed this pass. */
  errors: number;
  /** When this replica last wrote the pool's status (ms), if it has. */
  lastWriteAt: number | undefined;
  now: number;
}

const conditionKey = (s: BaremetalPoolStatus | undefined): string =>
  (s?.conditions ?? [])
    .map((c) => `${c.type}=${c.status}/${c.reason}`)
    .sort()
    .join(",");

/** 0: write now; otherwise how long the write may wait (the pool should be looked at again by then). */
export function statusWriteDelay(input: StatusPaceInput): number {
  const { previous, next } = input;
  if (!input.busy || input.errors > 0 || input.lastWriteAt === undefined) return 0;
  if (next.observedGeneration !== previous?.observedGeneration) return 0;
  if (conditionKey(next) !== conditionKey(previous)) return 0;
  const interval = Math.min(MAX_STATUS_INTERVAL_MS, (next.members?.length ?? 0) * STATUS_MS_PER_MEMBER);
  if (interval < MIN_STATUS_INTERVAL_MS) return 0;
  return Math.max(0, input.lastWriteAt + interval - input.now);
}
