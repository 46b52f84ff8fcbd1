// The merge rule (DESIGN.md): a union keyed by (publisher, name) where the higher sequence number wins.
// Forged, malformed and oversized records are dropped and counted; nothing known is ever removed by a merge, so a
// source that went quiet, shrank, or points at an empty catalog cannot make us forget anything.
import {
  checkSignature,
  decodeBody,
  entryKey,
  EntryError,
  splitRecord,
  type CatalogEntry,
  type DropReason,
} from './entry.js';

export interface MergeStats {
  /** Records looked at. */
  seen: number;
  added: number;
  /** A known (publisher, name) with a higher seq (tombstones included). */
  updated: number;
  /** The record we already hold. */
  unchanged: number;
  /** A valid-looking record older than (or tied and losing to) the one we hold: a replay, ignored. */
  stale: number;
  dropped: Record<DropReason, number>;
}

export function emptyStats(): MergeStats {
  return {
    seen: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    dropped: { malformed: 0, oversized: 0, signature: 0 },
  };
}

export interface MergeResult {
  stats: MergeStats;
  /** Entries that are new or replaced an older one: what a store must write. */
  changed: CatalogEntry[];
}

/** Does `a` beat `b` for the same key? Higher seq; on a tie the larger record bytes, so every node picks the same. */
export function wins(a: { seq: number; record: Uint8Array }, b: { seq: number; record: Uint8Array }): boolean {
  if (a.seq !== b.seq) return a.seq > b.seq;
  return Buffer.compare(Buffer.from(a.record), Buffer.from(b.record)) > 0;
}

/** The in-memory set of winning entries, one per (publisher, name). */
export class EntryIndex {
  readonly entries = new Map<string, CatalogEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(publisher: string, name: string): CatalogEntry | undefined {
    return this.entries.get(entryKey({ publisher, name }));
  }

  /** Adds already-verified entries (e.g. loaded from our own store). */
  load(entries: Iterable<CatalogEntry>): void {
    for (const e of entries) {
      const key = entryKey(e);
      const known = this.entries.get(key);
      if (!known || wins(e, known)) this.entries.set(key, e);
    }
  }

  /**
   * Merges signed records from any source. A signature is checked only when the record would win (a replay of an
   * older seq is ignored without the cost of a verify); every record that would change anything is verified.
   */
  merge(records: Iterable<Uint8Array>): MergeResult {
    const stats = emptyStats();
    const changed: CatalogEntry[] = [];
    for (const record of records) {
      stats.seen++;
      try {
        const { body, sig } = splitRecord(record);
        const f = decodeBody(body);
        const key = entryKey(f);
        const known = this.entries.get(key);
        if (known && Buffer.compare(Buffer.from(known.record), Buffer.from(record)) === 0) {
          stats.unchanged++;
          continue;
        }
        if (known && !wins({ seq: f.seq, record }, known)) {
          stats.stale++;
          continue;
        }
        checkSignature(f, body, sig);
        const entry: CatalogEntry = { ...f, record };
        this.entries.set(key, entry);
        changed.push(entry);
        if (known) stats.updated++;
        else stats.added++;
      } catch (err) {
        if (err instanceof EntryError) stats.dropped[err.reason]++;
        else stats.dropped.malformed++;
      }
    }
    return { stats, changed };
  }

  /** Every entry (tombstones included) sorted by key: the content of a catalog file. */
  sorted(): CatalogEntry[] {
    return [...this.entries.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, e]) => e);
  }
}

export function totalDropped(stats: MergeStats): number {
  return stats.dropped.malformed + stats.dropped.oversized + stats.dropped.signature;
}
