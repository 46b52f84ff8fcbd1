// Seeders and downloaders per catalog entry, from real sources: our own seeding (we seed it: one seeder, plus the
// connected peers that are seeds), a scrape of the entry's trackers (HTTP BEP 48 and UDP BEP 15, through
// bittorrent-tracker's client, the one WebTorrent announces with) and a BEP 33 DHT scrape (dht-scrape.ts). Counts
// are kept in the store by infohash with when and how they were taken (store.ts, swarm_counts), and refreshed in the
// background at a modest pace: only entries a face asked about (the ones shown or searched), each at most once per
// `minIntervalMs`, one entry at a time.
import { Client as TrackerClient } from 'bittorrent-tracker';
import { silentLogger, type Logger } from '../log.js';
import type { CatalogStore, ListedEntry, SwarmCount } from './store.js';

export interface PeerCount {
  seeders: number;
  leechers: number;
}

export interface SwarmCounterOptions {
  /** What this node knows first hand: undefined when it does not hold these bytes. */
  self?: (v1: string | undefined, v2: string | undefined) => PeerCount | undefined;
  /** A BEP 33 DHT scrape of a v1 infohash (undefined: no node answered). */
  dht?: (v1: string) => Promise<PeerCount | undefined>;
  /** Each entry is counted again at most this often (default 10 min). */
  minIntervalMs?: number;
  /** Per tracker scrape (default 5 s). */
  scrapeTimeoutMs?: number;
  /** Scrapes this many trackers of an entry at most (default 3). */
  maxTrackers?: number;
  /** Pause between two entries' counts (default 250 ms): a page of results is counted over seconds, not at once. */
  spacingMs?: number;
  log?: Logger;
  /** Told when a count was stored. */
  onCounted?: (infohash: string, c: SwarmCount) => void;
}

const SCRAPABLE = /^(https?|udp):\/\//i;

/** One tracker's scrape of one v1 infohash: undefined when it does not answer or does not know the torrent. */
export function scrapeTracker(announce: string, v1: string, timeoutMs = 5000): Promise<PeerCount | undefined> {
  return new Promise((resolve) => {
    let done = false;
    let client: { destroy?: () => void } | undefined;
    const finish = (r: PeerCount | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // A tracker that never answered: its socket and retry timers go now, not at the library's own timeout.
      try {
        client?.destroy?.();
      } catch {}
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref?.();
    try {
      // bittorrent-tracker 11 wants the hash as hex for HTTP (it converts) but as bytes for UDP (it sends them as is:
      // a hex string went out as 40 bytes of text, read by the tracker as two unknown hashes, so 0 seeders).
      const infoHash = /^udp:/i.test(announce) ? Buffer.from(v1, 'hex') : v1;
      client = (TrackerClient as any).scrape({ announce, infoHash }, (err: Error | null, data: any) => {
        if (err || !data) return finish(undefined);
        const seeders = Number(data.complete);
        const leechers = Number(data.incomplete);
        if (!Number.isSafeInteger(seeders) || seeders < 0) return finish(undefined);
        finish({ seeders, leechers: Number.isSafeInteger(leechers) && leechers >= 0 ? leechers : 0 });
      });
    } catch {
      finish(undefined);
    }
  });
}

export class SwarmCounter {
  private readonly queue = new Map<string, ListedEntry>();
  /** When each infohash was last counted or queued for counting by us (unix ms). */
  private readonly asked = new Map<string, number>();
  private running = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(
    private readonly store: CatalogStore,
    private readonly opts: SwarmCounterOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
  }

  private key(e: { v1?: string; v2?: string }): string | undefined {
    return (e.v1 ?? e.v2)?.toLowerCase();
  }

  /** Asks for these entries to be counted in the background (those not counted within `minIntervalMs`). */
  want(entries: ListedEntry[]): void {
    if (this.stopped) return;
    const now = Date.now();
    const every = this.opts.minIntervalMs ?? 10 * 60_000;
    for (const e of entries) {
      const k = this.key(e);
      if (!k) continue;
      const last = Math.max(this.asked.get(k) ?? 0, e.countedAt ?? 0);
      if (now - last < every) continue;
      this.asked.set(k, now);
      this.queue.set(k, e);
    }
    this.pump();
  }

  /** Fills a page's counts with what this node knows first hand, now (no waiting for the background pass). */
  withSelf(entries: ListedEntry[]): ListedEntry[] {
    const self = this.opts.self;
    if (!self) return entries;
    return entries.map((e) => {
      const c = self(e.v1, e.v2);
      if (!c) return e;
      return {
        ...e,
        seeders: Math.max(e.seeders, c.seeders),
        leechers: Math.max(e.leechers, c.leechers),
        countedAt: Date.now(),
        countedBy: joinSources(e.countedBy, 'self'),
      };
    });
  }

  /** Counts one entry now, from every source, and stores the result. */
  async count(e: Pick<ListedEntry, 'v1' | 'v2' | 'trackers'>): Promise<SwarmCount | undefined> {
    const k = this.key(e);
    if (!k) return undefined;
    const found: [string, PeerCount][] = [];
    const mine = this.opts.self?.(e.v1, e.v2);
    if (mine) found.push(['self', mine]);
    if (e.v1) {
      const trackers = e.trackers.filter((t) => SCRAPABLE.test(t)).slice(0, this.opts.maxTrackers ?? 3);
      const [dht, ...scrapes] = await Promise.all([
        this.opts.dht?.(e.v1).catch(() => undefined),
        ...trackers.map((t) => scrapeTracker(t, e.v1!, this.opts.scrapeTimeoutMs)),
      ]);
      for (const s of scrapes) if (s) found.push(['tracker', s]);
      if (dht) found.push(['dht', dht]);
    }
    if (!found.length) return undefined;
    // Sources overlap (a tracker counts us too): the largest figure of each kind, not their sum.
    const c: SwarmCount = {
      seeders: Math.max(...found.map(([, f]) => f.seeders)),
      leechers: Math.max(...found.map(([, f]) => f.leechers)),
      countedAt: Date.now(),
      countedBy: [...new Set(found.map(([s]) => s))].join('+'),
    };
    if (this.stopped) return c;
    this.store.setCounts(k, c);
    this.opts.onCounted?.(k, c);
    return c;
  }

  private pump(): void {
    if (this.running || this.stopped || !this.queue.size) return;
    this.running = true;
    const [k, e] = this.queue.entries().next().value as [string, ListedEntry];
    this.queue.delete(k);
    void this.count(e)
      .catch((err: Error) => this.log.debug(`swarm count ${k}: ${err.message}`))
      .finally(() => {
        this.running = false;
        this.timer = setTimeout(() => this.pump(), this.opts.spacingMs ?? 250);
        this.timer.unref?.();
      });
  }

  stop(): void {
    this.stopped = true;
    this.queue.clear();
    clearTimeout(this.timer);
  }
}

function joinSources(a: string | undefined, b: string): string {
  return [...new Set([...(a ? a.split('+') : []), b])].join('+');
}
