// Explicit peers (`--peer`, a magnet's x.pe) are dialled for as long as the transfer runs, with back-off, instead
// of WebTorrent's three reconnects (1, 5, 15 s) and then never again. Why each one fails is kept, so the user sees
// why nothing moves ("no peer reachable: 127.0.0.1:6881 connect ECONNREFUSED, retry in 30 s").

/** Waits between attempts to one address, then the last one over and over. */
export const RETRY_BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 20_000, 30_000];

interface Dial {
  attempts: number;
  nextAt: number;
  lastError?: string;
  connected: boolean;
}

/** What a retry needs from a WebTorrent torrent. */
export interface DialTorrent {
  destroyed?: boolean;
  _peers?: Map<string, unknown>;
  addPeer(addr: string): unknown;
}

export class PeerRetry {
  private readonly dials = new Map<string, Dial>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly torrent: DialTorrent,
    addrs: string[],
    private readonly onFailure: (addr: string, reason: string, retryInMs: number, attempts: number) => void,
    private readonly now: () => number = Date.now,
  ) {
    for (const a of addrs) this.dials.set(a, { attempts: 0, nextAt: 0, connected: false });
  }

  get size(): number {
    return this.dials.size;
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A handshake with `addr` succeeded: it counts as reachable again, and a later loss retries at once. */
  connected(addr: string): void {
    const d = this.dials.get(addr);
    if (!d) return;
    d.connected = true;
    d.attempts = 0;
    d.lastError = undefined;
  }

  /** The connection to `addr` ended (or never came up): `reason` says why. */
  failed(addr: string, reason: string): void {
    const d = this.dials.get(addr);
    if (!d) return;
    const wasConnected = d.connected;
    d.connected = false;
    if (wasConnected) {
      d.nextAt = this.now() + RETRY_BACKOFF_MS[0];
      return;
    }
    const wait = RETRY_BACKOFF_MS[Math.min(d.attempts - 1, RETRY_BACKOFF_MS.length - 1)] ?? RETRY_BACKOFF_MS[0];
    d.nextAt = this.now() + wait;
    d.lastError = reason;
    this.onFailure(addr, reason, wait, d.attempts);
  }

  private tick(): void {
    const t = this.torrent;
    if (t.destroyed) return this.stop();
    const now = this.now();
    for (const [addr, d] of this.dials) {
      if (d.connected || now < d.nextAt || t._peers?.has(addr)) continue;
      d.attempts++;
      d.nextAt = now + RETRY_BACKOFF_MS[RETRY_BACKOFF_MS.length - 1]; // until it reports back
      t.addPeer(addr);
    }
  }

  /** Why no explicit peer is connected, or undefined when one is (or none was given). */
  problem(): string | undefined {
    if (!this.dials.size) return undefined;
    const parts: string[] = [];
    for (const [addr, d] of this.dials) {
      if (d.connected) return undefined;
      if (!d.lastError) continue;
      const secs = Math.max(0, Math.ceil((d.nextAt - this.now()) / 1000));
      parts.push(`${addr} ${d.lastError}, retry in ${secs} s (attempt ${d.attempts})`);
    }
    return parts.length ? `no peer reachable: ${parts.join('; ')}` : undefined;
  }
}
