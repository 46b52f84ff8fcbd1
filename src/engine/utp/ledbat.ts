// Congestion control for uTP: LEDBAT (RFC 6817) as libtorrent applies it (utp_stream.cpp, do_ledbat), plus the
// TCP-style round-trip estimator that sets the retransmission timeout.
//
// LEDBAT keeps the queuing delay it adds to the path near a target (100 ms): it measures one-way delay from the
// peer's timestamp differences, takes the lowest seen recently as the path's base delay, and grows the window while
// the extra delay is under target, shrinks it when over. A TCP flow sharing the link fills the queue, the delay
// rises, and uTP backs off: that is what lets a seed run all day on a home link.

export const TARGET_DELAY_US = 100_000;
/** Bytes the window may grow per round trip when there is no queuing delay (libtorrent's utp_gain_factor). */
export const GAIN_BYTES_PER_RTT = 3000;
/** How long a base-delay minimum is remembered (two one-minute buckets, as clocks drift). */
const BASE_BUCKET_MS = 60_000;
const BASE_BUCKETS = 2;
export const MIN_RTO_MS = 500;
export const MAX_RTO_MS = 60_000;
export const INITIAL_RTO_MS = 1000;

export class Ledbat {
  /** Congestion window in bytes. */
  cwnd: number;
  slowStart = true;
  ssthresh = 0;
  /** The latest queuing-delay estimate in microseconds (for stats and the bench). */
  queuingDelayUs = 0;
  private readonly baseMins: number[] = [];
  private bucketStart = -1;
  private bucketMin = Infinity;
  private readonly recent: number[] = [];

  constructor(
    private mtu: number,
    private readonly maxCwnd: number,
    private readonly targetUs = TARGET_DELAY_US,
  ) {
    this.cwnd = 2 * mtu;
  }

  /** The packet size changed (MTU discovery): the window never holds less than one packet, nor starts below two. */
  setMtu(mtu: number): void {
    const before = this.mtu;
    this.mtu = mtu;
    if (this.cwnd < 2 * mtu && this.cwnd <= 2 * before)
      this.cwnd = Math.max(this.cwnd, Math.min(2 * mtu, this.maxCwnd));
    this.cwnd = Math.max(this.cwnd, mtu);
  }

  /** A timestamp-difference sample (µs, includes the clocks' offset); returns the queuing delay it implies. */
  addDelaySample(sampleUs: number, nowMs: number): number {
    if (this.bucketStart < 0 || nowMs - this.bucketStart >= BASE_BUCKET_MS) {
      if (this.bucketStart >= 0) {
        this.baseMins.push(this.bucketMin);
        if (this.baseMins.length > BASE_BUCKETS) this.baseMins.shift();
      }
      this.bucketStart = nowMs;
      this.bucketMin = Infinity;
    }
    // Samples are clock differences mod 2^32 (the two clocks have unrelated origins): compare them modularly, so a
    // difference sitting near the wrap point cannot confuse the minimum.
    if (this.bucketMin === Infinity || modLess(sampleUs, this.bucketMin)) this.bucketMin = sampleUs;
    let base = this.bucketMin;
    for (const m of this.baseMins) if (modLess(m, base)) base = m;
    const delay = (sampleUs - base) >>> 0;
    this.recent.push(delay);
    if (this.recent.length > 3) this.recent.shift();
    // The lowest of the last three filters out one-off spikes (a GC pause on either side).
    this.queuingDelayUs = Math.min(...this.recent);
    return this.queuingDelayUs;
  }

  /**
   * `acked` bytes left the network; `inFlight` were outstanding before; `saturated` says the sender was limited by
   * the window (an idle sender must not grow it).
   */
  onAck(acked: number, inFlight: number, saturated: boolean): void {
    if (acked <= 0 || inFlight <= 0) return;
    const delay = this.queuingDelayUs;
    if (delay >= this.targetUs && this.slowStart) {
      this.slowStart = false;
      this.ssthresh = this.cwnd / 2;
    }
    if (!saturated) return;
    const windowFactor = acked / inFlight;
    const delayFactor = (this.targetUs - delay) / this.targetUs;
    const linear = GAIN_BYTES_PER_RTT * windowFactor * delayFactor;
    let gain = linear;
    if (this.slowStart) {
      if (this.ssthresh && this.cwnd + acked > this.ssthresh) this.slowStart = false;
      else gain = Math.max(acked, linear);
    }
    this.cwnd = Math.min(this.maxCwnd, Math.max(this.mtu, this.cwnd + gain));
  }

  /** A packet was lost (three duplicate acks or a SACK gap): halve, once per window. */
  onLoss(): void {
    this.slowStart = false;
    this.cwnd = Math.max(this.mtu, this.cwnd / 2);
    this.ssthresh = this.cwnd;
  }

  /** The retransmission timer fired: everything in flight is presumed lost. */
  onTimeout(): void {
    this.ssthresh = Math.max(2 * this.mtu, this.cwnd / 2);
    this.cwnd = this.mtu;
    this.slowStart = true;
  }
}

/** a < b for 32-bit values that wrap. */
function modLess(a: number, b: number): boolean {
  return a !== b && (b - a) >>> 0 < 0x80000000;
}

/** Round-trip time and retransmission timeout (RFC 6298 shape, libtorrent's 500 ms floor). */
export class RttEstimator {
  rttMs = 0;
  rttVarMs = 0;
  rtoMs = INITIAL_RTO_MS;
  private have = false;

  sample(ms: number): void {
    if (!this.have) {
      this.rttMs = ms;
      this.rttVarMs = ms / 2;
      this.have = true;
    } else {
      this.rttVarMs += (Math.abs(this.rttMs - ms) - this.rttVarMs) / 4;
      this.rttMs += (ms - this.rttMs) / 8;
    }
    this.rtoMs = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.rttMs + 4 * this.rttVarMs));
  }

  backOff(): void {
    this.rtoMs = Math.min(MAX_RTO_MS, this.rtoMs * 2);
  }
}
