// A token bucket for per-transfer rate limits (WebTorrent only has process-wide throttles).
export class RateLimiter {
  private tokens: number;
  private last = performance.now();

  /** `rate` in bytes per second; < 0 means unlimited. One second of burst. */
  constructor(private rate: number) {
    this.tokens = Math.max(rate, 0);
  }

  /** Bytes per second, -1 when unlimited. */
  get bytesPerSecond(): number {
    return this.rate < 0 ? -1 : this.rate;
  }

  get limited(): boolean {
    return this.rate >= 0;
  }

  setRate(rate: number): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, Math.max(rate, 0));
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Takes `n` bytes if available now. */
  tryTake(n: number): boolean {
    if (this.rate < 0) return true;
    this.refill();
    // A request larger than the whole bucket passes once the bucket is full, or it could never pass.
    if (this.tokens >= Math.min(n, this.rate)) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until `n` bytes may be available. */
  waitMs(n: number): number {
    if (this.rate <= 0) return this.rate < 0 ? 0 : 1000;
    this.refill();
    return Math.max(1, Math.ceil(((Math.min(n, this.rate) - this.tokens) / this.rate) * 1000));
  }

  /** Resolves once `n` bytes have been taken. */
  async take(n: number): Promise<void> {
    while (!this.tryTake(n)) await new Promise((r) => setTimeout(r, this.waitMs(n)));
  }
}
