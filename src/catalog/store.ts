// The catalog store: every entry we know (sql.js), indexed for search (FTS4 over name, tags and description, plus
// indexes for the filters and sorts), and each source's state. Saved atomically: temporary file, fsync, rename.
import { readFile, stat } from 'node:fs/promises';
import type { Database, SqlJsStatic } from 'sql.js';
import { buildMagnet } from '../torrent/magnet.js';
import type { CatalogEntry, EntryFields } from './entry.js';
import { fingerprint } from './identity.js';
import { plainText } from './text.js';
import { TrustList } from './trust.js';
import { loadSqlJs } from '../shared/sqljs.js';
import { writeFileAtomic } from '../shared/atomic-file.js';

/** An entry as the store holds it: signed ones carry their record; unsigned ones (the Go network) do not. */
export interface StoredEntry extends EntryFields {
  trusted: boolean;
  record?: Uint8Array;
  /** Which source brought it first (`dht`, `tracker:<url>`, `local`, `silmaril-go`...). */
  source: string;
  seeders: number;
}

/** What `discover` and the sidebar show. */
export interface ListedEntry {
  name: string;
  publisher: string;
  fingerprint: string;
  license: string;
  tags: string[];
  size: number;
  files: number;
  v1?: string;
  v2?: string;
  magnet: string;
  /** The publisher is a key the user chose to trust (SearchQuery.trust); a name alone never makes an entry trusted. */
  trusted: boolean;
  /** Signed by `publisher` (every entry but those of unsigned sources such as the Go Silmaril network). */
  signed: boolean;
  /** Fingerprints (or, unsigned, source names) of the other publishers claiming the same name, case ignored. */
  conflicts: string[];
  format: string;
  architecture: string;
  parameters: number;
  quantization: string;
  description: string;
  created: number;
  seq: number;
  /** Seeders last counted for these bytes (swarm-counts.ts: our own seed, tracker scrape, DHT scrape); 0 until
   *  counted (`countedAt` null). */
  seeders: number;
  /** Downloaders last counted (0 until counted). */
  leechers: number;
  /** When the counts were taken (unix ms), or null: never counted. */
  countedAt: number | null;
  /** Where the counts came from: `self`, `tracker`, `dht`, joined with `+`; undefined until counted. */
  countedBy?: string;
  source: string;
  trackers: string[];
  webSeeds: string[];
}

/** A swarm count (src/catalog/swarm-counts.ts). */
export interface SwarmCount {
  seeders: number;
  leechers: number;
  /** Unix ms. */
  countedAt: number;
  /** `self`, `tracker`, `dht`, joined with `+`; `registry`: the figure a tracker registry lists. */
  countedBy: string;
}

export interface SearchResult {
  entries: ListedEntry[];
  /** Matches, counted up to COUNT_CAP. */
  total: number;
  /** False when there are more than COUNT_CAP matches. */
  totalExact: boolean;
}

export type SortKey = 'name' | 'size' | 'date' | 'seeders';

export interface SearchQuery {
  /** Words matched (as prefixes) in name, tags and description. */
  text?: string;
  license?: string;
  /** Full hex key, a hex prefix, or a fingerprint. */
  publisher?: string;
  format?: string;
  /** Every tag must be present. */
  tags?: string[];
  minSize?: number;
  maxSize?: number;
  sort?: SortKey;
  descending?: boolean;
  limit?: number;
  offset?: number;
  /** Only entries of the keys in `trust` (none when `trust` is empty): the user's trusted publishers. */
  trustedOnly?: boolean;
  /** Leave out unsigned entries (the Go network, registries). */
  signedOnly?: boolean;
  /** Publisher keys or fingerprints the user trusts (trust.ts): these entries are listed `trusted`. */
  trust?: string[] | TrustList;
}

export interface SourceState {
  id: string;
  kind: string;
  lastUpdate?: number;
  lastAttempt?: number;
  entries: number;
  errors: number;
  lastError?: string;
  /** Pointer sequence / catalog infohash last read from this source. */
  pointerSeq?: number;
  infohash?: string;
  dropped: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  -- A 52-bit hash of publisher/name finds a row by key: an index of integers instead of ~100-byte strings.
  khash INTEGER NOT NULL,
  publisher TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  name TEXT NOT NULL,
  -- What the full-text index sees of the name: empty for tombstones, so withdrawn models never match.
  search_name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  v1 TEXT, v2 TEXT,
  size INTEGER NOT NULL, files INTEGER NOT NULL,
  license TEXT NOT NULL, tags TEXT NOT NULL, description TEXT NOT NULL,
  format TEXT NOT NULL, architecture TEXT NOT NULL, parameters INTEGER NOT NULL, quantization TEXT NOT NULL,
  created INTEGER NOT NULL, trackers TEXT NOT NULL, webseeds TEXT NOT NULL,
  trusted INTEGER NOT NULL, source TEXT NOT NULL, seeders INTEGER NOT NULL DEFAULT 0,
  record BLOB
);
CREATE INDEX IF NOT EXISTS entries_khash ON entries(khash);
CREATE INDEX IF NOT EXISTS entries_name ON entries(deleted, name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entries_size ON entries(deleted, size);
CREATE INDEX IF NOT EXISTS entries_created ON entries(deleted, created);
CREATE INDEX IF NOT EXISTS entries_seeders ON entries(deleted, seeders);
-- No index on license or format: a handful of values each, so a filter on them walks the sort order's index
-- (search) at no loss, and each index cost ~10% of a bulk load. Stores from before drop them (migrate).
CREATE INDEX IF NOT EXISTS entries_publisher ON entries(publisher);
CREATE INDEX IF NOT EXISTS entries_fingerprint ON entries(fingerprint);
CREATE INDEX IF NOT EXISTS entries_v1 ON entries(v1);
CREATE INDEX IF NOT EXISTS entries_v2 ON entries(v2);
CREATE TABLE IF NOT EXISTS entry_tags (tag TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tag, id)) WITHOUT ROWID;
-- External content: the text lives once, in entries; unicode61 splits names on / . - _ by itself.
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts4(content="entries", search_name, tags, description, tokenize=unicode61);
CREATE TABLE IF NOT EXISTS sources (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, last_update INTEGER, last_attempt INTEGER,
  entries INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  pointer_seq INTEGER, infohash TEXT, dropped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
-- Swarm counts by infohash (v1 or v2 hex), kept apart from the signed entries: several entries may name the same
-- bytes, and a count is the swarm's, not the publisher's. counted_at: unix ms.
CREATE TABLE IF NOT EXISTS swarm_counts (
  infohash TEXT PRIMARY KEY, seeders INTEGER NOT NULL, leechers INTEGER NOT NULL, counted_at INTEGER NOT NULL,
  counted_by TEXT NOT NULL
) WITHOUT ROWID;
-- Catalog file chunks (version 2) whose records were merged into this store, as "<sha256>:<publisher or *>", with
-- their record count: a later catalog carrying the same chunk does not inflate it again (catalog.ts ingestFile).
CREATE TABLE IF NOT EXISTS seen_chunks (id TEXT PRIMARY KEY, records INTEGER NOT NULL) WITHOUT ROWID;
`;

/** 2: rows found by a key hash instead of a unique text key. */
const SCHEMA_VERSION = 2;

const SECONDARY_INDEXES = [
  'entries_name',
  'entries_size',
  'entries_created',
  'entries_seeders',
  'entries_publisher',
  'entries_fingerprint',
  'entries_v1',
  'entries_v2',
];

const INSERT_COLUMNS =
  'id, khash, publisher, fingerprint, name, search_name, seq, deleted, v1, v2, size, files, license, tags, description, ' +
  'format, architecture, parameters, quantization, created, trackers, webseeds, trusted, source, record';
const INSERT_PARAMS = INSERT_COLUMNS.split(', ')
  .map(() => '?')
  .join(', ');
/** From this many rows on, the full-text index is rebuilt once instead of updated row by row. */
const BULK_ROWS = 5000;
/** Room made ahead per row a bulk load expects (presize): a catalog's rows with their indexes and full text take
 *  ~1.6 KB (bench:catalog); a short guess only means the file grows by copies again past it. */
const BYTES_PER_ROW = 2048;
/** ...and no more room than this (a catalog file may claim a million records; past it the file grows as before). */
const MAX_ROOM = 256 * 1024 * 1024;
/** Page cache during a bulk load (negative: KiB, SQLite's convention); the previous size is restored after. */
const BULK_CACHE_KIB = -32768;

/** Text searches with at most this many full-text hits start from the hits. */
const FEW_HITS = 2000;
/** Search totals are exact up to here (less than FEW_HITS: the count of text hits stops past FEW_HITS). */
export const COUNT_CAP = 1000;
/** ...and up to here when a filtered text search has many hits ("200+"). */
const WALK_COUNT_CAP = 200;

const COLUMNS =
  'id, publisher, fingerprint, name, seq, deleted, v1, v2, size, files, license, tags, description, format, ' +
  'architecture, parameters, quantization, created, trackers, webseeds, trusted, source, seeders';

/** See CatalogStore.bulkLoad. */
export interface BulkLoad {
  /** Writes entries that won a merge; `fresh`: keys among them the store cannot hold yet (no lookup). */
  write(entries: (CatalogEntry | StoredEntry)[], fresh?: Set<string>): void;
  /**
   * Builds the secondary indexes now, if the load dropped them: the pieces still to come update them row by row.
   * For the last pieces of a load, while their signatures are verified on the other cores (catalog.ts).
   */
  indexNow(): void;
  /** Builds what a bulk load left for the end. Idempotent. */
  finish(): void;
}

/** Wall milliseconds of each step at the end of a bulk load (BulkLoad.finish), after the last piece. */
export interface BulkLoadTimes {
  /** Building the secondary indexes dropped for the load. */
  indexes: number;
  /** They were built before the last pieces (BulkLoad.indexNow), not after. */
  early: boolean;
  /** Merging the full-text segments into one. */
  optimize: number;
  commit: number;
}

export class CatalogStore {
  private dirty = false;

  private constructor(
    private db: Database,
    readonly path: string | undefined,
    private readonly SQL: SqlJsStatic,
  ) {}

  /** Opens the store at `path` (created when missing); no path keeps it in memory (tests, benchmarks). */
  static async open(path?: string): Promise<CatalogStore> {
    const SQL = await loadSqlJs();
    let bytes: Uint8Array | undefined;
    if (path) {
      try {
        bytes = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const store = new CatalogStore(new SQL.Database(bytes), path, SQL);
    store.configure();
    store.migrate();
    store.diskStamp = await stampOf(path);
    return store;
  }

  /** Per-connection settings. */
  private configure(): void {
    // The database lives in memory and reaches the disk only through save(): a rollback journal kept in sql.js's
    // in-memory file system bought no safety and cost a copy of every page a transaction touched (~2x slower).
    this.db.run('PRAGMA journal_mode = MEMORY');
    this.tempReady = false;
  }

  /**
   * Makes room ahead in sql.js's in-memory database file for about `extra` more bytes. That file grows by 12.5% at a
   * time, each time copied whole into a new buffer: a fresh 100,000-entry store (~160 MB) was ~1.3 GB allocated and
   * copied, and every ~64 MB of it made V8 mark the whole heap (external memory pressure), ~2 s of GC threads.
   * sql.js has no way to size the file, but a database opened from bytes gets a file of exactly those bytes: so the
   * store is reopened from its own image followed by zeros, and SQLite (which reads the database's size from its
   * header, not from the file's) writes its new pages into them. db.export() copies the database page by page (the
   * backup API), so a save writes the database alone. Worth it only when the load grows the store several times
   * over; never inside a transaction.
   */
  private presize(extra: number): void {
    const size = (this.scalar('PRAGMA page_count', []) + 1) * this.scalar('PRAGMA page_size', []);
    if (extra < 2 * size) return;
    const image = this.db.export();
    const padded = new Uint8Array(image.length + extra);
    padded.set(image);
    this.db.close();
    this.db = new this.SQL.Database(padded);
    this.configure();
  }

  /**
   * Creates the tables, or brings a store written by an older version to this schema: its rows are read back and
   * written again (the signed records are kept byte for byte, so nothing is re-verified or lost).
   */
  private migrate(): void {
    const db = this.db;
    const version = Number(this.tableExists('meta') ? (this.getMeta('schema') ?? 1) : SCHEMA_VERSION);
    const old = version < SCHEMA_VERSION && this.tableExists('entries');
    const rows: StoredEntry[] = [];
    if (old) {
      const stmt = db.prepare(`SELECT ${COLUMNS}, record FROM entries`);
      try {
        while (stmt.step()) {
          const row = stmt.getAsObject() as Record<string, any>;
          rows.push({
            ...rowToFields(row),
            trusted: row.trusted === 1,
            record: (row.record as Uint8Array | null) ?? undefined,
            source: row.source,
            seeders: row.seeders,
          });
        }
      } finally {
        stmt.free();
      }
      db.run('DROP TABLE IF EXISTS entries_fts; DROP TABLE IF EXISTS entry_tags; DROP TABLE IF EXISTS entries;');
    }
    db.run(SCHEMA);
    db.run('DROP INDEX IF EXISTS entries_license; DROP INDEX IF EXISTS entries_format;');
    if (rows.length) {
      this.upsert(rows, 'local', { fresh: new Set(rows.map((r) => `${r.publisher}/${r.name}`)) });
      for (const r of rows) {
        if (r.seeders) {
          db.run('UPDATE entries SET seeders = ? WHERE khash = ? AND publisher = ? AND name = ?', [
            r.seeders,
            keyHash(`${r.publisher}/${r.name}`),
            r.publisher,
            r.name,
          ]);
        }
      }
    }
    if (version !== SCHEMA_VERSION || !this.getMeta('schema')) this.setMeta('schema', String(SCHEMA_VERSION));
    this.dirty = old;
  }

  private tableExists(name: string): boolean {
    return this.db.exec('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?', [`table`, name]).length > 0;
  }

  /** mtime and size of the file as we last read or wrote it. */
  private diskStamp = '';

  /** True when another process (e.g. `silmaril share` next to a running daemon) wrote the file since. */
  async changedOnDisk(): Promise<boolean> {
    return (await stampOf(this.path)) !== this.diskStamp;
  }

  /** Marks the file's current state as seen (after merging it). */
  async markSeen(): Promise<void> {
    this.diskStamp = await stampOf(this.path);
  }

  close(): void {
    this.db.close();
  }

  get isDirty(): boolean {
    return this.dirty;
  }

  /**
   * Writes entries that won a merge (or unsigned ones from the Go network). The caller decides who wins (merge.ts);
   * this replaces whatever the store held under the same key.
   */
  upsert(entries: Iterable<CatalogEntry | StoredEntry>, source: string, opts: { fresh?: Set<string> } = {}): number {
    const list = [...entries];
    if (!list.length) return 0;
    // Big batches (a first catalog fetch) skip per-row full-text updates and rebuild the index once at the end.
    if (list.length >= BULK_ROWS) {
      const load = this.bulkLoad(source);
      try {
        load.write(list, opts.fresh);
      } finally {
        load.finish();
      }
      return list.length;
    }
    this.transaction(() => this.writeRows(list, source, opts.fresh, false));
    this.dirty = true;
    return list.length;
  }

  /**
   * An upsert fed in pieces as they come (a big catalog, verified batch by batch on worker threads): each piece is
   * written while the next ones are still being verified, instead of everything after the last. From the first piece
   * of BULK_ROWS rows on it is a bulk load: the secondary indexes are dropped once, rows are written without
   * full-text updates, and finish() (always call it, in a finally) builds tags, indexes and full text once. Smaller
   * pieces before that are written as upsert() writes them. save() waits for finish(): a file saved mid-load would
   * lack the full text of the rows written so far.
   */
  bulkLoad(source: string, opts: { expectedRows?: number } = {}): BulkLoad {
    let db = this.db;
    let firstNew: number | undefined;
    let cacheSize: number | undefined;
    let holdsOuter = false;
    let done = false;
    const tail: BulkLoadTimes = { indexes: 0, optimize: 0, commit: 0, early: false };
    let indexed = false;
    const buildIndexes = () => {
      if (firstNew === undefined || indexed) return;
      indexed = true;
      const t = performance.now();
      db.run(SCHEMA); // re-creates the dropped indexes
      tail.indexes = performance.now() - t;
    };
    let release!: () => void;
    const open = new Promise<void>((r) => (release = r));
    this.bulkOpen.add(open);
    return {
      write: (entries, fresh) => {
        if (done) throw new Error('bulk load already finished');
        if (!entries.length) return;
        if (firstNew === undefined && entries.length >= BULK_ROWS) {
          // A bulk load with SQLite's default 2 MB page cache keeps spilling pages (and index sorts) into sql.js's
          // in-memory file, which grows by copying itself: a 32 MB cache for the load measured ~9% less CPU.
          if (this.outerHolders === 0 && opts.expectedRows) {
            this.presize(Math.min(opts.expectedRows * BYTES_PER_ROW, MAX_ROOM));
            db = this.db;
          }
          cacheSize = db.exec('PRAGMA cache_size')[0].values[0][0] as number;
          db.run(`PRAGMA cache_size = ${BULK_CACHE_KIB}`);
          firstNew = (db.exec('SELECT coalesce(max(id), 0) FROM entries')[0].values[0][0] as number) + 1;
          // The whole load is one transaction: a commit per piece wrote every page the piece touched into sql.js's
          // in-memory file again (the key hash index, the table's last pages), ~1.5 s of
          // a 100,000-entry load. Nothing is lost by it: the store reaches the disk only through save(), which
          // waits for finish(). Statements run meanwhile by others join it and are committed with it.
          if (this.outerHolders++ === 0) db.run('BEGIN');
          holdsOuter = true;
          // Building an index once over sorted rows beats updating B-trees row by row. The key hash index stays:
          // it finds the rows a piece replaces.
          for (const name of SECONDARY_INDEXES) db.run(`DROP INDEX IF EXISTS ${name}`);
        }
        // Inside the outer transaction a piece is written as is (a savepoint per piece copied the pages it touched
        // into a sub-journal); a piece that failed half-way leaves verified rows, which the merge index holds anyway.
        const piece = () => {
          const rows = this.writeRows(entries, source, fresh, firstNew !== undefined);
          // Indexed piece by piece, not all at the end: the end of a load comes after the last verify, when the
          // verify threads are done and one core would be idle; a piece is indexed while the next is verified.
          if (firstNew !== undefined) this.indexRows(rows.from, rows.to);
        };
        if (holdsOuter) piece();
        else this.transaction(piece);
        this.dirty = true;
      },
      indexNow: () => {
        if (done || firstNew === undefined || indexed) return;
        tail.early = true;
        buildIndexes();
      },
      finish: () => {
        if (done) return;
        done = true;
        try {
          // Within the outer transaction (holdsOuter whenever firstNew is set).
          if (firstNew !== undefined) {
            buildIndexes();
            const t = performance.now();
            // One segment instead of one per piece: a common word's hit list is then read in one piece (2-3x faster).
            db.run("INSERT INTO entries_fts(entries_fts) VALUES('optimize')");
            tail.optimize = performance.now() - t;
          }
        } finally {
          const t = performance.now();
          if (holdsOuter && --this.outerHolders === 0) db.run('COMMIT');
          tail.commit = performance.now() - t;
          if (firstNew !== undefined) this.lastBulkLoad = tail;
          if (cacheSize !== undefined) db.run(`PRAGMA cache_size = ${cacheSize}`);
          this.bulkOpen.delete(open);
          release();
        }
      },
    };
  }

  /** What the end of the last bulk load cost (bench:catalog prints it). */
  lastBulkLoad: BulkLoadTimes | undefined;

  /** Bulk loads not finished yet (save() waits for them). */
  private readonly bulkOpen = new Set<Promise<void>>();

  /** Bulk loads inside the one open outer transaction (see bulkLoad); the last to finish commits it. */
  private outerHolders = 0;

  /** Runs `fn` atomically: a transaction, or a savepoint inside a bulk load's outer transaction. */
  private transaction(fn: () => void): void {
    const nested = this.outerHolders > 0;
    this.db.run(nested ? 'SAVEPOINT piece' : 'BEGIN');
    try {
      fn();
      this.db.run(nested ? 'RELEASE piece' : 'COMMIT');
    } catch (err) {
      this.db.run(nested ? 'ROLLBACK TO piece; RELEASE piece' : 'ROLLBACK');
      throw err;
    }
  }

  /**
   * The row loop; returns the ids of the rows it inserted, [from, to). `bulk`: inside a bulk load, whose new rows get
   * their full text and tags from indexRows, piece by piece; otherwise every row's are written here.
   */
  private writeRows(
    list: (CatalogEntry | StoredEntry)[],
    source: string,
    fresh: Set<string> | undefined,
    bulk: boolean,
  ): { from: number; to: number } {
    const db = this.db;
    const find = db.prepare('SELECT id FROM entries WHERE khash = ? AND publisher = ? AND name = ?');
    const update = db.prepare(
      `UPDATE entries SET search_name=?, seq=?, deleted=?, v1=?, v2=?, size=?, files=?, license=?, tags=?, description=?, format=?,
        architecture=?, parameters=?, quantization=?, created=?, trackers=?, webseeds=?, trusted=?, record=? WHERE id=?`,
    );
    const delTags = db.prepare('DELETE FROM entry_tags WHERE id = ?');
    // With external content FTS4 must be told the old text before the row changes.
    const delFts = db.prepare('DELETE FROM entries_fts WHERE docid = ?');
    const addFts = db.prepare('INSERT INTO entries_fts (docid, search_name, tags, description) VALUES (?, ?, ?, ?)');
    // One prepared statement, parameters bound per row: measured 4x faster in sql.js than batching rows as JSON
    // through json_each (every ->> re-reads the row's JSON text).
    const insertRow = db.prepare(`INSERT INTO entries (${INSERT_COLUMNS}) VALUES (${INSERT_PARAMS})`);
    const insertTag = db.prepare('INSERT OR IGNORE INTO entry_tags (tag, id) VALUES (?, ?)');
    let nextId = (db.exec('SELECT coalesce(max(id), 0) FROM entries')[0].values[0][0] as number) + 1;
    const firstId = nextId;
    try {
      for (const e of list) {
        const stored = e as Partial<StoredEntry>;
        const trusted = stored.trusted ?? true;
        const key = `${e.publisher}/${e.name}`;
        const khash = keyHash(key);
        const tags = e.tags.join(' ');
        const record = e.record ?? null;
        let existing: number | undefined;
        // Keys the merge just added cannot be in the store yet: no lookup.
        if (!fresh?.has(key)) {
          find.bind([khash, e.publisher, e.name]);
          existing = find.step() ? (find.get()[0] as number) : undefined;
          find.reset();
        }
        let id: number;
        const searchName = e.deleted ? '' : e.name;
        const deleted = e.deleted ? 1 : 0;
        const v1 = e.v1 ?? null;
        const v2 = e.v2 ?? null;
        const trackers = JSON.stringify(e.trackers);
        const webSeeds = JSON.stringify(e.webSeeds);
        if (existing === undefined) {
          id = nextId++;
          const fp = trusted ? this.fingerprintOf(e.publisher) : e.publisher;
          insertRow.run([
            id,
            khash,
            e.publisher,
            fp,
            e.name,
            searchName,
            e.seq,
            deleted,
            v1,
            v2,
            e.size,
            e.files,
            e.license,
            tags,
            e.description,
            e.format,
            e.architecture,
            e.parameters,
            e.quantization,
            e.created,
            trackers,
            webSeeds,
            trusted ? 1 : 0,
            stored.source ?? source,
            record,
          ]);
        } else {
          id = existing;
          delFts.run([id]);
          update.run([
            searchName,
            e.seq,
            deleted,
            v1,
            v2,
            e.size,
            e.files,
            e.license,
            tags,
            e.description,
            e.format,
            e.architecture,
            e.parameters,
            e.quantization,
            e.created,
            trackers,
            webSeeds,
            trusted ? 1 : 0,
            record,
            id,
          ]);
          delTags.run([id]);
        }
        // A bulk load's new rows get their full text and tags in two statements per piece (indexRows), without a
        // trip into sql.js per row; every other row here. Every row is in the full-text index (tombstones too, so a
        // rebuild and row updates agree); search skips them.
        if (bulk && existing === undefined) continue;
        addFts.run([id, searchName, tags, e.description]);
        if (!e.deleted) for (const t of e.tags) insertTag.run([t, id]);
      }
    } finally {
      for (const st of [find, update, delTags, delFts, addFts, insertRow, insertTag]) st.free();
    }
    return { from: firstId, to: nextId };
  }

  /** The full text and tags of the rows with ids in [from, to), written by writeRows in a bulk load. */
  private indexRows(from: number, to: number): void {
    if (from >= to) return;
    // The tags column is the tags joined by spaces (a tag holds none: entry.ts); split in SQL, sorted so the
    // (tag, id) B-tree is filled in order.
    this.db.run(
      `WITH RECURSIVE split(id, tag, rest) AS (
         SELECT id, '', tags || ' ' FROM entries WHERE id >= ? AND id < ? AND deleted = 0 AND tags != ''
         UNION ALL
         SELECT id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1) FROM split
         WHERE rest != ''
       )
       INSERT OR IGNORE INTO entry_tags (tag, id) SELECT tag, id FROM split WHERE tag != '' ORDER BY tag, id`,
      [from, to],
    );
    this.db.run(
      'INSERT INTO entries_fts (docid, search_name, tags, description) ' +
        'SELECT id, search_name, tags, description FROM entries WHERE id >= ? AND id < ?',
      [from, to],
    );
  }

  // A publisher signs many entries: hash its key once.
  private readonly fingerprints = new Map<string, string>();
  private fingerprintOf(publisher: string): string {
    let fp = this.fingerprints.get(publisher);
    if (fp === undefined) {
      fp = fingerprint(publisher);
      if (this.fingerprints.size >= 100_000) this.fingerprints.clear();
      this.fingerprints.set(publisher, fp);
    }
    return fp;
  }

  /** Every signed entry (tombstones included), for rebuilding the merge index and writing catalog files. */
  signedEntries(): CatalogEntry[] {
    const out: CatalogEntry[] = [];
    const stmt = this.db.prepare(`SELECT ${COLUMNS}, record FROM entries WHERE trusted = 1 AND record IS NOT NULL`);
    try {
      while (stmt.step()) {
        const row = stmt.getAsObject() as Record<string, any>;
        out.push({ ...rowToFields(row), record: row.record as Uint8Array });
      }
    } finally {
      stmt.free();
    }
    return out;
  }

  count(opts: { includeDeleted?: boolean } = {}): number {
    const where = opts.includeDeleted ? '' : ' WHERE deleted = 0';
    return this.db.exec(`SELECT count(*) FROM entries${where}`)[0].values[0][0] as number;
  }

  /** Search with filters and sort; tombstones never show. Returns the page and the total number of matches. */
  search(q: SearchQuery = {}): SearchResult {
    const where: string[] = ['e.deleted = 0'];
    const params: (string | number)[] = [];
    const match = ftsQuery(q.text);
    // Few text matches: start from the full-text hits and sort them. Many: walk the sort order's index and keep
    // the rows that match (a page is found after a few hundred rows), never sorting thousands of rows.
    let from = 'entries e';
    let hits: number | undefined;
    if (match) {
      hits = this.collectHits(match);
      if (hits === 0) return { entries: [], total: 0, totalExact: true };
      if (hits <= FEW_HITS) from = 'temp.search_hits h CROSS JOIN entries e ON e.id = h.docid';
      else where.push('e.id IN (SELECT docid FROM temp.search_hits)');
    }
    const unfiltered = where.length;
    if (q.license) {
      where.push('e.license = ? COLLATE NOCASE');
      params.push(q.license);
    }
    if (q.publisher) {
      const p = q.publisher.toLowerCase();
      if (/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/.test(p)) {
        where.push('e.fingerprint = ?');
        params.push(p);
      } else if (/^[0-9a-f]{64}$/.test(p)) {
        where.push('e.publisher = ?');
        params.push(p);
      } else {
        where.push("(e.publisher LIKE ? ESCAPE '\\' OR e.fingerprint LIKE ? ESCAPE '\\')");
        const like = p.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
        params.push(like, like);
      }
    }
    if (q.format) {
      where.push('e.format = ?');
      params.push(q.format.toLowerCase());
    }
    for (const tag of q.tags ?? []) {
      where.push('e.id IN (SELECT id FROM entry_tags WHERE tag = ?)');
      params.push(tag.toLowerCase());
    }
    if (q.minSize !== undefined) {
      where.push('e.size >= ?');
      params.push(q.minSize);
    }
    if (q.maxSize !== undefined) {
      where.push('e.size <= ?');
      params.push(q.maxSize);
    }
    const trust = q.trust instanceof TrustList ? q.trust : new TrustList(q.trust ?? []);
    if (q.signedOnly) where.push('e.trusted = 1');
    if (q.trustedOnly) {
      // The store's `trusted` column means signed; trusted is one of the user's keys on top of that.
      const keys = [...trust.keys];
      const fps = [...trust.fingerprints];
      const any = [
        ...(keys.length ? [`e.publisher IN (${keys.map(() => '?').join(', ')})`] : []),
        ...(fps.length ? [`e.fingerprint IN (${fps.map(() => '?').join(', ')})`] : []),
      ];
      where.push(any.length ? `e.trusted = 1 AND (${any.join(' OR ')})` : '0');
      params.push(...keys, ...fps);
    }
    const dir = q.descending ? 'DESC' : 'ASC';
    // The row id breaks ties: the (deleted, column) indexes end with it, so they give this order as is.
    const order = {
      name: `e.name COLLATE NOCASE ${dir}, e.id ${dir}`,
      size: `e.size ${dir}, e.id ${dir}`,
      date: `e.created ${dir}, e.id ${dir}`,
      seeders: `e.seeders ${dir}, e.id ${dir}`,
    }[q.sort ?? 'name'];
    const limit = Math.max(0, Math.min(q.limit ?? 100, 10_000));
    const offset = Math.max(0, q.offset ?? 0);
    const clause = where.join(' AND ');
    const filtered = where.length > unfiltered;
    const few = hits !== undefined && hits <= FEW_HITS;
    const cols = COLUMNS.split(', ')
      .map((c) => `e.${c}`)
      .join(', ');
    // Few hits: one statement gives the page and the count (window over at most FEW_HITS rows). Text alone: the
    // full-text count is the total (tombstones are not in the index). Otherwise a count that stops at COUNT_CAP.
    const windowed = few && filtered;
    // Otherwise, unless the full-text count is the total, the page query also counts: it walks on past the page up
    // to the cap (stepping rows without reading them), instead of a second query that would run the match again.
    const walkCount = !(hits !== undefined && !filtered) && !windowed;
    let cap = walkCount ? Math.max(WALK_COUNT_CAP, offset + limit) : COUNT_CAP;
    const stmt = this.db.prepare(
      `SELECT ${cols}${windowed ? ', count(*) OVER () AS total_rows' : ''} FROM ${from} WHERE ${clause} ` +
        `ORDER BY ${order} ` +
        (walkCount ? `LIMIT ${cap + 1}` : `LIMIT ${limit} OFFSET ${offset}`),
    );
    const entries: ListedEntry[] = [];
    let windowTotal: number | undefined;
    let stepped = 0;
    try {
      stmt.bind(params);
      while (stmt.step()) {
        const at = stepped++;
        if (walkCount && (at < offset || at >= offset + limit)) continue;
        const row = stmt.getAsObject() as Record<string, any>;
        windowTotal = row.total_rows;
        entries.push(toListed(row, trust));
      }
    } finally {
      stmt.free();
    }
    this.markConflicts(entries);
    this.fillCounts(entries);
    let counted: number;
    if (!walkCount && hits !== undefined && !filtered) counted = hits;
    else if (walkCount) counted = stepped;
    else if (windowTotal !== undefined || offset === 0) counted = windowTotal ?? 0;
    else {
      // A page past the end of a few-hits search: count what is there.
      cap = Math.max(WALK_COUNT_CAP, offset + limit);
      counted = this.scalar(`SELECT count(*) FROM (SELECT 1 FROM ${from} WHERE ${clause} LIMIT ${cap + 1})`, params);
    }
    const total = Math.min(counted, cap);
    return { entries, total, totalExact: counted <= cap };
  }

  /**
   * Fills `conflicts`: the other publishers whose live entry has the same name (ignoring case) but another torrent.
   * The same torrent under the same name (a registry listing of a signed share) is the same download, not a clash.
   */
  private markConflicts(entries: ListedEntry[]): void {
    type Claim = { publisher: string; label: string; v1?: string; v2?: string };
    const claims = new Map<string, Claim[]>();
    const names = [...new Set(entries.map((e) => e.name.toLowerCase()))];
    // One statement per 500 names (an index lookup each, through entries_name), not one per row of the page.
    for (let i = 0; i < names.length; i += 500) {
      const chunk = names.slice(i, i + 500);
      const stmt = this.db.prepare(
        `SELECT name, publisher, fingerprint, trusted, v1, v2 FROM entries WHERE deleted = 0 AND name COLLATE NOCASE IN (${chunk
          .map(() => '?')
          .join(', ')})`,
      );
      try {
        stmt.bind(chunk);
        while (stmt.step()) {
          const [name, publisher, fp, signed, v1, v2] = stmt.get() as [string, string, string, number, string, string];
          const key = name.toLowerCase();
          const list = claims.get(key) ?? [];
          const label = signed === 1 ? fp : publisher;
          if (list.length < 50) list.push({ publisher, label, v1: v1 ?? undefined, v2: v2 ?? undefined });
          claims.set(key, list);
        }
      } finally {
        stmt.free();
      }
    }
    for (const e of entries) {
      const list = claims.get(e.name.toLowerCase()) ?? [];
      // Both hashes must match: a real v2 beside a fake v1 would still download the fake through v1.
      const same = (c: Claim) => (c.v1 ?? '') === (e.v1 ?? '') && (c.v2 ?? '') === (e.v2 ?? '');
      e.conflicts =
        list.length > 1 ? list.filter((c) => c.publisher !== e.publisher && !same(c)).map((c) => c.label) : [];
    }
  }

  private tempReady = false;

  /**
   * Runs the full-text match once, into a temporary table of row ids, and returns the number of hits. The page
   * query then reads that table by row id: building SQLite's IN list from the match itself cost twice as much, and
   * counting the hits was a second run of the match.
   */
  private collectHits(match: string): number {
    if (!this.tempReady) {
      // Per connection, in memory, never part of the saved file (sql.js exports through the backup API).
      this.db.run(
        'PRAGMA temp_store = MEMORY; CREATE TEMP TABLE IF NOT EXISTS search_hits (docid INTEGER PRIMARY KEY)',
      );
      this.tempReady = true;
    }
    this.db.run('DELETE FROM temp.search_hits');
    this.db.run('INSERT INTO temp.search_hits SELECT docid FROM entries_fts WHERE entries_fts MATCH ?', [match]);
    return this.db.getRowsModified();
  }

  /** Seeder counts learnt from trackers or the DHT, by v1 or v2 infohash. */
  setSeeders(infohash: string, seeders: number): void {
    this.db.run('UPDATE entries SET seeders = ? WHERE v1 = ? OR v2 = ?', [seeders, infohash, infohash]);
    this.dirty = true;
  }

  /** Records a swarm count for these bytes (src/catalog/swarm-counts.ts); the entries' `seeders` (sorting) follow. */
  setCounts(infohash: string, c: SwarmCount): void {
    const ih = infohash.toLowerCase();
    this.db.run(
      'INSERT OR REPLACE INTO swarm_counts (infohash, seeders, leechers, counted_at, counted_by) VALUES (?, ?, ?, ?, ?)',
      [ih, c.seeders, c.leechers, c.countedAt, c.countedBy],
    );
    this.db.run('UPDATE entries SET seeders = ? WHERE v1 = ? OR v2 = ?', [c.seeders, ih, ih]);
    this.dirty = true;
  }

  /** The last count for these bytes, if any. */
  counts(infohash: string): SwarmCount | undefined {
    const stmt = this.db.prepare(
      'SELECT seeders, leechers, counted_at, counted_by FROM swarm_counts WHERE infohash = ?',
    );
    try {
      stmt.bind([infohash.toLowerCase()]);
      if (!stmt.step()) return undefined;
      const [seeders, leechers, countedAt, countedBy] = stmt.get() as [number, number, number, string];
      return { seeders, leechers, countedAt, countedBy };
    } finally {
      stmt.free();
    }
  }

  /** Fills a page's `seeders`, `leechers`, `countedAt` from the swarm counts (by v1, else v2). */
  private fillCounts(entries: ListedEntry[]): void {
    for (const e of entries) {
      const c = (e.v1 && this.counts(e.v1)) || (e.v2 && this.counts(e.v2)) || undefined;
      if (!c) continue;
      e.seeders = c.seeders;
      e.leechers = c.leechers;
      e.countedAt = c.countedAt;
      e.countedBy = c.countedBy;
    }
  }

  private scalar(sql: string, params: (string | number)[]): number {
    const stmt = this.db.prepare(sql);
    try {
      stmt.bind(params);
      stmt.step();
      return stmt.get()[0] as number;
    } finally {
      stmt.free();
    }
  }

  getSource(id: string): SourceState | undefined {
    const stmt = this.db.prepare('SELECT * FROM sources WHERE id = ?');
    try {
      stmt.bind([id]);
      return stmt.step() ? rowToSource(stmt.getAsObject()) : undefined;
    } finally {
      stmt.free();
    }
  }

  sources(): SourceState[] {
    const res = this.db.exec('SELECT * FROM sources ORDER BY id');
    if (!res.length) return [];
    const { columns, values } = res[0];
    return values.map((v) => rowToSource(Object.fromEntries(columns.map((c, i) => [c, v[i]]))));
  }

  /** Records one attempt to read a source: success updates last_update, failure counts an error; nothing else. */
  recordSource(update: {
    id: string;
    kind: string;
    ok: boolean;
    entries?: number;
    error?: string;
    pointerSeq?: number;
    infohash?: string;
    dropped?: number;
  }): void {
    const now = Math.floor(Date.now() / 1000);
    const prev = this.getSource(update.id);
    const s: SourceState = prev ?? { id: update.id, kind: update.kind, entries: 0, errors: 0, dropped: 0 };
    s.lastAttempt = now;
    if (update.ok) {
      s.lastUpdate = now;
      if (update.entries !== undefined) s.entries = update.entries;
      if (update.pointerSeq !== undefined) s.pointerSeq = update.pointerSeq;
      if (update.infohash !== undefined) s.infohash = update.infohash;
    } else {
      s.errors++;
      s.lastError = update.error ?? 'failed';
    }
    s.dropped += update.dropped ?? 0;
    this.db.run(
      `INSERT OR REPLACE INTO sources (id, kind, last_update, last_attempt, entries, errors, last_error, pointer_seq,
        infohash, dropped) VALUES (?,?,?,?,?,?,?,?,?,?)`,
      [
        s.id,
        s.kind,
        s.lastUpdate ?? null,
        s.lastAttempt ?? null,
        s.entries,
        s.errors,
        s.lastError ?? null,
        s.pointerSeq ?? null,
        s.infohash ?? null,
        s.dropped,
      ],
    );
    this.dirty = true;
  }

  /** The record count of a catalog chunk merged before (see seen_chunks), or undefined. */
  chunkSeen(id: string): number | undefined {
    const res = this.db.exec('SELECT records FROM seen_chunks WHERE id = ?', [id]);
    return res.length ? (res[0].values[0][0] as number) : undefined;
  }

  /** Remembers catalog chunks whose records are now in this store (saved with them, atomically). */
  markChunksSeen(chunks: { id: string; records: number }[]): void {
    if (!chunks.length) return;
    const stmt = this.db.prepare('INSERT OR REPLACE INTO seen_chunks (id, records) VALUES (?, ?)');
    try {
      for (const c of chunks) stmt.run([c.id, c.records]);
    } finally {
      stmt.free();
    }
    this.dirty = true;
  }

  getMeta(k: string): string | undefined {
    const res = this.db.exec('SELECT v FROM meta WHERE k = ?', [k]);
    return res.length ? (res[0].values[0][0] as string) : undefined;
  }

  setMeta(k: string, v: string): void {
    this.db.run('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)', [k, v]);
    this.dirty = true;
  }

  /** Writes the whole database to `path` atomically: a crash leaves the old file or the new one, never half of one. */
  async save(): Promise<void> {
    if (!this.path) return;
    while (this.bulkOpen.size) await Promise.all([...this.bulkOpen]);
    await writeFileAtomic(this.path, this.db.export());
    this.diskStamp = await stampOf(this.path);
    this.dirty = false;
  }
}

/** A 52-bit FNV-1a style hash of an entry key (exact in a double, so SQLite stores it as an integer). */
export function keyHash(key: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

async function stampOf(path: string | undefined): Promise<string> {
  if (!path) return '';
  try {
    const s = await stat(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return '';
  }
}

/** User words to an FTS4 query: all required. Punctuation never reaches MATCH syntax. */
export function ftsQuery(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 16);
  // Whole words, the last one as a prefix (search as you type): frequent prefixes cost the most to expand.
  return words.length ? words.map((w, i) => (i === words.length - 1 ? `${w}*` : w)).join(' ') : undefined;
}

function rowToFields(row: Record<string, any>): EntryFields {
  return {
    publisher: row.publisher,
    name: row.name,
    seq: row.seq,
    deleted: row.deleted ? true : undefined,
    v1: row.v1 ?? undefined,
    v2: row.v2 ?? undefined,
    size: row.size,
    files: row.files,
    license: row.license,
    tags: row.tags ? String(row.tags).split(' ') : [],
    description: row.description,
    format: row.format,
    architecture: row.architecture,
    parameters: row.parameters,
    quantization: row.quantization,
    created: row.created,
    trackers: JSON.parse(row.trackers),
    webSeeds: JSON.parse(row.webseeds),
  };
}

function toListed(row: Record<string, any>, trust: TrustList): ListedEntry {
  const f = rowToFields(row);
  let magnet = '';
  try {
    magnet = buildMagnet({
      infoHashV1: f.v1,
      infoHashV2: f.v2,
      name: f.name,
      trackers: f.trackers,
      webSeeds: f.webSeeds,
    });
  } catch {}
  return {
    name: f.name,
    publisher: f.publisher,
    fingerprint: row.fingerprint,
    license: plainText(f.license),
    tags: f.tags,
    size: f.size,
    files: f.files,
    v1: f.v1,
    v2: f.v2,
    magnet,
    trusted: row.trusted === 1 && trust.size > 0 && trust.has(f.publisher, row.fingerprint),
    signed: row.trusted === 1,
    conflicts: [],
    format: f.format,
    architecture: plainText(f.architecture),
    parameters: f.parameters,
    quantization: plainText(f.quantization),
    // Publisher text, shown by every face: plain, with control and direction characters removed (text.ts).
    description: plainText(f.description),
    created: f.created,
    seq: f.seq,
    seeders: row.seeders,
    leechers: 0,
    countedAt: null,
    source: row.source,
    trackers: f.trackers,
    webSeeds: f.webSeeds,
  };
}

function rowToSource(row: Record<string, any>): SourceState {
  return {
    id: row.id,
    kind: row.kind,
    lastUpdate: row.last_update ?? undefined,
    lastAttempt: row.last_attempt ?? undefined,
    entries: row.entries,
    errors: row.errors,
    lastError: row.last_error ?? undefined,
    pointerSeq: row.pointer_seq ?? undefined,
    infohash: row.infohash ?? undefined,
    dropped: row.dropped,
  };
}
