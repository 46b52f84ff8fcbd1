// The registry's durable part: entries, the blocklist and completion counts in one sql.js database, saved
// to one file atomically. Only registry writes and periodic completion flushes come here; announces never do.
import { existsSync, readFileSync } from 'node:fs';
import type { Database, SqlValue } from 'sql.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { loadSqlJs } from '../shared/sqljs.js';

/** One registered torrent as stored. Hashes are lower-case hex. */
export interface RegistryRow {
  /** Primary key: the v2 infohash (64 hex) of v2 and hybrid torrents, the v1 infohash of v1-only ones. */
  infoHash: string;
  /** v1 infohash (40 hex) or ''. */
  v1InfoHash: string;
  /** v2 infohash (64 hex) or '' (v1-only torrents). */
  v2InfoHash: string;
  name: string;
  /** True when the posted torrent_data was parsed and its hashes matched the posted ones. */
  verified: boolean;
  completions: number;
  description: string;
  publisher: string;
  license: string;
  size: number;
  category: string;
  /** Comma-separated, trimmed, no empty tags. */
  tags: string;
  createdAt: number;
  updatedAt: number;
  /** JSON of the /api/registry/meta reply, computed once when the torrent was posted; '' without torrent_data. */
  meta: string;
}

export interface BlockRow {
  hash: string;
  infoHash: string;
  reason: string;
  createdAt: number;
}

export interface SearchFilter {
  q?: string;
  category?: string;
  publisher?: string;
  tags?: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry (
  info_hash TEXT PRIMARY KEY,
  v1_info_hash TEXT NOT NULL DEFAULT '',
  v2_info_hash TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL,
  verified INTEGER NOT NULL DEFAULT 0,
  completions INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL DEFAULT '',
  publisher TEXT NOT NULL DEFAULT '',
  license TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  category TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  torrent_data BLOB,
  meta TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_v1 ON registry (v1_info_hash);
CREATE TABLE IF NOT EXISTS blocklist (
  hash TEXT PRIMARY KEY,
  info_hash TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO settings (key, value) VALUES ('schema', '1');
`;

const COLUMNS = `info_hash, v1_info_hash, v2_info_hash, name, verified, completions, description, publisher, license,
  size, category, tags, meta, created_at, updated_at`;

function toRow(r: SqlValue[]): RegistryRow {
  return {
    infoHash: String(r[0]),
    v1InfoHash: String(r[1]),
    v2InfoHash: String(r[2]),
    name: String(r[3]),
    verified: r[4] === 1,
    completions: Number(r[5]),
    description: String(r[6]),
    publisher: String(r[7]),
    license: String(r[8]),
    size: Number(r[9]),
    category: String(r[10]),
    tags: String(r[11]),
    meta: String(r[12]),
    createdAt: Number(r[13]),
    updatedAt: Number(r[14]),
  };
}

/** Escapes LIKE wildcards in user text (used with ESCAPE '\'). */
function likeText(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

export class RegistryStore {
  private saving: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;

  private constructor(
    private db: Database,
    /** undefined: memory only (tests, throwaway trackers). */
    readonly path: string | undefined,
  ) {}

  static async open(path?: string): Promise<RegistryStore> {
    const SQL = await loadSqlJs();
    const db = path && existsSync(path) ? new SQL.Database(readFileSync(path)) : new SQL.Database();
    db.exec(SCHEMA);
    return new RegistryStore(db, path);
  }

  private rows(sql: string, params: SqlValue[] = []): SqlValue[][] {
    const stmt = this.db.prepare(sql);
    try {
      stmt.bind(params);
      const out: SqlValue[][] = [];
      while (stmt.step()) out.push(stmt.get());
      return out;
    } finally {
      stmt.free();
    }
  }

  all(): RegistryRow[] {
    return this.rows(`SELECT ${COLUMNS} FROM registry`).map(toRow);
  }

  get(infoHash: string): RegistryRow | undefined {
    const r = this.rows(`SELECT ${COLUMNS} FROM registry WHERE info_hash = ?`, [infoHash])[0];
    return r ? toRow(r) : undefined;
  }

  torrentData(infoHash: string): Uint8Array | undefined {
    const r = this.rows('SELECT torrent_data FROM registry WHERE info_hash = ?', [infoHash])[0];
    const data = r?.[0];
    return data instanceof Uint8Array && data.length > 0 ? data : undefined;
  }

  /** Matching entries (no torrent data), in no particular order: the caller sorts by live figures. */
  search(filter: SearchFilter): RegistryRow[] {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.q) {
      where.push(
        "(name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\' OR tags LIKE ?1 ESCAPE '\\' OR publisher LIKE ?1 ESCAPE '\\')".replaceAll(
          '?1',
          `?${params.length + 1}`,
        ),
      );
      params.push(`%${likeText(filter.q)}%`);
    }
    if (filter.category) {
      where.push(`category = ?${params.length + 1}`);
      params.push(filter.category);
    }
    if (filter.publisher) {
      where.push(`publisher = ?${params.length + 1}`);
      params.push(filter.publisher);
    }
    for (const tag of filter.tags ?? []) {
      where.push(`(',' || tags || ',') LIKE ?${params.length + 1} ESCAPE '\\'`);
      params.push(`%,${likeText(tag)},%`);
    }
    const sql = `SELECT ${COLUMNS} FROM registry${where.length ? ' WHERE ' + where.join(' AND ') : ''}`;
    return this.rows(sql, params).map(toRow);
  }

  /** Insert or replace; `created_at`, `completions` survive an update. */
  upsert(row: RegistryRow, torrentData: Uint8Array | undefined): void {
    this.db.run(
      `INSERT INTO registry (info_hash, v1_info_hash, v2_info_hash, name, verified, completions, description, publisher,
         license, size, category, tags, torrent_data, meta, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(info_hash) DO UPDATE SET v1_info_hash = excluded.v1_info_hash, v2_info_hash = excluded.v2_info_hash,
         name = excluded.name, verified = excluded.verified, description = excluded.description,
         publisher = excluded.publisher, license = excluded.license, size = excluded.size,
         category = excluded.category, tags = excluded.tags, torrent_data = excluded.torrent_data,
         meta = excluded.meta, updated_at = excluded.updated_at`,
      [
        row.infoHash,
        row.v1InfoHash,
        row.v2InfoHash,
        row.name,
        row.verified ? 1 : 0,
        row.completions,
        row.description,
        row.publisher,
        row.license,
        row.size,
        row.category,
        row.tags,
        torrentData ?? null,
        row.meta,
        row.createdAt,
        row.updatedAt,
      ],
    );
  }

  delete(infoHash: string): void {
    this.db.run('DELETE FROM registry WHERE info_hash = ?', [infoHash]);
  }

  block(hash: string, infoHash: string, reason: string, now: number): void {
    this.db.run('INSERT OR IGNORE INTO blocklist (hash, info_hash, reason, created_at) VALUES (?, ?, ?, ?)', [
      hash,
      infoHash,
      reason,
      now,
    ]);
  }

  unblock(hash: string): void {
    this.db.run('DELETE FROM blocklist WHERE hash = ?', [hash]);
  }

  blocked(): BlockRow[] {
    return this.rows('SELECT hash, info_hash, reason, created_at FROM blocklist').map((r) => ({
      hash: String(r[0]),
      infoHash: String(r[1]),
      reason: String(r[2]),
      createdAt: Number(r[3]),
    }));
  }

  setCompletions(counts: Iterable<[string, number]>): void {
    this.db.exec('BEGIN');
    try {
      for (const [infoHash, n] of counts)
        this.db.run('UPDATE registry SET completions = ? WHERE info_hash = ?', [n, infoHash]);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** A trivial query: the health check. */
  ping(): boolean {
    try {
      this.db.exec('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes the database file atomically. Calls made while a write is queued share it; a call made while a
   * write is in progress gets the next one, so a resolved promise always covers the caller's changes.
   */
  save(): Promise<void> {
    if (!this.path) return Promise.resolve();
    if (!this.pending) {
      const path = this.path;
      const next = this.saving.then(() => {
        this.pending = undefined;
        // export() snapshots everything committed so far (it also frees prepared statements: none are kept).
        return writeFileAtomic(path, this.db.export());
      });
      this.pending = next;
      this.saving = next.catch(() => {});
    }
    return this.pending;
  }

  close(): void {
    this.db.close();
  }
}
