// SHA-1 of downloaded pieces on a worker thread, so the main thread keeps reading sockets while a piece is hashed
// (about a fifth of a downloader's CPU at loopback speed). The piece's buffer is transferred to the worker and back,
// never copied. The worker is a few lines of plain JS run with `eval` (no extra bundle entry); if workers are
// unavailable, hashing falls back to the main thread.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const digest = createHash('sha1').update(new Uint8Array(m.buf, 0, m.len)).digest('hex');
  parentPort.postMessage({ id: m.id, buf: m.buf, digest }, [m.buf]);
});
`;

/** `digest` is null when the piece was lost with a dead worker: fetch it again, blame nobody. */
export interface Hashed {
  buf: Uint8Array;
  digest: string | null;
}

interface Pending {
  resolve: (r: Hashed) => void;
  len: number;
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
      w.on('message', (m: { id: number; buf: ArrayBuffer; digest: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve({ buf: new Uint8Array(m.buf, 0, p.len), digest: m.digest });
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

  /** Hashes anything still queued on this thread once the worker is gone (their buffers were not transferred). */
  private fallback(): void {
    this.failed = true;
    this.worker = undefined;
    // Buffers handed to a dead worker are lost: those pieces are fetched again.
    for (const p of this.pending.values()) p.resolve({ buf: new Uint8Array(p.len), digest: null });
    this.pending.clear();
  }

  /**
   * Hex SHA-1 of `buf`, which must own its whole ArrayBuffer from offset 0 (it is transferred away meanwhile):
   * use the returned `buf` afterwards.
   */
  hash(buf: Uint8Array): Promise<Hashed> {
    const w = buf.byteOffset === 0 ? this.start() : undefined;
    if (!w) return Promise.resolve({ buf, digest: createHash('sha1').update(buf).digest('hex') });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, len: buf.length });
      w.postMessage({ id, buf: buf.buffer, len: buf.length }, [buf.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

/** Reusable piece buffers (each owning its ArrayBuffer): a download allocates one piece-sized buffer per piece
 *  otherwise, and that churn of large external allocations is what drives the garbage collector. */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    readonly size: number,
    private readonly max = 32,
  ) {}

  take(len: number): Uint8Array {
    if (len === this.size) {
      const ab = this.free.pop();
      if (ab) return new Uint8Array(ab);
    }
    return new Uint8Array(new ArrayBuffer(len));
  }

  release(buf: Uint8Array): void {
    if (buf.byteOffset === 0 && buf.buffer.byteLength === this.size && this.free.length < this.max) {
      this.free.push(buf.buffer as ArrayBuffer);
    }
  }
}
