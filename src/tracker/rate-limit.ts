// Token bucket per client IP. The table is bounded: past `maxClients` the least recently seen client is
// forgotten (one at a time), so a flood of addresses cannot grow memory or wipe everyone's bucket at once.

export interface RateLimitOptions {
  /** Tokens refilled per second. */
  perSecond: number;
  /** Bucket size: how many requests a quiet client may send at once. */
  burst: number;
  /** Clients remembered at most (default 100,000). */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(options: RateLimitOptions) {
    this.perMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.maxClients = options.maxClients ?? 100_000;
  }

  /** Takes one token for `client`; false when its bucket is empty. */
  take(client: string, now = Date.now()): boolean {
    let b = this.buckets.get(client);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      // Re-insert so Map order is least-recently-seen first.
      this.buckets.delete(client);
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    this.buckets.set(client, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}
