// Verifies a folder (or file) on disk against a parsed torrent: every v1 piece and every v2 per-file merkle root.
//
// - Hashing runs in the shared worker pool (hash-pool.ts): the caller's thread only schedules and compares.
// - Hybrid and v2 torrents have piece-aligned files: each file is read once in the pool, which gives from the same
//   bytes the SHA-1 of its pieces (the pad after it is zeros) and its v2 piece-layer nodes and root. A hybrid must
//   pass both; a mismatch in either marks the piece bad.
// - v1-only torrents are usually NOT piece-aligned: a piece may span several files. They are hashed as spans of the
//   torrent's byte stream (the pool's `span` job). A bad piece that spans files marks every file it touches: v1 has
//   no finer information.
// - Pad files (BEP 47) are zeros and never read from disk.
// - Missing files, files of the wrong size and files that are there but cannot be read (permission denied, a folder
//   or a FIFO in a file's place, a symbolic link loop) are reported without reading them, each as what it is: the fix
//   differs (fetch it, repair it, fix its permissions). In v1 the pieces they share with their neighbours are
//   counted bad (they cannot be confirmed).
// - A .torrent carries v2 hashes down to pieces only (`piece layers`), not the 16 KiB leaves, so a bad 16 KiB block
//   can be named exactly only when a piece is one block (piece length 16 KiB). `badBlocks` is given then, and is
//   absent otherwise rather than guessed.
//
// Piece numbers in reports are torrent-wide piece indices (v1 stream order; for v2-only, the file-aligned layout of
// TorrentFile.offset). Block numbers are 16 KiB block indices within the file.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { getHashPool, SPAN_BYTES, type HashPool, type SpanTask } from './hash-pool.js';
import { BLOCK_SIZE, HASH_SIZE, rootFromPieceLayer } from './merkle.js';
import { safeJoin } from './paths.js';
import { TorrentError, type ParsedTorrent, type TorrentFile } from './types.js';

export interface DamagedFile {
  /** Path relative to the content root, `/`-separated (a single-file torrent: its name). */
  path: string;
  reason: 'missing' | 'size' | 'content' | 'unreadable';
  /** For `unreadable`: why, in words ("permission denied", "a folder, not a file"...). */
  why?: string;
  /** For `size`: the length on disk. */
  actualLength?: number;
  expectedLength: number;
  /** Torrent-wide indices of the pieces of this file that failed (for `content`). */
  badPieces?: number[];
  /** v2: 16 KiB blocks of this file that failed, when the torrent allows naming them (see above). */
  badBlocks?: number[];
}

export interface VerifyResult {
  /** True only when every byte of every file verified. */
  ok: boolean;
  /** The content root that was checked (multi-file: the torrent's folder; single-file: the file). */
  root: string;
  /** Bytes read and hashed. */
  bytesChecked: number;
  /** Total bytes of the torrent's real files. */
  bytesTotal: number;
  pieceCount: number;
  /** Torrent-wide bad piece indices, sorted. */
  badPieces: number[];
  damagedFiles: DamagedFile[];
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /** Bytes hashed so far and bytes to hash in all. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Defaults to the process-wide pool. */
  pool?: HashPool;
}

/**
 * Where the torrent's content is. `target` may be, unambiguously:
 * - multi-file: the torrent's root folder itself, or the folder holding it. If `target`'s own name is the torrent's
 *   name, it is the root; else if `target/<name>` is a folder, that is the root; else `target` is taken as the
 *   root (a renamed download folder).
 * - single-file: the file itself, or the folder holding `<name>`.
 */
export async function resolveContentRoot(torrent: ParsedTorrent, target: string): Promise<string> {
  const abs = resolve(target);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new TorrentError(`no such file or folder: ${target}`);
  if (torrent.singleFile) {
    if (st.isFile()) return abs;
    return safeJoin(abs, [torrent.name]);
  }
  if (!st.isDirectory()) throw new TorrentError(`${target} is not a folder (the torrent holds several files)`);
  if (torrent.name === '' || basename(abs) === torrent.name) return abs;
  const inner = safeJoin(abs, [torrent.name]);
  const innerStat = await stat(inner).catch(() => undefined);
  return innerStat?.isDirectory() ? inner : abs;
}

interface Entry {
  file: TorrentFile;
  index: number;
  /** Absolute path on disk (undefined for pad files). */
  disk?: string;
  status: 'ok' | 'missing' | 'size' | 'pad' | 'unreadable';
  actualLength?: number;
  /** For `unreadable`: why. */
  why?: string;
}

/** Why a path that is there cannot be read as a file, from its stat error (undefined: it is simply not there). */
function statTrouble(err: NodeJS.ErrnoException): string | undefined {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return undefined;
    case 'EACCES':
    case 'EPERM':
      return 'permission denied on a folder above it';
    case 'ELOOP':
      return 'a symbolic link loop';
    default:
      return `cannot be read (${err.code ?? err.message})`;
  }
}

function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

function display(f: TorrentFile): string {
  return f.path.join('/');
}

async function locate(torrent: ParsedTorrent, root: string): Promise<Entry[]> {
  const entries: Entry[] = new Array(torrent.files.length);
  let next = 0;
  // A bounded number of stats in flight: a torrent may list a million files.
  const worker = async () => {
    for (let index = next++; index < torrent.files.length; index = next++) {
      const file = torrent.files[index];
      if (file.pad) {
        entries[index] = { file, index, status: 'pad' };
        continue;
      }
      const disk = torrent.singleFile ? root : safeJoin(root, file.path);
      let trouble: string | undefined;
      const st = await stat(disk).catch((err: NodeJS.ErrnoException) => void (trouble = statTrouble(err)));
      if (!st) entries[index] = { file, index, disk, status: trouble ? 'unreadable' : 'missing', why: trouble };
      else if (!st.isFile()) {
        const why = st.isDirectory() ? 'a folder, not a file' : 'not a regular file';
        entries[index] = { file, index, disk, status: 'unreadable', why };
      } else if (st.size !== file.length) entries[index] = { file, index, disk, status: 'size', actualLength: st.size };
      else {
        // Readable by this process (root reads everything; another user may not): said now, not as an I/O error
        // half way through hashing.
        const denied = await access(disk, constants.R_OK).then(
          () => false,
          () => true,
        );
        entries[index] = denied
          ? { file, index, disk, status: 'unreadable', why: 'permission denied' }
          : { file, index, disk, status: 'ok' };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, torrent.files.length) }, worker));
  return entries;
}

/** Verifies the content at `target` (see resolveContentRoot) against `torrent`. Throws only on I/O trouble other
 *  than missing files, or when aborted (the signal's reason). */
export async function verifyTorrent(
  torrent: ParsedTorrent,
  target: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const root = await resolveContentRoot(torrent, target);
  options.signal?.throwIfAborted();
  const entries = await locate(torrent, root);
  const pool = options.pool ?? getHashPool();
  const bad = new Map<number, Set<number>>(); // entry index -> torrent-wide bad pieces
  const badBlocks = new Map<number, number[]>();
  const markBad = (entry: number, piece: number) => {
    let s = bad.get(entry);
    if (!s) bad.set(entry, (s = new Set()));
    s.add(piece);
  };
  const bytesChecked =
    torrent.version === 'v1'
      ? await verifyV1(torrent, entries, pool, options, markBad)
      : await verifyAligned(torrent, entries, pool, options, markBad, badBlocks);

  const damagedFiles: DamagedFile[] = [];
  const allBad = new Set<number>();
  for (const e of entries) {
    if (e.status === 'pad') continue;
    const base = { path: display(e.file), expectedLength: e.file.length };
    if (e.status === 'missing') damagedFiles.push({ ...base, reason: 'missing' });
    else if (e.status === 'unreadable') damagedFiles.push({ ...base, reason: 'unreadable', why: e.why });
    else if (e.status === 'size') damagedFiles.push({ ...base, reason: 'size', actualLength: e.actualLength });
    const pieces = bad.get(e.index);
    if (pieces?.size) {
      for (const p of pieces) allBad.add(p);
      if (e.status === 'ok') {
        const d: DamagedFile = { ...base, reason: 'content', badPieces: [...pieces].sort((a, b) => a - b) };
        const blocks = badBlocks.get(e.index);
        if (blocks?.length) d.badBlocks = blocks;
        damagedFiles.push(d);
      }
    }
  }
  return {
    ok: damagedFiles.length === 0,
    root,
    bytesChecked,
    bytesTotal: torrent.length,
    pieceCount: torrent.pieceCount,
    badPieces: [...allBad].sort((a, b) => a - b),
    damagedFiles,
  };
}

/** v1-only: pieces over the byte stream, which may span files. */
async function verifyV1(
  torrent: ParsedTorrent,
  entries: Entry[],
  pool: HashPool,
  options: VerifyOptions,
  markBad: (entry: number, piece: number) => void,
): Promise<number> {
  const pl = torrent.pieceLength;
  const expected = torrent.pieces!;
  const streamLength = entries.reduce((s, e) => s + e.file.length, 0);
  const piecesPerTask = Math.max(1, Math.floor(SPAN_BYTES / pl));
  const tasks: SpanTask[] = [];
  const taskFirst: number[] = [];
  // Pieces touching a missing or wrong-size file cannot be confirmed: their bytes are read as zeros and the piece
  // is counted bad whatever its hash says.
  const unconfirmed = new Set<number>();
  let bytesChecked = 0;
  let k = 0; // first entry that may overlap the current task
  for (let first = 0; first < torrent.pieceCount; first += piecesPerTask) {
    const start = first * pl;
    const end = Math.min(streamLength, (first + piecesPerTask) * pl);
    const segments: SpanTask['segments'] = [];
    while (k < entries.length && entries[k].file.offset + entries[k].file.length <= start) k++;
    for (let i = k; i < entries.length; i++) {
      const e = entries[i];
      const fStart = e.file.offset;
      const fEnd = fStart + e.file.length;
      if (fStart >= end) break;
      const from = Math.max(start, fStart);
      const to = Math.min(end, fEnd);
      if (to <= from) continue;
      const readable = e.status === 'ok';
      segments.push({ path: readable ? e.disk : undefined, position: from - fStart, length: to - from });
      if (readable) bytesChecked += to - from;
      if (e.status === 'missing' || e.status === 'size' || e.status === 'unreadable') {
        for (let p = Math.floor(from / pl); p < ceilDiv(to, pl); p++) unconfirmed.add(p);
      }
    }
    tasks.push({ pieceLength: pl, segments });
    taskFirst.push(first);
  }
  const results = await pool.hashSpans(tasks, { signal: options.signal, onProgress: options.onProgress });
  const badPieces = new Set(unconfirmed);
  results.forEach((sha1s, t) => {
    const first = taskFirst[t];
    const n = sha1s.length / 20;
    for (let i = 0; i < n; i++) {
      const p = first + i;
      if (Buffer.compare(sha1s.subarray(i * 20, i * 20 + 20), expected.subarray(p * 20, p * 20 + 20)) !== 0)
        badPieces.add(p);
    }
  });
  // Blame each bad piece on every real file it touches.
  for (const e of entries) {
    if (e.status === 'pad' || e.file.length === 0) continue;
    const p0 = Math.floor(e.file.offset / pl);
    const p1 = ceilDiv(e.file.offset + e.file.length, pl);
    for (let p = p0; p < p1; p++) if (badPieces.has(p)) markBad(e.index, p);
  }
  return bytesChecked;
}

/** Hybrid and v2: files start on piece boundaries; one read per file gives v1 pieces and v2 nodes. */
async function verifyAligned(
  torrent: ParsedTorrent,
  entries: Entry[],
  pool: HashPool,
  options: VerifyOptions,
  markBad: (entry: number, piece: number) => void,
  badBlocks: Map<number, number[]>,
): Promise<number> {
  const pl = torrent.pieceLength;
  const todo = entries.filter((e) => e.status === 'ok' && e.file.length > 0);
  const hashes = await pool.hashFiles(
    todo.map((e) => ({ path: e.disk!, length: e.file.length })),
    pl,
    { signal: options.signal, onProgress: options.onProgress },
  );
  let bytesChecked = 0;
  todo.forEach((e, t) => {
    const h = hashes[t];
    const f = e.file;
    bytesChecked += f.length;
    const first = f.offset / pl;
    const n = ceilDiv(f.length, pl);
    const local = new Set<number>();

    // v1 half of a hybrid: the pool hashed each short last piece zero-padded (the pad file after it); the last
    // file of the torrent may have no pad after it, and then its last piece is hashed as it is.
    if (torrent.version === 'hybrid' && torrent.pieces) {
      const next = torrent.files[e.index + 1];
      const unpaddedTail = f.length % pl !== 0 && !(next && next.pad);
      for (let i = 0; i < n; i++) {
        const p = first + i;
        const got =
          i === n - 1 && unpaddedTail && h.lastPieceUnpadded
            ? h.lastPieceUnpadded
            : h.pieces.subarray(i * 20, (i + 1) * 20);
        if (Buffer.compare(got, torrent.pieces.subarray(p * 20, p * 20 + 20)) !== 0) local.add(i);
      }
    }

    // v2: the root, then the piece layer to say which pieces.
    if (f.piecesRoot && (!h.piecesRoot || Buffer.compare(h.piecesRoot, f.piecesRoot) !== 0)) {
      const layer = n > 1 ? torrent.pieceLayers?.get(Buffer.from(f.piecesRoot).toString('hex')) : undefined;
      const layerSound = layer && Buffer.compare(rootFromPieceLayer(layer, pl), f.piecesRoot) === 0;
      if (layer && layerSound) {
        for (let i = 0; i < n; i++) {
          const a = h.pieceLayer.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
          if (Buffer.compare(a, layer.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)) !== 0) local.add(i);
        }
      }
      // One-piece files, a torrent whose layer does not match its own root, or a hybrid without layers whose v1
      // hashes found nothing: every piece is suspect. (A hybrid without layers is pinned by its v1 hashes above.)
      if (local.size === 0) for (let i = 0; i < n; i++) local.add(i);
    }

    for (const i of local) markBad(e.index, first + i);
    if (local.size && pl === BLOCK_SIZE)
      badBlocks.set(
        e.index,
        [...local].sort((a, b) => a - b),
      );
  });
  return bytesChecked;
}
