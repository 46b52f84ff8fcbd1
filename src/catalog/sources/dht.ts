// The DHT source: finds publishers (the rendezvous directories, the keys the user trusts, the publishers we already
// hold), reads each one's signed feed and merges the catalog it points at, taking only that publisher's records from
// it; publishes our own catalog to our feed and serves our directory at the rendezvous. Threat model and design:
// docs/catalog-security.md.
import { CATALOG_FILE_NAME, encodeCatalog } from '../catalog-file.js';
import type { Catalog } from '../catalog.js';
import { fingerprint } from '../identity.js';
import { mapLimit, MAX_DIRECTORY_KEYS, type Directory, type PointerClient, type Pointer } from '../pointers.js';
import type { CatalogTransport } from '../transport.js';
import { silentLogger, type Logger } from '../../log.js';

/** Feeds read per refresh, whatever the sources say: the cap that keeps many keys from costing us without bound. */
export const MAX_FEEDS_PER_REFRESH = 200;
/** Feeds read (and catalogs fetched) at once: one feed pointing at a catalog nobody seeds does not stall the rest. */
const FEED_CONCURRENCY = 8;

export interface RefreshReport {
  /** Rendezvous nodes that answered with a valid directory. */
  directories: number;
  /** Feeds read. */
  feeds: number;
  /** Feeds whose catalog could not be fetched or read (retried with back-off by the service). */
  failed: number;
}

export class DhtSource {
  /** Catalog infohashes already merged: an unchanged pointer costs no fetch. */
  private readonly merged = new Set<string>();
  /** Publishers whose feed we merged, with when: what our directory names, most recent first. */
  private readonly held = new Map<string, number>();
  /**
   * Feeds whose catalog could not be fetched: that catalog is not tried again until `until` (5 s doubling to 30 min),
   * unless the feed moves to another catalog or the publisher is trusted.
   */
  private readonly failures = new Map<string, { n: number; until: number; infohash: string }>();
  /** Publisher keys (hex) the user chose to trust: always read first. Set by the service. */
  trustedKeys: () => string[] = () => [];

  constructor(
    private readonly catalog: Catalog,
    private readonly pointers: PointerClient,
    private readonly transport: CatalogTransport,
    private readonly log: Logger = silentLogger,
  ) {}

  /**
   * Fetches and merges the catalog a pointer names; failures are recorded on the source, never thrown. `publisher`
   * (a feed's owner) restricts the merge to that publisher's records.
   */
  async follow(id: string, pointer: Pointer | undefined, publisher?: string): Promise<boolean> {
    if (!pointer) {
      this.catalog.sourceFailed(id, 'dht', 'no pointer found');
      return false;
    }
    if (this.merged.has(pointer.infohash)) {
      this.catalog.store.recordSource({
        id,
        kind: 'dht',
        ok: true,
        pointerSeq: pointer.seq,
        infohash: pointer.infohash,
      });
      if (publisher) this.held.set(publisher, Date.now());
      return true;
    }
    try {
      const file = await this.transport.fetch(pointer.infohash, CATALOG_FILE_NAME);
      const source = { id, kind: 'dht', pointerSeq: pointer.seq, infohash: pointer.infohash };
      const r = await this.catalog.ingestFile(file, source, { publisher });
      if (r.stats.foreign) this.log.debug(`catalog: ${id}: ignored ${r.stats.foreign} records of other publishers`);
      this.merged.add(pointer.infohash);
      if (publisher) this.held.set(publisher, Date.now());
      return true;
    } catch (err) {
      this.log.warn(`catalog: ${id}: ${(err as Error).message}`);
      this.catalog.sourceFailed(id, 'dht', (err as Error).message);
      return false;
    }
  }

  /**
   * Who to read, in order, capped at MAX_FEEDS_PER_REFRESH: the keys the user trusts; the signer of each directory
   * (one per rendezvous node, and nodes are capped per IP); keys named by two or more distinct signers, most named
   * first; the publishers we already hold; then keys named once, round-robin across directories so that no single
   * directory fills the list. An attacker with many keys can add at most a directory's worth per node it runs.
   */
  candidates(directories: Directory[]): string[] {
    const own = this.catalog.identity?.publisher;
    const out = new Set<string>();
    const push = (k: string) => {
      if (k !== own && /^[0-9a-f]{64}$/.test(k) && out.size < MAX_FEEDS_PER_REFRESH) out.add(k);
    };
    for (const k of this.trustedKeys()) push(k.toLowerCase());
    const signers = new Map<string, Directory>();
    for (const d of directories) if (!signers.has(d.publisher)) signers.set(d.publisher, d);
    for (const k of signers.keys()) push(k);
    const vouches = new Map<string, number>();
    for (const d of signers.values()) {
      for (const k of d.publishers.slice(0, MAX_DIRECTORY_KEYS)) vouches.set(k, (vouches.get(k) ?? 0) + 1);
    }
    const multi = [...vouches].filter(([, n]) => n >= 2).sort((a, b) => b[1] - a[1]);
    for (const [k] of multi) push(k);
    for (const k of this.held.keys()) push(k);
    for (const e of this.catalog.index.entries.values()) if (out.size < MAX_FEEDS_PER_REFRESH) push(e.publisher);
    const lists = [...signers.values()].map((d) => d.publishers.slice(0, MAX_DIRECTORY_KEYS));
    for (let i = 0; i < MAX_DIRECTORY_KEYS && out.size < MAX_FEEDS_PER_REFRESH; i++) {
      for (const l of lists) if (i < l.length) push(l[i]);
    }
    return [...out];
  }

  /** One pass: the rendezvous directories, then the feed of every candidate publisher. Never throws. */
  async refresh(opts: { fresh?: boolean; noRepair?: boolean } = {}): Promise<RefreshReport> {
    const directories = await this.pointers.findDirectories().catch(() => []);
    const order = this.candidates(directories);
    const known = new Set<string>([...this.catalog.index.entries.values()].map((e) => e.publisher));
    const trusted = new Set(this.trustedKeys().map((k) => k.toLowerCase()));
    let feeds = 0;
    let failed = 0;
    const now = Date.now();
    await mapLimit(order, FEED_CONCURRENCY, async (pub) => {
      const p = await this.pointers.readFeed(pub, opts.fresh).catch(() => undefined);
      // A directory signer need not publish (a node that only holds others' catalogs): no feed is no failure then.
      if (!p && !known.has(pub)) return;
      // A feed that keeps pointing at a catalog nobody serves costs one fetch per back-off period, not one a pass.
      const backoff = this.failures.get(pub);
      if (backoff && now < backoff.until && !trusted.has(pub) && (p?.infohash ?? '') === backoff.infohash) return;
      feeds++;
      if (await this.follow(`dht:feed:${fingerprint(pub)}`, p, pub)) {
        this.failures.delete(pub);
        this.pointers.relayFeed(pub);
      } else {
        failed++;
        const n = (backoff?.n ?? 0) + 1;
        const until = Date.now() + Math.min(30 * 60_000, 5000 * 2 ** (n - 1));
        this.failures.set(pub, { n, until, infohash: p?.infohash ?? '' });
        if (this.failures.size > 4 * MAX_FEEDS_PER_REFRESH) this.failures.delete(this.failures.keys().next().value!);
      }
    });
    this.lastReport = { directories: directories.length, feeds, failed };
    // Every node holding catalogs serves a directory, so newcomers reach it whether or not it publishes.
    await this.advertise().catch((err) => this.log.debug(`catalog: rendezvous: ${(err as Error).message}`));
    return this.lastReport;
  }

  lastReport?: RefreshReport;

  /**
   * Sets our directory (signed by our key: the publishers whose catalogs we merged, most recent first) and announces
   * us at the rendezvous. The user's trust list is not published as such: it is theirs.
   */
  async advertise(): Promise<number> {
    const identity = this.catalog.identity;
    if (!identity) return 0;
    const recent = [...this.held.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    this.pointers.setDirectory(identity, recent);
    return this.pointers.announceRendezvous();
  }

  /** Publishes our own entries to our feed, and serves our directory at the rendezvous. */
  async publish(): Promise<{ feedSeq: number; feed: Pointer; index: Pointer; acks: number }> {
    const identity = this.catalog.identity;
    if (!identity) throw new Error('no publisher identity');
    try {
      return await this.publishOnce(identity);
    } catch (err) {
      // Not ready yet (the transport or the DHT): try again with back-off rather than stay unreachable.
      this.scheduleRetry(0);
      throw err;
    }
  }

  private async publishOnce(identity: NonNullable<Catalog['identity']>) {
    const own = this.catalog.ownEntries();
    const ownIh = await this.transport.publish(encodeCatalog(own), CATALOG_FILE_NAME);
    const updated = Math.floor(Date.now() / 1000);
    const feedSeq = await this.pointers.publishFeed(identity, { infohash: ownIh, entries: own.length, updated });
    this.merged.add(ownIh);
    const feedAcks = this.pointers.lastAcks;
    this.transport.announce?.(ownIh);
    const rendezvousAcks = await this.advertise();
    const acks = Math.min(feedAcks, rendezvousAcks);
    this.scheduleRetry(acks);
    const feed: Pointer = { infohash: ownIh, entries: own.length, updated, publishers: [], seq: feedSeq };
    // `index` is kept for callers written for the old shared index: it is the feed pointer now.
    const result = { feedSeq, feed, index: feed, acks };
    this.onPublished?.(result);
    return result;
  }

  /** Told of every publish pass, the retries after one nobody heard included: `acks` 0 means no DHT node stored
   *  the feed (or the rendezvous) yet, and a retry is scheduled. */
  onPublished?: (r: { feedSeq: number; feed: Pointer; index: Pointer; acks: number }) => void;

  private retryTimer?: NodeJS.Timeout;
  private retryDelay = 0;
  /** True while a publish has not reached any DHT node: the service redoes it as soon as the DHT finds nodes. */
  unheard = false;

  /**
   * A publish that no DHT node stored (the DHT had not found its first nodes yet) is redone with back-off until one
   * does; the regular republish (40 min) would be far too late for a share made at startup.
   */
  private scheduleRetry(acks: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.unheard = acks === 0 && !this.closed;
    if (acks > 0 || this.closed) {
      this.retryDelay = 0;
      return;
    }
    this.retryDelay = Math.min(60_000, this.retryDelay ? this.retryDelay * 2 : 2000);
    this.retryTimer = setTimeout(() => this.republish(), this.retryDelay);
    this.retryTimer.unref?.();
  }

  private republishing?: Promise<unknown>;

  /** Redoes publish() (one at a time): after a publish nobody heard, or when the DHT gains nodes. */
  republish(): Promise<unknown> {
    if (this.closed) return Promise.resolve();
    this.republishing ??= this.publish()
      .catch((err) => {
        this.log.warn(`catalog: republish failed: ${(err as Error).message}`);
        // Keep trying: a failure here is the DHT or the transport not being ready yet.
        this.scheduleRetry(0);
      })
      .finally(() => (this.republishing = undefined));
    return this.republishing;
  }

  private closed = false;

  close(): void {
    this.closed = true;
    this.unheard = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
