// Transfer rates from payload bytes only (piece blocks received and sent), over a short sliding window that empties
// when nothing moves. WebTorrent's own figures (torrent.downloadSpeed/uploadSpeed) count every socket byte,
// handshakes, bitfields, HAVE, PEX and keep-alive messages included (webtorrent/lib/peer.js pipes each connection
// through a counting Transform), and its meter (`throughput`) reports the average since the transfer started for
// its first 5 s: an idle seed with peers showed 50-300 B/s, a finished transfer "1 B/s" (a 4-byte keep-alive in a
// 5 s window is 0.8 B/s). Here a rate is the payload of the last WINDOW_MS, and 0 when there was none.

const WINDOW_MS = 5000;
const BUCKET_MS = 250;

export class RateMeter {
  private readonly buckets: Float64Array;
  /** The bucket index (time / bucketMs) each slot last counted for. */
  private readonly stamps: Float64Array;
  private readonly started: number;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs = WINDOW_MS,
    private readonly bucketMs = BUCKET_MS,
  ) {
    const n = Math.ceil(windowMs / bucketMs);
    this.buckets = new Float64Array(n);
    this.stamps = new Float64Array(n).fill(-1);
    this.started = now();
  }

  /** Counts `bytes` of payload moved now. */
  add(bytes: number): void {
    if (!(bytes > 0)) return;
    const slot = Math.floor(this.now() / this.bucketMs);
    const i = slot % this.buckets.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i] += bytes;
  }

  /** Bytes per second over the window (over the time since the meter started, when that is shorter but at least
   *  a second); exactly 0 when no payload moved in the window. */
  rate(): number {
    const now = this.now();
    const slot = Math.floor(now / this.bucketMs);
    const oldest = slot - this.buckets.length + 1;
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      if (this.stamps[i] >= oldest && this.stamps[i] <= slot) sum += this.buckets[i];
    }
    if (sum === 0) return 0;
    const span = Math.min(this.windowMs, Math.max(1000, now - this.started));
    return Math.round((sum * 1000) / span);
  }
}
