// A pool of hashing workers (worker_threads, one per core) shared by torrent creation and verification.
//
// API:
//   const pool = getHashPool();                          // shared, lazily started, workers unref'd when idle
//   const h = await pool.hashFile(path, pieceLength, { signal, onProgress, leaves });
//   const hs = await pool.hashFiles([{ path, length }], pieceLength, { signal, onProgress });
//   await pool.close();                                   // only for pools you made with `new HashPool()`
//
// Each byte is read once, in a worker: the same read feeds the v1 SHA-1 of each piece and the v2 SHA-256 16 KiB
// leaves. Files larger than RANGE_BYTES are split into piece-aligned ranges so several workers hash one big file;
// small files are batched so hundreds of them cost few messages. The calling thread only schedules and copies
// results: it never hashes more than a few thousand 32-byte nodes itself (bigger trees go to a worker).
// Every file is hashed as if it started on a piece boundary, which is the hybrid (BEP 47 padded) layout.
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { HASH_SIZE, blocksPerPiece, rootFromPieceLayer } from './merkle.js';
import type { RangeResult, RangeTask, SpanTask, WorkerReply, WorkerRequest } from './hash-worker.js';

export type { SpanTask };

/** The hashes of one file, laid out as in a hybrid torrent (the file starts on a piece boundary). */
export interface FileHashes {
  length: number;
  pieceLength: number;
  /** 20-byte SHA-1 per piece, concatenated; a short last piece is hashed zero-padded to pieceLength (hybrid). */
  pieces: Uint8Array;
  /** SHA-1 of the short last piece without padding (what a single-file torrent lists); absent if none is short. */
  lastPieceUnpadded?: Uint8Array;
  /** v2 merkle root (32 bytes); absent for an empty file. */
  piecesRoot?: Uint8Array;
  /** 32-byte node per piece; goes into `piece layers` when the file is larger than one piece. */
  pieceLayer: Uint8Array;
  /** 32-byte SHA-256 per 16 KiB leaf, only when `leaves: true` was asked. */
  leaves?: Uint8Array;
}

export interface HashOptions {
  signal?: AbortSignal;
  /** Called as bytes get hashed (at most once per ~8 MiB read per worker), with totals over the whole call. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Also return the 16 KiB leaf hashes (for block-level damage reports). */
  leaves?: boolean;
}

export interface FileInput {
  path: string;
  /** Known length (skips a stat); the file must still be this long when read. */
  length?: number;
}

/** Files larger than this are cut into piece-aligned ranges hashed by different workers. */
const RANGE_BYTES = 64 * 1024 * 1024;
/** Bytes of the piece stream one `span` job covers (whole pieces): big enough that messages are few, small enough
 *  that both cores get work (create.ts and verify.ts for v1-only torrents, engine/resume.ts). */
export const SPAN_BYTES = 64 * 1024 * 1024;
/** Small files are batched into one worker message until a batch holds this many bytes... */
const BATCH_BYTES = 16 * 1024 * 1024;
/** ...or this many files. */
const BATCH_FILES = 256;
/** Idle workers stop after this long; the next job starts fresh ones (about 30 ms each). */
const IDLE_MS = 30_000;
/** Piece layers longer than this get their root computed in a worker (keeps the caller's thread free). */
const INLINE_ROOT_NODES = 2048;

interface Job {
  call: Call;
  request: WorkerRequest & { type: 'ranges' | 'root' | 'span' };
  resolve(reply: WorkerReply): void;
}

interface Call {
  aborted: boolean;
  fail(err: Error): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  /** Stops an idle worker after IDLE_MS (its read buffers hold 16 MiB; the extension host lives long). */
  idleTimer?: NodeJS.Timeout;
}

/** Where the worker lives: dist/hash-worker.js next to a bundle, or the .ts source under tsx (tests). */
function workerSpec(): { file: string | URL; eval?: boolean } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from sources (tsx, i.e. tests). Node 20 does not apply `--import tsx` hooks to a worker's own entry
    // file, so the worker starts as a tiny script that registers tsx and then imports the TypeScript worker.
    const tsxDir = path.dirname(createRequire(here).resolve('tsx/package.json'));
    const api = pathToFileURL(path.join(tsxDir, 'dist/esm/api/index.mjs')).href;
    const entry = new URL('./hash-worker.ts', here).href;
    const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
    return { file: boot, eval: true };
  }
  // In a bundle import.meta.url is the bundle's own file (esbuild banner): dist/cli-main.js or dist/extension.js.
  return { file: path.join(path.dirname(fileURLToPath(here)), 'hash-worker.js') };
}

let nextId = 1;

export class HashPool {
  readonly size: number;
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private closed = false;

  private readonly rangeBytes: number;

  private readonly idleMs: number;

  /** `size`: worker count (default: the number of cores); `rangeBytes`: split size for big files and `idleMs`:
   *  idle time before a worker stops (both for tests). */
  constructor(options: { size?: number; rangeBytes?: number; idleMs?: number } = {}) {
    this.size = Math.max(1, options.size ?? os.availableParallelism());
    this.rangeBytes = options.rangeBytes ?? RANGE_BYTES;
    this.idleMs = options.idleMs ?? IDLE_MS;
  }

  /** Running workers (idle ones included). */
  get workers(): number {
    return this.slots.length;
  }

  /** Hashes one file. Rejects with the signal's reason when aborted, or an Error naming the file. */
  async hashFile(file: string, pieceLength: number, options: HashOptions = {}): Promise<FileHashes> {
    const [result] = await this.hashFiles([{ path: file }], pieceLength, options);
    return result;
  }

  /** Hashes several files concurrently (results in input order); progress totals cover all of them. */
  async hashFiles(files: FileInput[], pieceLength: number, options: HashOptions = {}): Promise<FileHashes[]> {
    if (this.closed) throw new Error('hash pool is closed');
    blocksPerPiece(pieceLength); // validates
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    const lengths = await Promise.all(
      files.map(async (f) => {
        if (f.length !== undefined) return f.length;
        try {
          return (await stat(f.path)).size;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const what =
            code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
          throw new Error(`cannot hash ${f.path}: ${what}`, { cause: err });
        }
      }),
    );
    signal?.throwIfAborted();
    const total = lengths.reduce((a, b) => a + b, 0);

    // Cut into tasks: big files into ranges, small ones batched.
    type Part = { file: number; task: RangeTask };
    const batches: Part[][] = [];
    let batch: Part[] = [];
    let batchBytes = 0;
    const piecesPerRange = Math.max(1, Math.floor(this.rangeBytes / pieceLength));
    files.forEach((f, i) => {
      const length = lengths[i];
      const pieces = Math.ceil(length / pieceLength);
      if (pieces === 0) return;
      for (let first = 0; first < pieces; first += piecesPerRange) {
        const endPiece = Math.min(pieces, first + piecesPerRange);
        const bytes = Math.min(length, endPiece * pieceLength) - first * pieceLength;
        const task: RangeTask = {
          path: f.path,
          fileLength: length,
          pieceLength,
          firstPiece: first,
          endPiece,
          leaves: !!options.leaves,
        };
        if (bytes >= BATCH_BYTES) {
          batches.push([{ file: i, task }]);
        } else {
          batch.push({ file: i, task });
          batchBytes += bytes;
          if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_FILES) {
            batches.push(batch);
            batch = [];
            batchBytes = 0;
          }
        }
      }
    });
    if (batch.length) batches.push(batch);

    const parts: RangeResult[][] = files.map(() => []);
    const firstPieces: number[][] = files.map(() => []);
    let done = 0;
    const call = this.newCall(signal);
    try {
      await Promise.all(
        batches.map(async (b) => {
          const id = nextId++;
          const reply = await this.run(call, { type: 'ranges', id, tasks: b.map((p) => p.task) }, (bytes) => {
            done += bytes;
            onProgress?.(done, total);
          });
          if (reply.type !== 'ranges') throw new Error('hash worker: unexpected reply');
          reply.results.forEach((r, k) => {
            parts[b[k].file].push(r);
            firstPieces[b[k].file].push(b[k].task.firstPiece);
          });
        }),
      );
      // Assemble per file, in piece order.
      const out: FileHashes[] = [];
      for (let i = 0; i < files.length; i++) {
        const order = firstPieces[i].map((p, k) => [p, k]).sort((x, y) => x[0] - y[0]);
        const ranges = order.map(([, k]) => parts[i][k]);
        const pieceLayer = concat(ranges.map((r) => r.nodes));
        const h: FileHashes = {
          length: lengths[i],
          pieceLength,
          pieces: concat(ranges.map((r) => r.sha1)),
          pieceLayer,
        };
        const last = ranges[ranges.length - 1];
        if (last?.lastUnpadded) h.lastPieceUnpadded = last.lastUnpadded;
        if (options.leaves) h.leaves = concat(ranges.map((r) => r.leaves ?? new Uint8Array(0)));
        if (pieceLayer.length) h.piecesRoot = await this.root(call, pieceLayer, pieceLength);
        out.push(h);
      }
      return out;
    } finally {
      call.aborted = true; // late replies of a failed call are dropped
      cleanup(call);
    }
  }

  /** verify.ts: SHA-1 of v1 pieces that may span files (see SpanTask), one task per worker job, in task order. */
  async hashSpans(tasks: SpanTask[], options: HashOptions = {}): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('hash pool is closed');
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    const total = tasks.reduce((sum, t) => sum + t.segments.reduce((s, g) => s + g.length, 0), 0);
    let done = 0;
    const call = this.newCall(signal);
    try {
      return await Promise.all(
        tasks.map(async (task) => {
          const reply = await this.run(call, { type: 'span', id: nextId++, task }, (bytes) => {
            done += bytes;
            onProgress?.(done, total);
          });
          if (reply.type !== 'span') throw new Error('hash worker: unexpected reply');
          return reply.sha1;
        }),
      );
    } finally {
      call.aborted = true;
      cleanup(call);
    }
  }

  /** Starts the workers ahead of use (idle ones do not keep the process alive): creation calls this before it
   *  walks the folder, so worker start-up overlaps the walk. */
  warm(): void {
    if (this.closed) return;
    while (this.slots.length < this.size) {
      const slot = this.spawn();
      slot.worker.unref();
      this.idle(slot);
    }
  }

  /** Stops the workers; pending calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('hash pool closed');
    for (const job of this.queue.splice(0)) job.call.fail(err);
    await Promise.all(
      this.slots.map(async (s) => {
        clearTimeout(s.idleTimer);
        s.job?.call.fail(err);
        await s.worker.terminate();
      }),
    );
    this.slots = [];
  }

  private async root(call: Call, layer: Uint8Array, pieceLength: number): Promise<Uint8Array> {
    if (layer.length / HASH_SIZE <= INLINE_ROOT_NODES) return rootFromPieceLayer(layer, pieceLength);
    const reply = await this.run(call, { type: 'root', id: nextId++, layer, pieceLength });
    if (reply.type !== 'root') throw new Error('hash worker: unexpected reply');
    return reply.root;
  }

  private newCall(signal?: AbortSignal): Call & { promise: Promise<never> } {
    let fail!: (err: Error) => void;
    const promise = new Promise<never>((_, reject) => (fail = reject));
    promise.catch(() => {});
    const call = {
      aborted: false,
      promise,
      fail: (err: Error) => {
        if (call.aborted) return;
        call.aborted = true;
        this.cancel(call);
        fail(err);
      },
      signal,
      onAbort: () => call.fail(signal!.reason instanceof Error ? signal!.reason : abortError()),
    };
    signal?.addEventListener('abort', call.onAbort, { once: true });
    callFailures.set(call, promise);
    return call;
  }

  /** Runs one request on a free worker; rejects when the call fails (abort, error elsewhere). */
  private run(call: Call, request: Job['request'], onProgress?: (bytes: number) => void): Promise<WorkerReply> {
    const failed = callFailures.get(call)!;
    const reply = new Promise<WorkerReply>((resolve, reject) => {
      const job: Job = {
        call,
        request,
        resolve: (r) => {
          if (r.type === 'progress') return onProgress?.(r.bytes);
          if (r.type === 'error') {
            // The worker names the file that failed (r.path); a piece-layer job has none.
            const what = r.path ?? (request.type === 'span' ? 'files' : 'a piece layer');
            const err = Object.assign(new Error(`cannot hash ${what}: ${r.message}`), { code: r.code });
            call.fail(err);
            return reject(err);
          }
          resolve(r);
        },
      };
      this.queue.push(job);
      this.pump();
    });
    return Promise.race([reply, failed]);
  }

  private cancel(call: Call): void {
    this.queue = this.queue.filter((j) => j.call !== call);
    for (const s of this.slots) {
      if (s.job?.call === call) s.worker.postMessage({ type: 'cancel', id: s.job.request.id } satisfies WorkerRequest);
    }
  }

  private pump(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      clearTimeout(slot.idleTimer);
      slot.worker.ref();
      slot.worker.postMessage(job.request);
    }
  }

  private idle(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      if (slot.job) return;
      this.slots = this.slots.filter((s) => s !== slot);
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idleTimer.unref();
  }

  private spawn(): Slot {
    const spec = workerSpec();
    const worker = new Worker(spec.file, { eval: !!spec.eval, execArgv: [] });
    const slot: Slot = { worker };
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (!job || reply.id !== job.request.id) return;
      if (reply.type !== 'progress') {
        slot.job = undefined;
        worker.unref();
      }
      if (!job.call.aborted) job.resolve(reply);
      if (reply.type !== 'progress') {
        this.pump();
        if (!slot.job) this.idle(slot);
      }
    });
    worker.on('error', (err) => {
      // A crashed worker: fail its call, drop it, and let the next job start a fresh one.
      slot.job?.call.fail(new Error(`hash worker failed: ${err.message}`));
      slot.job = undefined;
      this.slots = this.slots.filter((s) => s !== slot);
      this.pump();
    });
    worker.on('exit', () => {
      this.slots = this.slots.filter((s) => s !== slot);
    });
    this.slots.push(slot);
    return slot;
  }
}

const callFailures = new WeakMap<Call, Promise<never>>();

function cleanup(call: Call): void {
  const c = call as Call & { signal?: AbortSignal; onAbort?: () => void };
  if (c.signal && c.onAbort) c.signal.removeEventListener('abort', c.onAbort);
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts);
}

let shared: HashPool | undefined;
/** The process-wide pool (one worker per core, started on first use; idle workers do not keep the process alive). */
export function getHashPool(): HashPool {
  if (!shared) shared = new HashPool();
  return shared;
}
