// Explicit peers (`--peer`, a magnet's x.pe) are dialled for as long as the transfer runs, with back-off, instead
// of WebTorrent's three reconnects (1, 5, 15 s) and then never again. Peers from trackers get the same back-off for
// a while (TRACKER_PEER_ATTEMPTS; the next announce brings a live one back anyway), at most MAX_TRACKER_PEERS of
// them. Why each one fails is kept, so the user sees why nothing moves ("no peer reachable: 127.0.0.1:6881 connect
// ECONNREFUSED, retry in 30 s").
import { hasPeer } from './internals.js';

/** Waits between attempts to one address, then the last one over and over. */
export const RETRY_BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 20_000, 30_000];

/** Failed attempts after which a tracker's peer is forgotten (until a tracker names it again). */
export const TRACKER_PEER_ATTEMPTS = 8;

/** Tracker peers kept for retrying at once. */
export const MAX_TRACKER_PEERS = 100;

interface Dial {
  attempts: number;
  nextAt: number;
  lastError?: string;
  connected: boolean;
  explicit: boolean;
}

/** What a retry needs from a WebTorrent torrent (and the peers it holds, read through hasPeer). */
export interface DialTorrent {
  destroyed?: boolean;
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
    for (const a of addrs) this.dials.set(a, { attempts: 0, nextAt: 0, connected: false, explicit: true });
  }

  get size(): number {
    return this.dials.size;
  }

  has(addr: string): boolean {
    return this.dials.has(addr);
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A tracker named `addr` (already being dialled by WebTorrent): keep retrying it if it fails. */
  fromTracker(addr: string): void {
    if (this.dials.has(addr)) return;
    let trackers = 0;
    for (const d of this.dials.values()) if (!d.explicit) trackers++;
    if (trackers >= MAX_TRACKER_PEERS) return;
    // Dialled now by WebTorrent: the first retry waits for its outcome.
    this.dials.set(addr, {
      attempts: 1,
      nextAt: this.now() + RETRY_BACKOFF_MS[RETRY_BACKOFF_MS.length - 1],
      connected: false,
      explicit: false,
    });
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
    if (!d.explicit) {
      if (d.attempts >= TRACKER_PEER_ATTEMPTS) this.dials.delete(addr);
      return;
    }
    this.onFailure(addr, reason, wait, d.attempts);
  }

  private tick(): void {
    const t = this.torrent;
    if (t.destroyed) return this.stop();
    const now = this.now();
    for (const [addr, d] of this.dials) {
      if (d.connected || now < d.nextAt || hasPeer(t, addr)) continue;
      d.attempts++;
      d.nextAt = now + RETRY_BACKOFF_MS[RETRY_BACKOFF_MS.length - 1]; // until it reports back
      t.addPeer(addr);
    }
  }

  /** Why no peer we dial is connected (explicit peers named, tracker peers counted), or undefined. */
  problem(): string | undefined {
    if (!this.dials.size) return undefined;
    const parts: string[] = [];
    let trackerFailing = 0;
    let trackerExample = '';
    for (const [addr, d] of this.dials) {
      if (d.connected) return undefined;
      if (!d.lastError) continue;
      const secs = Math.max(0, Math.ceil((d.nextAt - this.now()) / 1000));
      const what = `${addr} ${d.lastError}, retry in ${secs} s (attempt ${d.attempts})`;
      if (d.explicit) parts.push(what);
      else if (trackerFailing++ === 0) trackerExample = what;
    }
    if (trackerFailing) parts.push(`${trackerFailing} peer(s) from trackers, e.g. ${trackerExample}`);
    return parts.length ? `no peer reachable: ${parts.join('; ')}` : undefined;
  }
}
