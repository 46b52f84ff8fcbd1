// Resume after a restart or a crash: trust the saved bitfield only for files whose size and mtime are what they
// were when it was saved; hash again the pieces on disk that cannot be trusted (files changed since, pieces written
// after the last save). Nothing is re-downloaded that is still good on disk.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { getHashPool, SPAN_BYTES, type HashPool, type SpanTask } from '../torrent/hash-pool.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { filePath, piecesOf } from './layout.js';
import type { FileMark, TransferRecord } from './state.js';
import type { PieceStore } from './store.js';

export function bitGet(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3] & (0x80 >> (i & 7))) !== 0;
}

export function bitSet(bits: Uint8Array, i: number): void {
  bits[i >> 3] |= 0x80 >> (i & 7);
}

export function countBits(bits: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (bitGet(bits, i)) c++;
  return c;
}

/** Size and mtime of every real file that exists (missing files are left out). */
export async function markFiles(contentRoot: string, parsed: ParsedTorrent): Promise<FileMark[]> {
  const marks: FileMark[] = [];
  for (let index = 0; index < parsed.files.length; index++) {
    const file = parsed.files[index];
    if (file.pad) continue;
    try {
      const st = await fsp.stat(filePath(contentRoot, parsed, file), { bigint: true });
      marks.push({ index, size: Number(st.size), mtimeNs: st.mtimeNs.toString() });
    } catch {}
  }
  return marks;
}

export interface ResumeOptions {
  /** Stops the check (it rejects with the signal's reason), e.g. when the transfer is removed meanwhile. */
  signal?: AbortSignal;
  /** The worker pool that hashes; the process-wide one by default. */
  pool?: HashPool;
}

export interface ResumeResult {
  bitfield: Uint8Array;
  trusted: number;
  rechecked: number;
  valid: number;
}

/**
 * The bitfield to start from. Saved pieces count only when every real file they touch is unchanged; every other
 * piece whose bytes are all present on disk is hashed again (v1 SHA-1), in the hash workers (hash-pool.ts).
 */
export async function resumeBitfield(
  parsed: ParsedTorrent,
  contentRoot: string,
  record: TransferRecord | undefined,
  store: PieceStore,
  options: ResumeOptions = {},
): Promise<ResumeResult> {
  const n = parsed.pieceCount;
  const bits = new Uint8Array(Math.ceil(n / 8));
  let saved = record?.bitfield ? new Uint8Array(Buffer.from(record.bitfield, 'base64')) : undefined;
  // A bitfield of the wrong size is not this torrent's: trust none of it (every piece on disk is checked again).
  if (saved && saved.length !== bits.length) saved = undefined;
  // Every piece in but the download not complete: the last run's final check failed (or was cut short), so the
  // bitfield claims something the disk does not hold (a damaged record, a file changed behind our back with its
  // mtime kept). Trust none of it and hash what is on disk: otherwise every rerun ends "NOT VERIFIED" again.
  if (saved && record?.kind === 'download' && !record.complete && countBits(saved, n) === n) saved = undefined;
  const savedMarks = new Map((record?.files ?? []).map((m) => [m.index, m]));
  const now = new Map((await markFiles(contentRoot, parsed)).map((m) => [m.index, m]));

  // Per piece: can its saved bit be trusted, and are all its bytes on disk at all?
  const trustable = new Uint8Array(n).fill(1);
  const present = new Uint8Array(n).fill(1);
  parsed.files.forEach((file, index) => {
    if (file.pad) return;
    const range = piecesOf(parsed, file);
    if (!range) return;
    const cur = now.get(index);
    const old = savedMarks.get(index);
    const unchanged = !!cur && !!old && cur.size === old.size && cur.mtimeNs === old.mtimeNs;
    for (let p = range[0]; p <= range[1]; p++) {
      if (!unchanged) trustable[p] = 0;
      // A piece is on disk only if the file reaches to its end (files are written sparsely, never preallocated).
      const pieceEnd = Math.min((p + 1) * parsed.pieceLength, file.offset + file.length) - file.offset;
      if (!cur || cur.size < pieceEnd) present[p] = 0;
    }
  });

  let trusted = 0;
  const toCheck: number[] = [];
  for (let p = 0; p < n; p++) {
    if (saved && bitGet(saved, p) && trustable[p]) {
      bitSet(bits, p);
      trusted++;
    } else if (present[p] && !(trustable[p] && saved)) {
      // Unchanged files with a saved record hold no bytes written after the save: nothing new to find there.
      toCheck.push(p);
    }
  }

  let valid = 0;
  const pieces = parsed.pieces;
  if (pieces && toCheck.length) {
    const good = await hashPieces(parsed, toCheck, store, options);
    for (const p of toCheck) {
      if (good[p] && good[p].equals(pieces.subarray(p * 20, p * 20 + 20))) {
        bitSet(bits, p);
        valid++;
      }
    }
  }
  return { bitfield: bits, trusted, rechecked: toCheck.length, valid };
}

/** Files checked for readability at once before the workers read them. */
const OPEN_CHECKS = 16;

/**
 * SHA-1 of each piece in `toCheck` (ascending) that could be read, indexed by piece; pieces that could not be read
 * (a file missing, unreadable, shorter than it was a moment ago, or reached through a link a download must not
 * follow) have none: they are not valid, and the rest of the check goes on.
 *
 * The hashing runs in the worker pool: a 15 GB model is ~13 s of SHA-1, which must not block the extension host.
 * The workers open the files by path themselves, so each file is first opened here the way the store opens it
 * (checkReadable: the same link rules for a download), and only pieces whose files all passed are sent.
 */
async function hashPieces(
  parsed: ParsedTorrent,
  toCheck: number[],
  store: PieceStore,
  options: ResumeOptions,
): Promise<(Buffer | undefined)[]> {
  const pl = parsed.pieceLength;
  const pool = options.pool ?? getHashPool();
  try {
    pool.warm(); // the workers start while the files are opened below
  } catch {
    // A worker that cannot start: hashSpans fails below too, and the check runs on this thread.
  }
  const pieceRange = (p: number): [number, number] => [p * pl, Math.min((p + 1) * pl, store.layoutLength)];

  // Every file the pieces touch, opened once here as the store would (a bounded number at a time).
  const filesOf = new Map(toCheck.map((p) => [p, store.segments(...pieceRange(p)).flatMap((s) => s.path ?? [])]));
  const paths = new Set([...filesOf.values()].flat());
  const unreadable = new Set<string>();
  const queue = [...paths];
  await Promise.all(
    Array.from({ length: Math.min(OPEN_CHECKS, queue.length) }, async () => {
      for (let path = queue.pop(); path !== undefined; path = queue.pop()) {
        await store.checkReadable(path).catch(() => unreadable.add(path));
      }
    }),
  );
  options.signal?.throwIfAborted();

  // Runs of consecutive readable pieces, cut into tasks of about SPAN_BYTES, and at least one per worker when
  // there is enough to share.
  const readable = toCheck.filter((p) => !filesOf.get(p)!.some((f) => unreadable.has(f)));
  const perTask = Math.max(1, Math.min(Math.floor(SPAN_BYTES / pl), Math.ceil(readable.length / pool.size)));
  const runs: number[][] = [];
  for (const p of readable) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === p - 1 && run.length < perTask) run.push(p);
    else runs.push([p]);
  }

  const out: (Buffer | undefined)[] = new Array<Buffer | undefined>(parsed.pieceCount);
  // Set when the workers, not the files, failed a run: the rest of the check stays on this thread (a worker that
  // cannot start would otherwise be started again, ~30 ms each, for every one of a big model's hundreds of runs).
  let workersFailed = false;
  const next = runs.values();
  // Two runs per worker in the pool at once: each worker has the next one queued when it finishes one (no wait for
  // this thread to send it), and after a failure no more than these were sent.
  await Promise.all(
    Array.from({ length: Math.min(2 * pool.size, runs.length) }, async () => {
      for (const run of next) {
        if (!workersFailed) {
          const task: SpanTask = {
            pieceLength: pl,
            segments: store.segments(pieceRange(run[0])[0], pieceRange(run[run.length - 1])[1]),
          };
          try {
            // One call per run: a file that fails under one run (changed since the check above) fails only that run.
            const [sha1s] = await pool.hashSpans([task], { signal: options.signal });
            run.forEach((p, i) => (out[p] = Buffer.from(sha1s.buffer, sha1s.byteOffset + i * 20, 20)));
            continue;
          } catch (err) {
            if (options.signal?.aborted) throw err;
          }
        }
        // The worker path failed as a whole for this run: a worker that cannot start (a bundle without
        // hash-worker.js, a worker crash), or a file that changed between the check above and the worker's read.
        // Hash the run here, piece by piece, as before the workers did it: slower and on this thread, but the
        // transfer starts with the right pieces rather than failing.
        let allRead = true;
        for (const p of run) {
          options.signal?.throwIfAborted();
          out[p] = await hashInThread(store, ...pieceRange(p));
          if (!out[p]) allRead = false;
        }
        // Every byte of the run was readable here: it was the workers that failed.
        if (allRead) workersFailed = true;
      }
    }),
  );
  return out;
}

/** SHA-1 of [start, end) of the piece stream read through the store, on this thread; undefined if it cannot be read. */
async function hashInThread(store: PieceStore, start: number, end: number): Promise<Buffer | undefined> {
  let buf: Buffer;
  try {
    buf = await store.read(start, end - start);
  } catch {
    return undefined;
  }
  return createHash('sha1').update(buf).digest();
}
