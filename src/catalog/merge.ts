// The merge rule (docs/protocols.md): a union keyed by (publisher, name) where the higher sequence number wins.
// Forged, malformed and oversized records are dropped and counted; nothing known is ever removed by a merge, so a
// source that went quiet, shrank, or points at an empty catalog cannot make us forget anything.
import {
  decodeBody,
  entryKey,
  EntryError,
  splitRecord,
  type CatalogEntry,
  type DropReason,
  type EntryFields,
} from './entry.js';
import { verifySignature } from './ed25519.js';
import type { VerifyJob } from './verify-pool.js';
import { recordDigest, type VerifiedCache } from './verified-cache.js';

export interface MergeStats {
  /** Records looked at. */
  seen: number;
  added: number;
  /** A known (publisher, name) with a higher seq (tombstones included). */
  updated: number;
  /** The record we already hold. */
  unchanged: number;
  /** Records whose signature was not checked again: these exact bytes were verified before (verified-cache.ts). */
  cached: number;
  /** A valid-looking record older than (or tied and losing to) the one we hold: a replay, ignored. */
  stale: number;
  /** Valid-looking records from another publisher than the feed they came in (a feed carries its owner's only). */
  foreign: number;
  dropped: Record<DropReason, number>;
}

export interface MergeOptions {
  /** Only this publisher's records are taken (hex key): the owner of the feed being read. */
  publisher?: string;
  /** Records verified before (skipped) and where the ones verified now are remembered. */
  verified?: VerifiedCache;
}

export function emptyStats(): MergeStats {
  return {
    seen: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    cached: 0,
    stale: 0,
    foreign: 0,
    dropped: { malformed: 0, oversized: 0, signature: 0 },
  };
}

export interface MergeResult {
  stats: MergeStats;
  /** Entries that are new or replaced an older one (the final state per key): what a store must write. */
  changed: CatalogEntry[];
  /** Keys of `changed` that the index did not hold before this merge. */
  added: Set<string>;
  /** mergeAsync: when the last verdict came back (performance.now()); what follows is this thread's alone. */
  verifiedAt?: number;
}

/** Does `a` beat `b` for the same key? Higher seq; on a tie the larger record bytes, so every node picks the same. */
export function wins(a: { seq: number; record: Uint8Array }, b: { seq: number; record: Uint8Array }): boolean {
  if (a.seq !== b.seq) return a.seq > b.seq;
  return Buffer.compare(a.record, b.record) > 0;
}

/**
 * A record that would change the index, waiting for its verdict. Its body and signature are found again in the
 * record when it goes to a verifier (splitRecord): a whole catalog's candidates are held at once, and two views per
 * record were ~20 MB more for the young-generation garbage collector to copy, twice each.
 */
interface Candidate {
  key: string;
  f: EntryFields;
  record: Uint8Array;
}

/**
 * 48 bits of a record's signature (its last 65 bytes are `<64-byte signature>e`), as a number: a Map of numbers is
 * several times faster than one of 64-character strings. Only a hint: a match is confirmed byte for byte.
 */
function sigTag(record: Uint8Array): number {
  const i = record.length - 65;
  if (i < 0) return -1;
  return (
    (record[i] | (record[i + 1] << 8) | (record[i + 2] << 16)) +
    (record[i + 3] | (record[i + 4] << 8) | (record[i + 5] << 16)) * 0x1000000
  );
}

/** The in-memory set of winning entries, one per (publisher, name). */
export class EntryIndex {
  readonly entries = new Map<string, CatalogEntry>();
  /** Signature tag -> the entry holding it: a record we already hold is recognised without parsing it. */
  private readonly bySig = new Map<number, CatalogEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(publisher: string, name: string): CatalogEntry | undefined {
    return this.entries.get(entryKey({ publisher, name }));
  }

  private put(key: string, e: CatalogEntry): void {
    const old = this.entries.get(key);
    // Two signatures may share a tag (48 bits): only the entry a tag points at is unlinked.
    if (old && this.bySig.get(sigTag(old.record)) === old) this.bySig.delete(sigTag(old.record));
    this.entries.set(key, e);
    this.bySig.set(sigTag(e.record), e);
  }

  /** Adds already-verified entries (e.g. loaded from our own store). */
  load(entries: Iterable<CatalogEntry>): void {
    for (const e of entries) {
      const key = entryKey(e);
      const known = this.entries.get(key);
      if (!known || wins(e, known)) this.put(key, e);
    }
  }

  /** Phase 1: parse, and sort out what is unchanged, stale or broken without verifying anything. */
  private screen(records: Iterable<Uint8Array>, stats: MergeStats, opts: MergeOptions = {}): Candidate[] {
    const candidates: Candidate[] = [];
    for (const record of records) {
      stats.seen++;
      try {
        // The same bytes as an entry we hold (which was valid when it came): unchanged, nothing to parse.
        const held = this.bySig.get(sigTag(record));
        if (held !== undefined && Buffer.compare(held.record, record) === 0) {
          stats.unchanged++;
          continue;
        }
        const f = decodeBody(splitRecord(record).body);
        if (opts.publisher !== undefined && f.publisher !== opts.publisher) {
          stats.foreign++;
          continue;
        }
        const key = entryKey(f);
        const known = this.entries.get(key);
        // A replay of an older seq is ignored without the cost of a verify.
        if (known && !wins({ seq: f.seq, record }, known)) {
          stats.stale++;
          continue;
        }
        candidates.push({ key, f, record });
      } catch (err) {
        if (err instanceof EntryError) stats.dropped[err.reason]++;
        else stats.dropped.malformed++;
      }
    }
    return candidates;
  }

  /**
   * Phase 3: apply verified candidates in order, exactly as if they had been merged one by one. Called once per
   * verified batch, in order; `changed` and `added` gather the whole merge, the return value this batch's part.
   */
  private apply(
    candidates: Candidate[],
    ok: ArrayLike<boolean>,
    stats: MergeStats,
    changed: Map<string, CatalogEntry>,
    added: Set<string>,
  ): { entries: CatalogEntry[]; fresh: Set<string> } {
    const batch = new Map<string, CatalogEntry>();
    const fresh = new Set<string>();
    // A record read from a catalog file is a view into a whole inflated chunk: keep a copy, not the chunk. One buffer
    // for the batch's records, not one each: 100,000 small ArrayBuffers cost the garbage collector seconds.
    let bytes = 0;
    for (let i = 0; i < candidates.length; i++) if (ok[i]) bytes += candidates[i].record.byteLength;
    const store = new Uint8Array(bytes);
    let at = 0;
    candidates.forEach((c, i) => {
      if (!ok[i]) {
        stats.dropped.signature++;
        return;
      }
      const known = this.entries.get(c.key);
      if (known && !wins({ seq: c.f.seq, record: c.record }, known)) {
        stats.stale++;
        return;
      }
      store.set(c.record, at);
      const own = store.subarray(at, at + c.record.byteLength);
      at += c.record.byteLength;
      // The decoded fields become the entry (no copy of them).
      const entry = c.f as CatalogEntry;
      entry.record = own;
      if (known) stats.updated++;
      else {
        stats.added++;
        added.add(c.key);
        fresh.add(c.key);
      }
      this.put(c.key, entry);
      changed.set(c.key, entry);
      batch.set(c.key, entry);
    });
    return { entries: [...batch.values()], fresh };
  }

  /**
   * Merges signed records from any source. Every record that would change anything is verified; a signature is
   * checked only when the record would win.
   */
  merge(records: Iterable<Uint8Array>, opts: MergeOptions = {}): MergeResult {
    const stats = emptyStats();
    const candidates = this.screen(records, stats, opts);
    const { todo, verdicts } = consultCache(candidates, opts.verified, stats);
    const ok = verdicts(
      todo.map((c) => {
        const { body, sig } = splitRecord(c.record);
        return verifySignature(body, sig, Buffer.from(c.f.publisher, 'hex'));
      }),
    );
    const changed = new Map<string, CatalogEntry>();
    const added = new Set<string>();
    this.apply(candidates, ok, stats, changed, added);
    return { stats, changed: [...changed.values()], added };
  }

  /**
   * The same, with the signatures checked by `verifyMany` (a worker pool for big catalogs). Records are screened in
   * slices and each batch of candidates goes to the verifiers at once, so parsing the next slice overlaps verifying
   * this one. Screening only reads the index; batches are applied in order once all are screened, so the result is
   * the same as in one piece. `onBatch` receives each verified batch's winners as it is applied (a store writes
   * them while the next batches are still being verified); `changed` in the result still holds them all.
   */
  async mergeAsync(
    records: Iterable<Uint8Array>,
    verifyMany: (jobs: VerifyJob[]) => Promise<boolean[]>,
    opts: MergeOptions = {},
    onBatch?: (entries: CatalogEntry[], fresh: Set<string>, next: BatchOutlook) => void,
  ): Promise<MergeResult> {
    const stats = emptyStats();
    const batches: { candidates: Candidate[]; verdict: Promise<boolean[]> }[] = [];
    // Candidates go to the verifiers in batches of MERGE_SLICE, not one batch per slice of records: a catalog that
    // mostly repeats what we hold leaves a few new records per slice, which together are worth the worker threads.
    let pending: Candidate[] = [];
    // A publisher signs many entries: one key buffer each, not one per record.
    const keys = new Map<string, Uint8Array>();
    const keyOf = (hex: string): Uint8Array => {
      let k = keys.get(hex);
      if (!k) keys.set(hex, (k = Buffer.from(hex, 'hex')));
      return k;
    };
    const send = (): void => {
      const candidates = pending;
      pending = [];
      const { todo, verdicts } = consultCache(candidates, opts.verified, stats);
      const jobs = todo.map((c) => ({ ...splitRecord(c.record), pub: keyOf(c.f.publisher) }));
      batches.push({ candidates, verdict: (jobs.length ? verifyMany(jobs) : Promise.resolve([])).then(verdicts) });
    };
    for (const slice of slices(records, MERGE_SLICE)) {
      for (const c of this.screen(slice, stats, opts)) pending.push(c);
      if (pending.length >= MERGE_SLICE) send();
    }
    // Everything after the last verdict runs on this thread alone (the verify threads are done): the last batch is
    // kept small, so little is left to apply and write then.
    if (pending.length > 2 * LAST_BATCH) {
      const last = pending.splice(pending.length - LAST_BATCH);
      send();
      pending = last;
    }
    if (pending.length) send();
    // Every verdict is awaited even if one fails (no unhandled rejection left behind), then applied in order.
    const done = batches.map(() => false);
    let verifiedAt = performance.now();
    const settle = (i: number) => {
      done[i] = true;
      verifiedAt = performance.now();
    };
    const settled = batches.map((b, i) =>
      b.verdict.then(
        (ok) => (settle(i), { ok }),
        (err: unknown) => (settle(i), { err }),
      ),
    );
    // Candidates of the batches after each one.
    const after: number[] = [];
    for (let i = batches.length - 1, n = 0; i >= 0; n += batches[i--].candidates.length) after[i] = n;
    const changed = new Map<string, CatalogEntry>();
    const added = new Set<string>();
    for (let i = 0; i < batches.length; i++) {
      const r = await settled[i];
      if ('err' in r) {
        await Promise.all(settled);
        throw r.err;
      }
      const part = this.apply(batches[i].candidates, r.ok, stats, changed, added);
      if (onBatch && part.entries.length) {
        const verifying = i + 1 < batches.length && !done[i + 1];
        onBatch(part.entries, part.fresh, {
          candidates: after[i],
          total: after[0] + batches[0].candidates.length,
          verifying,
        });
      }
    }
    return { stats, changed: [...changed.values()], added, verifiedAt };
  }

  /** Every entry (tombstones included) sorted by key: the content of a catalog file. */
  sorted(): CatalogEntry[] {
    return [...this.entries.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, e]) => e);
  }
}

/**
 * Splits `candidates` by `cache`: `todo` are those to verify (those whose exact bytes it knows were valid need not be),
 * `verdicts` turns the verdicts on `todo` into verdicts on all of them (in order) and remembers the valid ones.
 */
function consultCache(candidates: Candidate[], cache: VerifiedCache | undefined, stats: MergeStats) {
  if (!cache) return { todo: candidates, verdicts: (ok: boolean[]) => ok };
  const digests = candidates.map((c) => recordDigest(c.record));
  const known = digests.map((d) => cache.has(d));
  const todo = candidates.filter((_, i) => !known[i]);
  stats.cached += candidates.length - todo.length;
  const verdicts = (ok: boolean[]): boolean[] => {
    const out: boolean[] = new Array<boolean>(candidates.length);
    let j = 0;
    for (let i = 0; i < candidates.length; i++) {
      if (known[i]) out[i] = true;
      else if ((out[i] = ok[j++])) cache.add(digests[i]);
    }
    return out;
  };
  return { todo, verdicts };
}

/** What is still to come after a batch of mergeAsync. */
export interface BatchOutlook {
  /** Candidates in the batches after this one (each may still fail its verify or lose). */
  candidates: number;
  /** Candidates of the whole merge. */
  total: number;
  /** The next batch is still being verified (the verify threads are busy): work done now overlaps theirs. */
  verifying: boolean;
}

/** Records screened per slice in mergeAsync: big enough to be worth a trip to the worker threads. */
const MERGE_SLICE = 8192;
/** mergeAsync's last batch holds at most this many candidates (when there are more than twice as many left). */
const LAST_BATCH = 2048;

function* slices<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let slice: T[] = [];
  for (const item of items) {
    slice.push(item);
    if (slice.length === size) {
      yield slice;
      slice = [];
    }
  }
  if (slice.length) yield slice;
}

export function totalDropped(stats: MergeStats): number {
  return stats.dropped.malformed + stats.dropped.oversized + stats.dropped.signature;
}
