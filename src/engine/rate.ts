// A token bucket for the upload and download limits, per transfer and per process (WebTorrent only has
// process-wide socket throttles, which queued seconds of blocks).
//
// Whoever must wait joins one first-come-first-served queue with a single timer for its head. Each waiter used to
// sleep and retry on its own timer: a rate-limited seed with 16 peers had hundreds of blocks polling, and the
// timers alone took half of its main thread (perf, bench:swarm N = 16: 0.85 of 1.77 CPU s).
export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private timer?: NodeJS.Timeout;

  /** `rate` in bytes per second; < 0 means unlimited. One second of burst. `now`: the clock, in ms (tests). */
  constructor(
    private rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = Math.max(rate, 0);
    this.last = now();
  }

  /** Bytes per second, -1 when unlimited. */
  get bytesPerSecond(): number {
    return this.rate < 0 ? -1 : this.rate;
  }

  get limited(): boolean {
    return this.rate >= 0;
  }

  /** Callers waiting in take() (for tests and stats). */
  get waiting(): number {
    return this.waiters.length;
  }

  setRate(rate: number): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, Math.max(rate, 0));
    // The head's wait was computed at the old rate.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.drain();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  private grab(n: number): boolean {
    if (this.rate < 0) return true;
    this.refill();
    // A request larger than the whole bucket passes once the bucket is full, or it could never pass.
    if (this.tokens >= Math.min(n, this.rate)) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Takes `n` bytes if available now and nobody is waiting before us. */
  tryTake(n: number): boolean {
    if (this.rate < 0) return true;
    return this.waiters.length === 0 && this.grab(n);
  }

  /** Milliseconds until `n` bytes may be available. */
  waitMs(n: number): number {
    if (this.rate <= 0) return this.rate < 0 ? 0 : 1000;
    this.refill();
    return Math.max(1, Math.ceil(((Math.min(n, this.rate) - this.tokens) / this.rate) * 1000));
  }

  /** Resolves once `n` bytes have been taken, after everyone who asked before. */
  take(n: number): Promise<void> {
    if (this.tryTake(n)) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.waiters.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, this.waitMs(this.waiters[0].n));
  }

  /** Lets through, in order, every waiter the bucket now covers; waits again for the next one. */
  private drain(): void {
    let i = 0;
    while (i < this.waiters.length && this.grab(this.waiters[i].n)) i++;
    for (const w of this.waiters.splice(0, i)) w.resolve();
    this.schedule();
  }
}
