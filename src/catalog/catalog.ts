// The catalog as one object: the merge index (who wins), the sql.js store (search, persistence) and our own
// publisher identity. Every source feeds records through ingest(); nothing but a newer signed entry replaces one.
import { join } from 'node:path';
import { encodeCatalog, readCatalogFile } from './catalog-file.js';
import { normaliseFields, signEntry, type CatalogEntry, type EntryFields } from './entry.js';
import type { Identity } from './identity.js';
import { EntryIndex, totalDropped, type MergeOptions, type MergeResult } from './merge.js';
import { sharedVerifyPool } from './verify-pool.js';
import { CatalogStore, type SearchQuery, type StoredEntry } from './store.js';
import { VerifiedCache, VERIFIED_FILE } from './verified-cache.js';
import { silentLogger, type Logger } from '../log.js';

export const STORE_FILE = 'catalog.sqlite';

/**
 * A bulk load builds its secondary indexes early when at most this many rows, and a fifth of the load, are still to
 * come (and being verified): those rows then update the indexes one by one, which costs more per row than a build,
 * so only the last few. For 100,000 rows it takes the build (~0.7 s) off the end, where one core alone worked.
 */
const EARLY_INDEX_ROWS = 12_000;

export type PublishInput = Omit<Partial<EntryFields>, 'publisher' | 'seq'> & { name: string };

export class Catalog {
  readonly index = new EntryIndex();
  private listeners = new Set<() => void>();

  private constructor(
    readonly store: CatalogStore,
    readonly identity: Identity | undefined,
    private readonly log: Logger,
    /** Records whose signatures were verified here before (verified-cache.ts): not verified twice. */
    readonly verified: VerifiedCache,
  ) {}

  /** Opens `<home>/catalog.sqlite` and `<home>/verified.bin` (or in memory when home is undefined). */
  static async open(opts: { home?: string; identity?: Identity; log?: Logger } = {}): Promise<Catalog> {
    const store = await CatalogStore.open(opts.home ? join(opts.home, STORE_FILE) : undefined);
    const verified = await VerifiedCache.open(opts.home ? join(opts.home, VERIFIED_FILE) : undefined);
    const catalog = new Catalog(store, opts.identity, opts.log ?? silentLogger, verified);
    catalog.index.load(store.signedEntries());
    return catalog;
  }

  /** Called after every change (the sidebar refreshes on it). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Merges signed records from a source and records the source's state. */
  ingest(records: Iterable<Uint8Array>, source: { id: string; kind: string; pointerSeq?: number; infohash?: string }) {
    return this.record(this.index.merge(records, { verified: this.verified }), source);
  }

  /** ingest() for big catalogs: signatures are checked on worker threads. */
  async ingestAsync(
    records: Iterable<Uint8Array>,
    source: { id: string; kind: string; pointerSeq?: number; infohash?: string },
    opts: MergeOptions = {},
  ) {
    return this.record(await this.mergeIntoStore(records, source.id, opts), source, true);
  }

  /**
   * Merges on the verify pool and writes each verified batch to the store as it comes (store.ts bulkLoad), so the
   * index is built while the next batches are verified, and the main thread is held in pieces, not all at once.
   */
  private async mergeIntoStore(records: Iterable<Uint8Array>, sourceId: string, opts: MergeOptions) {
    // How many rows it may write: the store makes room for them ahead (a first catalog fetch).
    const load = this.store.bulkLoad(sourceId, { expectedRows: Array.isArray(records) ? records.length : undefined });
    try {
      return await this.index.mergeAsync(
        records,
        (jobs) => sharedVerifyPool().verify(jobs),
        { ...opts, verified: this.verified },
        (entries, fresh, next) => {
          load.write(entries, fresh);
          // The verify threads are still busy with the last few batches: build the secondary indexes now, on this
          // core, instead of after the last verify, when this core alone would work and the others wait.
          if (next.verifying && next.candidates <= EARLY_INDEX_ROWS && next.candidates * 5 <= next.total)
            load.indexNow();
        },
      );
    } finally {
      load.finish();
    }
  }

  /**
   * Merges a catalog file (either version). Chunks of a version 2 file that this store merged before (under the
   * same publisher restriction, or none) are not inflated again: their records count as unchanged. Throws
   * CatalogFileError for a file over a limit (nothing is merged then).
   */
  async ingestFile(
    file: Uint8Array,
    source: { id: string; kind: string; pointerSeq?: number; infohash?: string },
    opts: MergeOptions = {},
  ) {
    const scope = opts.publisher ?? '*';
    const read = await readCatalogFile(
      file,
      (digest) =>
        this.store.chunkSeen(`${digest}:*`) ??
        (opts.publisher !== undefined ? this.store.chunkSeen(`${digest}:${scope}`) : undefined),
    );
    const merged = await this.mergeIntoStore(read.records, source.id, opts);
    merged.stats.seen += read.skipped.records;
    merged.stats.unchanged += read.skipped.records;
    const result = this.record(merged, source, true);
    // After the upsert: a chunk is marked seen only once its records are in the store (both saved together).
    this.store.markChunksSeen(read.chunks.map((c) => ({ id: `${c.digest}:${scope}`, records: c.records })));
    return { ...result, skipped: read.skipped };
  }

  /** Bumped whenever one of our own entries changes, whoever brought it (publish, another process, a source). */
  ownVersion = 0;

  /** Records a merge's outcome; `written`: its entries are in the store already (mergeIntoStore). */
  private record(
    result: MergeResult,
    source: { id: string; kind: string; pointerSeq?: number; infohash?: string },
    written = false,
  ) {
    if (result.changed.length && !written) this.store.upsert(result.changed, source.id, { fresh: result.added });
    const me = this.identity?.publisher;
    if (me && result.changed.some((e) => e.publisher === me)) this.ownVersion++;
    const dropped = totalDropped(result.stats);
    this.store.recordSource({
      id: source.id,
      kind: source.kind,
      ok: true,
      entries: result.stats.seen - dropped,
      pointerSeq: source.pointerSeq,
      infohash: source.infohash,
      dropped,
    });
    if (dropped) this.log.warn(`catalog: ${source.id}: dropped ${dropped} bad entries`, result.stats.dropped);
    if (result.changed.length) this.emit();
    return result;
  }

  /** Unsigned entries (the Go Silmaril network): kept under their own publisher name and always shown as untrusted. */
  ingestUnsigned(entries: StoredEntry[], source: { id: string; kind: string; pointerSeq?: number; infohash?: string }) {
    const n = this.store.upsert(entries, source.id);
    this.store.recordSource({ ...source, ok: true, entries: entries.length });
    if (n) this.emit();
    return n;
  }

  sourceFailed(id: string, kind: string, error: string): void {
    this.store.recordSource({ id, kind, ok: false, error });
  }

  private requireIdentity(): Identity {
    if (!this.identity) throw new Error('no publisher identity: this catalog is read-only');
    return this.identity;
  }

  private nextSeq(name: string): number {
    const known = this.index.get(this.requireIdentity().publisher, name);
    return known ? known.seq + 1 : 1;
  }

  /** Signs and stores a new entry (or a new version of one) from our identity. */
  publish(input: PublishInput): CatalogEntry {
    const id = this.requireIdentity();
    const fields = normaliseFields({ ...input, publisher: id.publisher, seq: this.nextSeq(input.name) });
    const entry = signEntry(fields, (m) => id.sign(m));
    this.ingest([entry.record], { id: 'local', kind: 'local' });
    return entry;
  }

  /** Withdraws one of our models: a signed tombstone with a higher seq, which replaces the entry everywhere. */
  withdraw(name: string): CatalogEntry {
    const id = this.requireIdentity();
    const fields = normaliseFields({ name, publisher: id.publisher, seq: this.nextSeq(name), deleted: true });
    const entry = signEntry(fields, (m) => id.sign(m));
    this.ingest([entry.record], { id: 'local', kind: 'local' });
    return entry;
  }

  /** Our own entries (tombstones included): what our publisher feed carries. */
  ownEntries(): CatalogEntry[] {
    const pub = this.identity?.publisher;
    return pub ? this.index.sorted().filter((e) => e.publisher === pub) : [];
  }

  /** The catalog file of everything we hold. */
  catalogFile(): Uint8Array {
    return encodeCatalog(this.index.entries.values());
  }

  /** The catalog file of our own entries only. */
  ownCatalogFile(): Uint8Array {
    return encodeCatalog(this.ownEntries());
  }

  search(q: SearchQuery = {}) {
    return this.store.search(q);
  }

  /**
   * Merges what another process wrote to the store file (a `silmaril share` next to a running daemon) into this
   * catalog, by the same union rule. Returns the merge result, or undefined when the file did not change.
   */
  async syncFromDisk(): Promise<MergeResult | undefined> {
    if (!this.store.path || !(await this.store.changedOnDisk())) return undefined;
    const other = await CatalogStore.open(this.store.path);
    let result: MergeResult;
    try {
      result = this.ingest(
        other.signedEntries().map((e) => e.record),
        { id: 'local', kind: 'local' },
      );
    } finally {
      other.close();
    }
    await this.store.markSeen();
    return result;
  }

  /** Saves the store, first merging in whatever another process saved meanwhile (nothing of theirs is lost). */
  async save(): Promise<void> {
    await this.syncFromDisk();
    if (this.store.isDirty) await this.store.save();
    await this.verified.save();
  }

  close(): void {
    this.store.close();
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {}
    }
  }
}
