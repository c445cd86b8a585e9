/**
 * The cancellation of one API request: its own timeout and the signals it must also end on (leadership,
 * shutdown), let go of as soon as the request ends. AbortSignal.timeout and AbortSignal.any instead keep
 * every request's signal (and what the HTTP client hangs on it) alive until the timeout fires or the
 * long-lived signal is collected: thousands of requests a pass meant tens of megabytes held for 30 s.
 */
export class RequestScope {
  private readonly controller = new AbortController();
  private readonly sources: AbortSignal[];
  private timer: NodeJS.Timeout | undefined;
  private timedOutAfterMs: number | undefined;
  private readonly forward = (event: Event): void => {
    this.controller.abort((event.target as AbortSignal).reason);
  };

  constructor(sources: AbortSignal[]) {
    this.sources = sources;
    for (const s of sources) {
      if (s.aborted) this.controller.abort(s.reason);
      else s.addEventListener("abort", this.forward, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The source signal that ended the request, if one did (a timeout is no source). */
  cancelledBy(): AbortSignal | undefined {
    return this.sources.find((s) => s.aborted);
  }

  /** Set when the timeout ended the request. */
  get timedOutAfter(): number | undefined {
    return this.timedOutAfterMs;
  }

  startTimeout(ms: number): void {
    this.timer = setTimeout(() => {
      this.timedOutAfterMs = ms;
      this.controller.abort(new Error(`timed out after ${ms} ms`));
    }, ms);
  }

  /** Call when the request has ended, however it ended. */
  done(): void {
    clearTimeout(this.timer);
    for (const s of this.sources) s.removeEventListener("abort", this.forward);
  }
}
