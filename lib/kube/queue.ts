/**
 * A keyed work queue with controller-runtime's rules: a key waiting to be processed is held once however
 * often it is added; a key is never processed by two workers at once (an add while it is processing marks
 * it dirty and it runs again afterwards); failures retry with per-key exponential backoff; `forget`
 * resets the backoff after a success.
 */
export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 5 * 60_000;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.wake();
  }

  /** Adds after a delay; an earlier pending delayed add for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds with exponential backoff for this key: base × 2^(failures), capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.ready.length;
  }

  /** Waits for the next key; undefined once shut down. Call done(key) when finished with it. */
  async get(): Promise<string | undefined> {
    while (this.ready.length === 0 && !this.shuttingDown) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.shuttingDown) return undefined;
    const key = this.ready.shift() as string;
    this.queued.delete(key);
    this.processing.add(key);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.wake(true);
  }

  private wake(all = false): void {
    const waiters = all ? this.waiters.splice(0) : this.waiters.splice(0, 1);
    for (const w of waiters) w();
  }
}

/** What handling one key asked for: nothing (done), or to look again after a while. */
export type KeyResult = { requeueAfterMs?: number } | undefined | void;

/**
 * One worker, controller-runtime's way: take a key, handle it, and on success forget its failures (then
 * requeue it if asked); on an error requeue it with per-key backoff and report. Returns once the queue is
 * shut down and empty of work for this worker.
 */
export async function runWorker(
  queue: WorkQueue,
  handle: (key: string) => Promise<KeyResult>,
  onError: (key: string, err: unknown, retryInMs: number) => void,
): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    try {
      const result = await handle(key);
      queue.forget(key);
      if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      onError(key, err, queue.addRateLimited(key));
    } finally {
      queue.done(key);
    }
  }
}
