/**
 * At most `limit` tasks at once; the rest wait their turn in arrival order. Discovery puts its API calls
 * behind one of these, so a burst of admitted clients is created as fast as the API server allows without
 * opening a request per client at once, while the packets behind them are still read and admitted (or
 * refused) without waiting. What waits here was admitted, so the admission limits bound it.
 */
export class ConcurrencyLimit {
  private running = 0;
  private waiting: (() => void)[] = [];
  private head = 0;
  readonly limit: number;

  constructor(limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1))
      throw new Error("a concurrency limit is a positive integer");
    this.limit = limit;
  }

  /** Tasks started and not yet finished. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a turn. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      this.next();
    }
  }

  /** Hands the finished task's turn to the longest waiting one, or frees it. */
  private next(): void {
    const resume = this.waiting[this.head];
    if (!resume) {
      this.running -= 1;
      return;
    }
    this.waiting[this.head++] = () => undefined;
    // Drop the spent prefix once it is most of the array, so memory follows the waiting count.
    if (this.head > 64 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    resume();
  }
}
