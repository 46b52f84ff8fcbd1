// The catalog store: every entry we know (sql.js), indexed for search (FTS4 over name, tags and description, plus
// indexes for the filters and sorts), and each source's state. Saved atomically: temporary file, fsync, rename.
import { open, rename, readFile, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Database } from 'sql.js';
import { buildMagnet } from '../torrent/magnet.js';
import type { CatalogEntry, EntryFields } from './entry.js';
import { fingerprint } from './identity.js';
import { loadSqlJs } from './sqlite.js';

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
  trusted: boolean;
  format: string;
  architecture: string;
  parameters: number;
  quantization: string;
  description: string;
  created: number;
  seq: number;
  seeders: number;
  source: string;
  trackers: string[];
  webSeeds: string[];
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
  /** Leave out unsigned entries (the Go network). */
  trustedOnly?: boolean;
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
  key TEXT NOT NULL UNIQUE,
  publisher TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  name TEXT NOT NULL,
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
CREATE INDEX IF NOT EXISTS entries_name ON entries(deleted, name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entries_size ON entries(deleted, size);
CREATE INDEX IF NOT EXISTS entries_created ON entries(deleted, created);
CREATE INDEX IF NOT EXISTS entries_seeders ON entries(deleted, seeders);
CREATE INDEX IF NOT EXISTS entries_license ON entries(license COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entries_publisher ON entries(publisher);
CREATE INDEX IF NOT EXISTS entries_fingerprint ON entries(fingerprint);
CREATE INDEX IF NOT EXISTS entries_format ON entries(format);
CREATE INDEX IF NOT EXISTS entries_v1 ON entries(v1);
CREATE INDEX IF NOT EXISTS entries_v2 ON entries(v2);
CREATE TABLE IF NOT EXISTS entry_tags (tag TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tag, id)) WITHOUT ROWID;
-- External content: the text lives once, in entries; unicode61 splits names on / . - _ by itself.
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts4(content="entries", name, tags, description, tokenize=unicode61);
CREATE TABLE IF NOT EXISTS sources (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, last_update INTEGER, last_attempt INTEGER,
  entries INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  pointer_seq INTEGER, infohash TEXT, dropped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
`;

const COLUMNS =
  'id, publisher, fingerprint, name, seq, deleted, v1, v2, size, files, license, tags, description, format, ' +
  'architecture, parameters, quantization, created, trackers, webseeds, trusted, source, seeders';

export class CatalogStore {
  private dirty = false;

  private constructor(
    private readonly db: Database,
    readonly path: string | undefined,
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
    const db = new SQL.Database(bytes);
    db.run(SCHEMA);
    return new CatalogStore(db, path);
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
  upsert(entries: Iterable<CatalogEntry | StoredEntry>, source: string): number {
    const db = this.db;
    let n = 0;
    const find = db.prepare('SELECT id, deleted FROM entries WHERE key = ?');
    const insert = db.prepare(
      `INSERT INTO entries (id, key, publisher, fingerprint, name, seq, deleted, v1, v2, size, files, license, tags,
        description, format, architecture, parameters, quantization, created, trackers, webseeds, trusted, source, record)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    const update = db.prepare(
      `UPDATE entries SET seq=?, deleted=?, v1=?, v2=?, size=?, files=?, license=?, tags=?, description=?, format=?,
        architecture=?, parameters=?, quantization=?, created=?, trackers=?, webseeds=?, trusted=?, record=? WHERE id=?`,
    );
    const delTags = db.prepare('DELETE FROM entry_tags WHERE id = ?');
    const addTag = db.prepare('INSERT OR IGNORE INTO entry_tags (tag, id) VALUES (?, ?)');
    // With external content FTS4 must be told the old text before the row changes.
    const delFts = db.prepare('DELETE FROM entries_fts WHERE docid = ?');
    let nextId = (db.exec('SELECT coalesce(max(id), 0) FROM entries')[0].values[0][0] as number) + 1;
    const addFts = db.prepare('INSERT INTO entries_fts (docid, name, tags, description) VALUES (?, ?, ?, ?)');
    db.run('BEGIN');
    try {
      for (const e of entries) {
        const stored = e as Partial<StoredEntry>;
        const trusted = stored.trusted ?? true;
        const key = `${e.publisher}/${e.name}`;
        const fields = [
          e.v1 ?? null,
          e.v2 ?? null,
          e.size,
          e.files,
          e.license,
          e.tags.join(' '),
          e.description,
          e.format,
          e.architecture,
          e.parameters,
          e.quantization,
          e.created,
          JSON.stringify(e.trackers),
          JSON.stringify(e.webSeeds),
          trusted ? 1 : 0,
        ];
        find.bind([key]);
        const row = find.step() ? find.get() : undefined;
        find.reset();
        const existing = row ? (row[0] as number) : undefined;
        let id: number;
        if (existing === undefined) {
          const fp = trusted ? fingerprint(e.publisher) : e.publisher;
          id = nextId++;
          insert.run([
            id,
            key,
            e.publisher,
            fp,
            e.name,
            e.seq,
            e.deleted ? 1 : 0,
            ...fields,
            stored.source ?? source,
            e.record ?? null,
          ]);
        } else {
          id = existing;
          if (row![1] === 0) delFts.run([id]); // tombstones were never indexed
          update.run([e.seq, e.deleted ? 1 : 0, ...fields, e.record ?? null, id]);
          delTags.run([id]);
        }
        if (!e.deleted) {
          for (const t of e.tags) addTag.run([t, id]);
          addFts.run([id, e.name, e.tags.join(' '), e.description]);
        }
        n++;
      }
      db.run('COMMIT');
    } catch (err) {
      db.run('ROLLBACK');
      throw err;
    } finally {
      for (const s of [find, insert, update, delTags, addTag, delFts, addFts]) s.free();
    }
    if (n) this.dirty = true;
    return n;
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
  search(q: SearchQuery = {}): { entries: ListedEntry[]; total: number } {
    const where: string[] = ['e.deleted = 0'];
    const params: (string | number)[] = [];
    const match = ftsQuery(q.text);
    if (match) {
      where.push('e.id IN (SELECT docid FROM entries_fts WHERE entries_fts MATCH ?)');
      params.push(match);
    }
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
    if (q.trustedOnly) where.push('e.trusted = 1');
    const dir = q.descending ? 'DESC' : 'ASC';
    const order = {
      name: `e.name COLLATE NOCASE ${dir}`,
      size: `e.size ${dir}`,
      date: `e.created ${dir}`,
      seeders: `e.seeders ${dir}`,
    }[q.sort ?? 'name'];
    const limit = Math.max(0, Math.min(q.limit ?? 100, 10_000));
    const offset = Math.max(0, q.offset ?? 0);
    const clause = where.join(' AND ');
    const total = this.scalar(`SELECT count(*) FROM entries e WHERE ${clause}`, params);
    const stmt = this.db.prepare(
      `SELECT ${COLUMNS} FROM entries e WHERE ${clause} ORDER BY ${order}, e.key LIMIT ${limit} OFFSET ${offset}`,
    );
    const entries: ListedEntry[] = [];
    try {
      stmt.bind(params);
      while (stmt.step()) entries.push(toListed(stmt.getAsObject() as Record<string, any>));
    } finally {
      stmt.free();
    }
    return { entries, total };
  }

  /** Seeder counts learnt from trackers or the DHT, by v1 or v2 infohash. */
  setSeeders(infohash: string, seeders: number): void {
    this.db.run('UPDATE entries SET seeders = ? WHERE v1 = ? OR v2 = ?', [seeders, infohash, infohash]);
    this.dirty = true;
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
    const bytes = this.db.export();
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await rename(tmp, this.path);
    this.dirty = false;
  }
}

/** User words to an FTS4 query: each word a prefix term, all required. Punctuation never reaches MATCH syntax. */
export function ftsQuery(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 16);
  return words.length ? words.map((w) => `${w}*`).join(' ') : undefined;
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

function toListed(row: Record<string, any>): ListedEntry {
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
    license: f.license,
    tags: f.tags,
    size: f.size,
    files: f.files,
    v1: f.v1,
    v2: f.v2,
    magnet,
    trusted: row.trusted === 1,
    format: f.format,
    architecture: f.architecture,
    parameters: f.parameters,
    quantization: f.quantization,
    description: f.description,
    created: f.created,
    seq: f.seq,
    seeders: row.seeders,
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
