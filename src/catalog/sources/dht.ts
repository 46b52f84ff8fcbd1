// The DHT source: follows the shared index and every known publisher's feed, fetches the catalogs they point at and
// merges them; publishes our own catalog to our feed and, by read-merge-CAS, to the shared index.
import { CATALOG_FILE_NAME, decodeCatalog, encodeCatalog } from '../catalog-file.js';
import type { Catalog } from '../catalog.js';
import { fingerprint } from '../identity.js';
import type { PointerClient, Pointer } from '../pointers.js';
import type { CatalogTransport } from '../transport.js';
import { silentLogger, type Logger } from '../../log.js';

const MAX_FEEDS_PER_REFRESH = 200;

export class DhtSource {
  /** Catalog infohashes already merged: an unchanged pointer costs no fetch. */
  private readonly merged = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly pointers: PointerClient,
    private readonly transport: CatalogTransport,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Fetches and merges the catalog a pointer names; failures are recorded on the source, never thrown. */
  async follow(id: string, pointer: Pointer | undefined): Promise<boolean> {
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
      return true;
    }
    try {
      const file = await this.transport.fetch(pointer.infohash, CATALOG_FILE_NAME);
      await this.catalog.ingestAsync(decodeCatalog(file), {
        id,
        kind: 'dht',
        pointerSeq: pointer.seq,
        infohash: pointer.infohash,
      });
      this.merged.add(pointer.infohash);
      return true;
    } catch (err) {
      this.log.warn(`catalog: ${id}: ${(err as Error).message}`);
      this.catalog.sourceFailed(id, 'dht', (err as Error).message);
      return false;
    }
  }

  /** One pass: the index, then every publisher we know of (from the index and from entries we hold). */
  async refresh(opts: { fresh?: boolean; noRepair?: boolean } = {}): Promise<void> {
    const index = await this.pointers.readIndex(opts.fresh).catch(() => undefined);
    await this.follow('dht:index', index);
    const publishers = new Set<string>(index?.publishers ?? []);
    for (const e of this.catalog.index.entries.values()) publishers.add(e.publisher);
    const own = this.catalog.identity?.publisher;
    if (own) publishers.delete(own);
    // Self-healing: a write to the shared index that lost a race unseen is redone when we notice we are missing.
    if (own && index && !index.publishers.includes(own) && this.catalog.ownEntries().length && !opts.noRepair) {
      await this.publish().catch((err) => this.log.warn(`catalog: index repair failed: ${(err as Error).message}`));
    }
    for (const pub of [...publishers].slice(0, MAX_FEEDS_PER_REFRESH)) {
      const p = await this.pointers.readFeed(pub, opts.fresh).catch(() => undefined);
      if (p) await this.follow(`dht:feed:${fingerprint(pub)}`, p);
    }
  }

  /** Publishes our own entries to our feed, then adds them to the shared index. */
  async publish(): Promise<{ feedSeq: number; index: Pointer; acks: number }> {
    const identity = this.catalog.identity;
    if (!identity) throw new Error('no publisher identity');
    const own = this.catalog.ownEntries();
    const ownIh = await this.transport.publish(encodeCatalog(own), CATALOG_FILE_NAME);
    const now = Math.floor(Date.now() / 1000);
    const feedSeq = await this.pointers.publishFeed(identity, { infohash: ownIh, entries: own.length, updated: now });
    this.merged.add(ownIh);
    const feedAcks = this.pointers.lastAcks;
    const index = await this.pointers.updateIndex(async (cur) => {
      // Merge what the index holds first, so our write carries everyone else's entries too.
      if (cur) await this.follow('dht:index', cur);
      const all = [...this.catalog.index.entries.values()];
      const ih = await this.transport.publish(encodeCatalog(all), CATALOG_FILE_NAME);
      this.merged.add(ih);
      const publishers = [identity.publisher, ...(cur?.publishers ?? []).filter((p) => p !== identity.publisher)];
      return { infohash: ih, entries: all.length, updated: Math.floor(Date.now() / 1000), publishers };
    });
    const acks = Math.min(feedAcks, this.pointers.lastAcks);
    for (const ih of [ownIh, index.infohash]) this.transport.announce?.(ih);
    this.scheduleRetry(acks);
    return { feedSeq, index, acks };
  }

  private retryTimer?: NodeJS.Timeout;
  private retryDelay = 0;

  /**
   * A publish that no DHT node stored (the DHT had not found its first nodes yet) is redone with backoff until one
   * does; the regular republish (40 min) would be far too late for a share made at startup.
   */
  private scheduleRetry(acks: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (acks > 0 || this.closed) {
      this.retryDelay = 0;
      return;
    }
    this.retryDelay = Math.min(60_000, this.retryDelay ? this.retryDelay * 2 : 2000);
    this.retryTimer = setTimeout(() => {
      this.publish().catch((err) => this.log.warn(`catalog: republish failed: ${(err as Error).message}`));
    }, this.retryDelay);
    this.retryTimer.unref?.();
  }

  private closed = false;

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
