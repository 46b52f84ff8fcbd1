// The hashing worker (a worker_threads Worker, bundled to dist/hash-worker.js): reads piece-aligned ranges of
// files once and computes, from the same bytes, the v1 SHA-1 of each piece and the v2 piece-layer node (SHA-256
// merkle subtree over 16 KiB leaves) of each piece. hash-pool.ts is its only client; the messages are below.
import { parentPort } from 'node:worker_threads';
import { open, type FileHandle } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import crypto from 'node:crypto';
import { BLOCK_SIZE, HASH_SIZE, nextPow2, reduceInPlace, rootFromPieceLayer, sha1, sha256 } from './merkle.js';

/** One piece-aligned range of one file. */
export interface RangeTask {
  path: string;
  /** Length of the whole file (the range's last piece may be the file's short last piece). */
  fileLength: number;
  pieceLength: number;
  /** First piece (inclusive) and last piece (exclusive) of the range, counted from the file's start. */
  firstPiece: number;
  endPiece: number;
  /** Also return every 16 KiB leaf hash (verify reports damaged blocks with them). */
  leaves: boolean;
}

export interface RangeResult {
  /** 20 bytes per piece; a short last piece is hashed zero-padded to pieceLength (hybrid layout). */
  sha1: Uint8Array;
  /** 20 bytes: SHA-1 of the short last piece without padding (single-file and v1-only layouts); absent otherwise. */
  lastUnpadded?: Uint8Array;
  /** 32 bytes per piece: the piece-layer nodes. */
  nodes: Uint8Array;
  /** 32 bytes per 16 KiB leaf, when asked. */
  leaves?: Uint8Array;
}

/** verify.ts: a run of v1 pieces over the torrent's byte stream, where pieces may span files (v1-only torrents are
 *  not piece-aligned). Segments are read in order; a segment without a path is zeros (pad files, or files already
 *  known to be missing). All pieces are whole except the torrent's last one. */
export interface SpanTask {
  pieceLength: number;
  segments: { path?: string; position: number; length: number }[];
}

export type WorkerRequest =
  | { type: 'ranges'; id: number; tasks: RangeTask[] }
  | { type: 'span'; id: number; task: SpanTask }
  | { type: 'root'; id: number; layer: Uint8Array; pieceLength: number }
  | { type: 'cancel'; id: number };

export type WorkerReply =
  | { type: 'progress'; id: number; bytes: number }
  | { type: 'ranges'; id: number; results: RangeResult[] }
  | { type: 'root'; id: number; root: Uint8Array }
  | { type: 'span'; id: number; sha1: Uint8Array }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string; code?: string; path?: string };

/** Read size: whole pieces, at least 8 MiB per read so syscalls and messages stay rare. */
const TARGET_READ = 8 * 1024 * 1024;

const cancelled = new Set<number>();
let zeros = Buffer.alloc(0);
// Two buffers: the next read runs while the current one is hashed.
let buffers: Buffer[] = [];

function zeroPad(n: number): Buffer {
  if (zeros.length < n) zeros = Buffer.alloc(n);
  return zeros.subarray(0, n);
}

function readBuffers(size: number): Buffer[] {
  if (buffers.length !== 2 || buffers[0].length < size) buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  return buffers;
}

class Cancelled extends Error {}

const ENDED_EARLY = 'file ended early: it is shorter than expected or changed while being hashed';
/** Ranges up to this size are read with one synchronous read. */
const SMALL_RANGE = 1024 * 1024;
/** Progress is reported in steps of at least this many bytes (and at the end of each job). */
const PROGRESS_STEP = 4 * 1024 * 1024;

let progressBytes = 0;
function addProgress(id: number, bytes: number): void {
  progressBytes += bytes;
  if (progressBytes >= PROGRESS_STEP) flushProgress(id);
}
function flushProgress(id: number): void {
  if (progressBytes > 0) parentPort!.postMessage({ type: 'progress', id, bytes: progressBytes } satisfies WorkerReply);
  progressBytes = 0;
}
/** Lets queued messages (cancels) in between synchronous tasks. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function readFully(fh: FileHandle, buf: Buffer, length: number, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0)
      throw Object.assign(new Error(ENDED_EARLY), {
        code: 'ECHANGED',
        path,
      });
    done += bytesRead;
  }
}

async function hashRange(id: number, task: RangeTask): Promise<RangeResult> {
  const { path, fileLength, pieceLength, firstPiece, endPiece } = task;
  const pieces = endPiece - firstPiece;
  const smallFile = fileLength <= pieceLength;
  const leavesPerPiece = pieceLength / BLOCK_SIZE;
  const sha1Out = Buffer.allocUnsafe(pieces * 20);
  const nodes = Buffer.allocUnsafe(pieces * HASH_SIZE);
  const totalLeaves = Math.ceil((Math.min(fileLength, endPiece * pieceLength) - firstPiece * pieceLength) / BLOCK_SIZE);
  const leavesOut = task.leaves ? Buffer.allocUnsafe(totalLeaves * HASH_SIZE) : undefined;
  const pieceLeaves = Buffer.allocUnsafe(leavesPerPiece * HASH_SIZE);
  let lastUnpadded: Buffer | undefined;

  const piecesPerRead = Math.max(1, Math.floor(TARGET_READ / pieceLength));
  const readSize = piecesPerRead * pieceLength;
  const [a, b] = readBuffers(Math.min(readSize, nextPow2(Math.max(fileLength, 1))));
  const start = firstPiece * pieceLength;
  const end = Math.min(fileLength, endPiece * pieceLength);
  if (start >= end) return { sha1: sha1Out, nodes };

  let piece = 0; // index within the range
  let leafIndex = 0;
  // Hash every piece in a chunk: SHA-1 of the piece and SHA-256 of its leaves from the same bytes.
  const hashChunk = (cur: Buffer, len: number) => {
    for (let off = 0; off < len; off += pieceLength) {
      const data = cur.subarray(off, Math.min(len, off + pieceLength));
      if (data.length === pieceLength) {
        sha1(data).copy(sha1Out, piece * 20);
      } else {
        crypto
          .createHash('sha1')
          .update(data)
          .update(zeroPad(pieceLength - data.length))
          .digest()
          .copy(sha1Out, piece * 20);
        lastUnpadded = sha1(data);
      }
      const n = Math.ceil(data.length / BLOCK_SIZE);
      for (let i = 0; i < n; i++) {
        const leaf = sha256(data.subarray(i * BLOCK_SIZE, Math.min(data.length, (i + 1) * BLOCK_SIZE)));
        leaf.copy(pieceLeaves, i * HASH_SIZE);
        if (leavesOut) leaf.copy(leavesOut, (leafIndex + i) * HASH_SIZE);
      }
      leafIndex += n;
      // The piece's subtree, reduced in place over its leaf hashes (a small file's tree is as wide as its leaves).
      reduceInPlace(pieceLeaves, n, smallFile ? nextPow2(n) : leavesPerPiece).copy(nodes, piece * HASH_SIZE);
      piece++;
    }
  };
  const changed = () => Object.assign(new Error('it changed while it was being hashed'), { code: 'ECHANGED' });

  if (end - start <= SMALL_RANGE) {
    // Small ranges (many small files): synchronous I/O. This thread may block, and a thread-pool round trip per
    // open/read/stat/close costs more than the read itself. The caller yields between tasks for cancels.
    const fd = openSync(path, 'r');
    try {
      let done = 0;
      while (done < end - start) {
        const n = readSync(fd, a, done, end - start - done, start + done);
        if (n === 0) throw Object.assign(new Error(ENDED_EARLY), { code: 'ECHANGED', path });
        done += n;
      }
      hashChunk(a, end - start);
      if (fstatSync(fd).size !== fileLength) throw changed();
    } finally {
      closeSync(fd);
    }
    addProgress(id, end - start);
    return { sha1: sha1Out, nodes, lastUnpadded, leaves: leavesOut };
  }

  const fh = await open(path, 'r');
  try {
    const chunkSize = Math.min(a.length, readSize);
    const chunkLen = (pos: number) => Math.min(chunkSize, end - pos);
    let pos = start;
    let cur = a;
    let pending: Promise<void> | undefined = readFully(fh, cur, chunkLen(pos), pos, path);
    while (pending) {
      await pending;
      if (cancelled.has(id)) throw new Cancelled();
      const len = chunkLen(pos);
      const next = pos + len;
      const other = cur === a ? b : a;
      // The next read runs on the thread pool while this chunk is hashed.
      pending = next < end ? readFully(fh, other, chunkLen(next), next, path) : undefined;
      hashChunk(cur, len);
      addProgress(id, len);
      pos = next;
      cur = other;
    }
    // A file that grew (or was replaced) while we read it would give a torrent that does not match the disk.
    if ((await fh.stat()).size !== fileLength) throw changed();
  } finally {
    await fh.close();
  }
  return { sha1: sha1Out, nodes, lastUnpadded, leaves: leavesOut };
}

/** SHA-1 of each v1 piece of a SpanTask, concatenated. */
async function hashSpan(id: number, task: SpanTask): Promise<Buffer> {
  const { pieceLength, segments } = task;
  const total = segments.reduce((sum, g) => sum + g.length, 0);
  const pieces = Math.ceil(total / pieceLength);
  const out = Buffer.allocUnsafe(pieces * 20);
  const buf = Buffer.allocUnsafe(Math.min(Math.max(1, Math.floor(TARGET_READ / pieceLength)), pieces) * pieceLength);
  let fill = 0;
  let piece = 0;
  const hashFilled = () => {
    for (let off = 0; off < fill; off += pieceLength) {
      sha1(buf.subarray(off, Math.min(fill, off + pieceLength))).copy(out, piece++ * 20);
    }
    parentPort!.postMessage({ type: 'progress', id, bytes: fill } satisfies WorkerReply);
    fill = 0;
    if (cancelled.has(id)) throw new Cancelled();
  };
  for (const seg of segments) {
    const fh = seg.path
      ? await open(seg.path, 'r').catch((err) => Promise.reject(withPath(err, seg.path!)))
      : undefined;
    try {
      let pos = seg.position;
      let left = seg.length;
      while (left > 0) {
        const n = Math.min(left, buf.length - fill);
        if (fh)
          await readFully(fh, buf.subarray(fill, fill + n), n, pos, seg.path!).catch((err) =>
            Promise.reject(withPath(err, seg.path!)),
          );
        else buf.fill(0, fill, fill + n);
        fill += n;
        pos += n;
        left -= n;
        if (fill === buf.length) hashFilled();
      }
    } finally {
      await fh?.close();
    }
  }
  if (fill > 0) hashFilled();
  return out;
}

/** Tags an error with the file it concerns (the pool's message names it). */
function withPath(err: unknown, path: string): unknown {
  if (err instanceof Error && !(err instanceof Cancelled) && !('path' in err && (err as { path?: string }).path)) {
    Object.assign(err, { path });
  }
  return err;
}

async function handle(msg: WorkerRequest): Promise<void> {
  if (msg.type === 'cancel') {
    cancelled.add(msg.id);
    return;
  }
  try {
    if (msg.type === 'root') {
      const root = rootFromPieceLayer(msg.layer, msg.pieceLength);
      parentPort!.postMessage({ type: 'root', id: msg.id, root } satisfies WorkerReply, [root.buffer as ArrayBuffer]);
      return;
    }
    if (msg.type === 'span') {
      const sha1s = await hashSpan(msg.id, msg.task);
      parentPort!.postMessage({ type: 'span', id: msg.id, sha1: sha1s } satisfies WorkerReply);
      return;
    }
    const results: RangeResult[] = [];
    progressBytes = 0;
    let sinceTurn = 0;
    for (const task of msg.tasks) {
      try {
        results.push(await hashRange(msg.id, task));
      } catch (err) {
        throw withPath(err, task.path);
      }
      if (++sinceTurn >= 16) {
        sinceTurn = 0;
        await turn();
        if (cancelled.has(msg.id)) throw new Cancelled();
      }
    }
    flushProgress(msg.id);
    const transfer: ArrayBuffer[] = [];
    for (const r of results) {
      for (const u of [r.sha1, r.nodes, r.lastUnpadded, r.leaves]) {
        // Buffers from allocUnsafe may share the pool's ArrayBuffer: only transfer ones that own theirs.
        if (
          u &&
          u.byteOffset === 0 &&
          u.byteLength === u.buffer.byteLength &&
          !transfer.includes(u.buffer as ArrayBuffer)
        ) {
          transfer.push(u.buffer as ArrayBuffer);
        }
      }
    }
    parentPort!.postMessage({ type: 'ranges', id: msg.id, results } satisfies WorkerReply, transfer);
  } catch (err) {
    if (err instanceof Cancelled) {
      parentPort!.postMessage({ type: 'cancelled', id: msg.id } satisfies WorkerReply);
    } else {
      const e = err as NodeJS.ErrnoException & { path?: string };
      const known: Record<string, string> = {
        ENOENT: 'no such file',
        EACCES: 'permission denied',
        EISDIR: 'is a folder',
        EIO: 'read error (EIO)',
      };
      const message = (e.code && known[e.code]) || e.message;
      parentPort!.postMessage({ type: 'error', id: msg.id, message, code: e.code, path: e.path } satisfies WorkerReply);
    }
  } finally {
    cancelled.delete(msg.id);
  }
}

// Messages are handled one at a time (the pool sends one job per worker at a time); cancels must get through
// while a job awaits its reads, so they bypass the queue.
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (msg: WorkerRequest) => {
  if (msg.type === 'cancel') void handle(msg);
  else chain = chain.then(() => handle(msg));
});
