// SHA-1 of downloaded pieces on a worker thread, so the main thread keeps reading sockets while a piece is hashed
// (about a fifth of a downloader's CPU at loopback speed). Piece buffers are SharedArrayBuffers from a pool: the
// worker reads them in place, so nothing is copied, transferred or allocated per piece. (Transferring an ArrayBuffer
// to the worker and back counts as a fresh external allocation each time it lands; two per piece drove V8 into a
// full mark-compact about every 100 ms at loopback speed.) The worker is a few lines of plain JS run with `eval` (no
// extra bundle entry); if workers or shared memory are unavailable, hashing falls back to the main thread.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const digest = createHash('sha1').update(new Uint8Array(m.buf, m.off, m.len)).digest('hex');
  parentPort.postMessage({ id: m.id, digest });
});
`;

const HAS_SHARED = typeof SharedArrayBuffer === 'function';

interface Pending {
  resolve: (digest: string) => void;
  buf: Uint8Array;
}

function sha1(buf: Uint8Array): string {
  return createHash('sha1').update(buf).digest('hex');
}

export class PieceHasher {
  private worker?: Worker;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  private start(): Worker | undefined {
    if (this.worker || this.failed) return this.worker;
    try {
      // No execArgv: the worker runs plain JS and needs none of the parent's loaders.
      const w = new Worker(WORKER_CODE, { eval: true, execArgv: [] });
      w.on('message', (m: { id: number; digest: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve(m.digest);
      });
      w.on('error', () => this.fallback());
      w.on('exit', () => this.fallback());
      // After the listeners: adding a 'message' listener refs the worker's port again.
      w.unref();
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  /** The worker is gone: hash what it still had on this thread (the buffers never left). */
  private fallback(): void {
    this.failed = true;
    this.worker = undefined;
    const left = [...this.pending.values()];
    this.pending.clear();
    for (const p of left) p.resolve(sha1(p.buf));
  }

  /** Hex SHA-1 of `buf`. `buf` must not change until the promise settles (the worker reads it in place). */
  hash(buf: Uint8Array): Promise<string> {
    const shared = HAS_SHARED && buf.buffer instanceof SharedArrayBuffer;
    const w = shared ? this.start() : undefined;
    if (!w) return Promise.resolve(sha1(buf));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, buf });
      w.postMessage({ id, buf: buf.buffer, off: buf.byteOffset, len: buf.length });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

/** Bytes of free piece buffers a pool keeps for reuse (at least MIN_FREE buffers, whatever the piece size). */
const POOL_FREE_BYTES = 64 * 1024 * 1024;
const MIN_FREE = 4;

/** Reusable piece buffers over shared memory (see the top of this file): a download would otherwise allocate one
 *  piece-sized buffer per piece, and that churn of large external allocations is what drives the garbage collector. */
export class BufferPool {
  private readonly free: Uint8Array[] = [];
  private readonly max: number;

  constructor(readonly size: number) {
    this.max = Math.max(MIN_FREE, Math.floor(POOL_FREE_BYTES / size));
  }

  take(len: number): Uint8Array {
    if (len === this.size) {
      const b = this.free.pop();
      if (b) return b;
    }
    return new Uint8Array(HAS_SHARED ? new SharedArrayBuffer(len) : new ArrayBuffer(len));
  }

  release(buf: Uint8Array): void {
    if (buf.byteOffset === 0 && buf.length === this.size && this.free.length < this.max) this.free.push(buf);
  }

  /** Lets the free buffers go (the download is complete or closed). */
  clear(): void {
    this.free.length = 0;
  }
}
