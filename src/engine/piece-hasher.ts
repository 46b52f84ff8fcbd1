// SHA-1 of downloaded pieces on a worker thread, fed as the piece arrives, so the main thread keeps reading sockets
// and a piece is verified a moment after its last block (incoming-piece.ts). A piece's hash is a running state in
// the worker, keyed by a number: `update` gives it the next stretch of the piece in order, `digest` ends it. The
// stretches are windows over SharedArrayBuffers: the worker reads them in place, so nothing is copied, transferred
// or allocated per window. (Transferring an ArrayBuffer to the worker and back counts as a fresh external
// allocation each time it lands; that churn drove V8 into a full mark-compact about every 100 ms at loopback
// speed.) The worker is a few lines of plain JS run with `eval` (no extra bundle entry); if workers or shared
// memory are unavailable, hashing runs on the main thread.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const open = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'u') {
    let h = open.get(m.key);
    if (!h) open.set(m.key, (h = createHash('sha1')));
    h.update(new Uint8Array(m.buf, m.off, m.len));
    parentPort.postMessage({ id: m.id });
  } else if (m.op === 'd') {
    const h = open.get(m.key) || createHash('sha1');
    open.delete(m.key);
    parentPort.postMessage({ id: m.id, digest: h.digest('hex') });
  } else if (m.op === 'x') open.delete(m.key);
});
`;

const HAS_SHARED = typeof SharedArrayBuffer === 'function';

type Answer = (digest: string) => void;

/** Running SHA-1 states of pieces being received, in a worker when it can. */
export class StreamHasher {
  private worker?: Worker;
  private failed = false;
  private nextId = 0;
  private nextKey = 0;
  private readonly pending = new Map<number, Answer>();
  /** States kept on this thread (no worker, or a buffer that is not shared). */
  private readonly local = new Map<number, Hash>();
  /** Keys whose state lives in the worker. */
  private readonly remote = new Set<number>();

  private start(): Worker | undefined {
    if (this.worker || this.failed) return this.worker;
    try {
      // No execArgv: the worker runs plain JS and needs none of the parent's loaders.
      const w = new Worker(WORKER_CODE, { eval: true, execArgv: [] });
      w.on('message', (m: { id: number; digest?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) w.unref();
        p(m.digest ?? '');
      });
      w.on('error', () => this.fallback());
      w.on('exit', () => this.fallback());
      // After the listeners: adding a 'message' listener refs the worker's port again. While answers are awaited the
      // worker is ref'd (see ask), so the process does not exit under a pending hash.
      w.unref();
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  /** The worker is gone with the states it held: those pieces end with an empty digest (they fail and are fetched
   *  again); updates still waiting are answered so their windows are freed. */
  private fallback(): void {
    this.failed = true;
    this.worker = undefined;
    const left = [...this.pending.values()];
    this.pending.clear();
    for (const p of left) p('');
  }

  private ask(w: Worker, answer: Answer, message: object): void {
    const id = this.nextId++;
    if (this.pending.size === 0) w.ref();
    this.pending.set(id, answer);
    w.postMessage({ ...message, id });
  }

  /** A new running state; its key is for update, digest and drop. */
  open(): number {
    return this.nextKey++;
  }

  /** Adds the next bytes of the piece `key`. `buf` must not change until the promise settles (the worker reads it
   *  in place); updates of one key are applied in call order. */
  update(key: number, buf: Uint8Array): Promise<void> {
    const w = HAS_SHARED && buf.buffer instanceof SharedArrayBuffer && !this.local.has(key) ? this.start() : undefined;
    if (!w) {
      if (this.remote.has(key)) {
        // Its state is in a worker that died: the digest is lost anyway (see fallback).
        return Promise.resolve();
      }
      let h = this.local.get(key);
      if (!h) this.local.set(key, (h = createHash('sha1')));
      h.update(buf);
      return Promise.resolve();
    }
    this.remote.add(key);
    return new Promise((resolve) =>
      this.ask(w, () => resolve(), { op: 'u', key, buf: buf.buffer, off: buf.byteOffset, len: buf.length }),
    );
  }

  /** Hex SHA-1 of everything given to `key` (an empty string if the worker holding it died); forgets the key. */
  digest(key: number): Promise<string> {
    const h = this.local.get(key);
    if (h || !this.remote.has(key)) {
      this.local.delete(key);
      return Promise.resolve((h ?? createHash('sha1')).digest('hex'));
    }
    this.remote.delete(key);
    const w = this.worker;
    if (!w) return Promise.resolve('');
    return new Promise((resolve) => this.ask(w, resolve, { op: 'd', key }));
  }

  /** Forgets `key` (its piece was abandoned). */
  drop(key: number): void {
    this.local.delete(key);
    if (this.remote.delete(key)) this.worker?.postMessage({ op: 'x', key });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

/** Free windows kept for reuse, process-wide: as many as a fast download has in flight when the disk or the hash
 *  worker lags (~40 of 1 MiB measured), so windows are reused instead of allocated again; let go once idle. */
const MAX_FREE_WINDOWS = 64;

/** Reusable window buffers over shared memory (see the top of this file): a fresh large buffer per window would be
 *  an external allocation each time, and that churn is what drives the garbage collector. */
export class WindowPool {
  private readonly free: Uint8Array[] = [];

  constructor(readonly size: number) {}

  /** Buffers allocated in all (for tests and stats). */
  allocated = 0;

  take(len: number): Uint8Array {
    const b = len <= this.size ? this.free.pop() : undefined;
    if (b) return b;
    this.allocated++;
    const bytes = Math.max(len, this.size);
    return new Uint8Array(HAS_SHARED ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  }

  release(buf: Uint8Array): void {
    if (buf.byteOffset === 0 && buf.length === this.size && this.free.length < MAX_FREE_WINDOWS) this.free.push(buf);
  }

  /** Lets the free windows go (nothing is being received). */
  clear(): void {
    this.free.length = 0;
  }

  /** Windows kept free now (for tests). */
  get freeCount(): number {
    return this.free.length;
  }
}
