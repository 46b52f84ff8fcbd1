// What HTTP and UDP announces share: finding the swarm for an announced hash (registry index, blocklist,
// open mode), the interval policy, peer expiry and the counters. No I/O here.
import { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { Registry, RegisteredTorrent } from './registry.js';
import { Swarm, type PeerCounter } from './swarm.js';

export interface CoreConfig {
  /** Accept announces for hashes nobody registered (their swarms live in memory only). */
  open: boolean;
  /** Seconds between regular announces (`interval`). */
  interval: number;
  /** Seconds a client must wait at least (`min interval`). */
  minInterval: number;
  /** Most peers in one reply. */
  maxPeers: number;
  /** Seconds a peer stays listed without announcing again. */
  peerTtl: number;
  /** Most peers in memory across all swarms: past it new peers are refused (existing ones still announce). */
  maxTotalPeers: number;
  /** Most unregistered swarms in open mode. */
  maxOpenSwarms: number;
}

export const FAIL_UNREGISTERED = 'Unregistered torrent: info_hash not found in registry';
export const FAIL_BLOCKED = 'info_hash is blocked';
export const FAIL_FULL = 'tracker is full, try again later';
export const FAIL_RATE = 'Rate limit exceeded. Please slow down.';

export class TrackerCore {
  readonly counter: PeerCounter;
  readonly openSwarms = new Map<string, Swarm>();
  readonly metrics = new Metrics();
  /** The registered torrent behind the last `swarmFor` result (undefined for open swarms). */
  lastTorrent: RegisteredTorrent | undefined;

  constructor(
    readonly registry: Registry,
    readonly config: CoreConfig,
    readonly rateLimiter: RateLimiter | undefined,
  ) {
    this.counter = registry.counter;
  }

  /** The swarm to announce `hex` into, or the failure reason to send. */
  swarmFor(hex: string): Swarm | string {
    const t = this.registry.lookup(hex);
    this.lastTorrent = t;
    if (t !== undefined) return this.adoptOpen(t).swarm;
    if (this.registry.isBlocked(hex)) return FAIL_BLOCKED;
    if (!this.config.open) return FAIL_UNREGISTERED;
    let s = this.openSwarms.get(hex);
    if (s === undefined) {
      if (this.openSwarms.size >= this.config.maxOpenSwarms) return FAIL_FULL;
      s = new Swarm(this.counter);
      this.openSwarms.set(hex, s);
    }
    return s;
  }

  /** The swarm a scrape of `hex` reports on, if any (blocked and unknown hashes are left out). */
  scrapeSwarm(hex: string): Swarm | undefined {
    const t = this.registry.lookup(hex);
    if (t !== undefined) return this.adoptOpen(t).swarm;
    if (!this.config.open || this.registry.isBlocked(hex)) return undefined;
    return this.openSwarms.get(hex);
  }

  /**
   * A torrent registered after peers announced it to the open tracker (a share seeds first, then registers) takes
   * over their open swarm: otherwise its scrape said 0 seeders until each peer's next announce, half an hour later.
   */
  private adoptOpen(t: RegisteredTorrent): RegisteredTorrent {
    for (const h of t.hashes) {
      const open = this.openSwarms.get(h);
      if (!open) continue;
      this.openSwarms.delete(h);
      if (t.swarm.size === 0) {
        open.downloaded += t.swarm.downloaded;
        t.swarm = open;
      }
    }
    return t;
  }

  /** After an announce: count a completion once per swarm, durable later for registered torrents. */
  afterAnnounce(swarm: Swarm): void {
    if (swarm.justCompleted) {
      this.metrics.completions++;
      if (this.lastTorrent !== undefined) this.registry.completed(this.lastTorrent);
    }
  }

  /** Whether a new peer may be added. */
  get hasRoom(): boolean {
    return this.counter.peers < this.config.maxTotalPeers;
  }

  /** Drops peers past their time and empty open swarms. */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const t of this.registry.entries()) n += t.swarm.expire(now);
    for (const [hex, s] of this.openSwarms) {
      n += s.expire(now);
      if (s.size === 0) this.openSwarms.delete(hex);
    }
    return n;
  }

  /** Drops the open swarms of hashes just blocked. */
  dropOpen(hashes: readonly string[]): void {
    for (const h of hashes) {
      const s = this.openSwarms.get(h);
      if (s) {
        s.clear();
        this.openSwarms.delete(h);
      }
    }
  }

  totals(): { swarms: number; peers: number; seeders: number; leechers: number } {
    let swarms = 0;
    let seeders = 0;
    let leechers = 0;
    const add = (s: Swarm) => {
      if (s.size > 0) swarms++;
      seeders += s.seeders;
      leechers += s.leechers;
    };
    for (const t of this.registry.entries()) add(t.swarm);
    for (const s of this.openSwarms.values()) add(s);
    return { swarms, peers: this.counter.peers, seeders, leechers };
  }
}
