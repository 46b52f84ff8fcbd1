// SHA-1 of downloaded pieces on a worker thread, fed as the piece arrives, so the main thread keeps reading sockets
// and a piece is verified a moment after its last block (incoming-piece.ts). A piece's hash is a running state in
// the worker, keyed by a number: `update` gives it the next stretch of the piece in order, `digest` ends it. The
// stretches are windows over SharedArrayBuffers: the worker reads them in place, so nothing is copied, transferred
// or allocated per window. (Transferring an ArrayBuffer to the worker and back counts as a fresh external
// allocation each time it lands; that churn drove V8 into a full mark-compact about every 100 ms at loopback
// speed.) The worker is a few lines of plain JS run with `eval` (no extra bundle entry); if workers or shared
// memory are unavailable, hashing runs on the main thread.
import crypto, { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const LEAF = 16384;
// One-shot SHA-256 (crypto.hash: Node >= 20.12, no Hash object per leaf), else a Hash object per leaf.
const sha256 = typeof crypto.hash === 'function'
  ? (b) => crypto.hash('sha256', b, 'buffer')
  : (b) => crypto.createHash('sha256').update(b).digest();
// key -> { h: the SHA-1 state, v2: bytes of the piece that are v2 file data (0: none), at: bytes seen, leaves }
const open = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'u') {
    let s = open.get(m.key);
    if (!s) {
      const v2 = m.v2 || 0;
      open.set(m.key, (s = { h: crypto.createHash('sha1'), v2, at: 0, leaves: v2 ? Buffer.alloc(Math.ceil(v2 / LEAF) * 32) : undefined }));
    }
    const bytes = new Uint8Array(m.buf, m.off, m.len);
    // BEP 52 leaves of the same bytes (windows start on 16 KiB boundaries, the piece's v2 data ends at s.v2), each
    // leaf fed to the SHA-1 and then to its SHA-256 while it is in the cache: one read of the window from memory.
    let o = 0;
    for (; o < m.len && s.at + o < s.v2; o += LEAF) {
      const leaf = bytes.subarray(o, Math.min(o + LEAF, s.v2 - s.at, m.len));
      s.h.update(leaf);
      s.leaves.set(sha256(leaf), ((s.at + o) / LEAF) * 32);
      o = o + leaf.length - LEAF;
    }
    if (o < m.len) s.h.update(o === 0 ? bytes : bytes.subarray(o));
    s.at += m.len;
    parentPort.postMessage({ id: m.id });
  } else if (m.op === 'd') {
    const s = open.get(m.key);
    open.delete(m.key);
    const digest = (s ? s.h : crypto.createHash('sha1')).digest('hex');
    parentPort.postMessage({ id: m.id, digest, leaves: s && s.v2 && s.at >= s.v2 ? s.leaves : undefined });
  } else if (m.op === 'x') open.delete(m.key);
});
`;

const HAS_SHARED = typeof SharedArrayBuffer === 'function';

/** What a piece's hash state ends with: its hex SHA-1 and, when v2 leaves were asked for (`open(v2Bytes)`), the
 *  SHA-256 of each 16 KiB leaf of its v2 data, concatenated (the caller reduces them: src/torrent/merkle.ts). */
export interface PieceDigest {
  digest: string;
  leaves?: Uint8Array;
}

type Answer = (r: PieceDigest) => void;

const LEAF = 16384;

/** One-shot SHA-256 of a leaf (the worker picks the same way). */
const sha256: (b: Uint8Array) => Uint8Array =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (b) => (crypto as unknown as { hash(a: string, d: Uint8Array, e: 'buffer'): Buffer }).hash('sha256', b, 'buffer')
    : (b) => createHash('sha256').update(b).digest();

/** A running state on this thread (no worker): the same work as the worker's. */
class LocalState {
  readonly h = createHash('sha1');
  private at = 0;
  private readonly leaves?: Buffer;
  constructor(private readonly v2: number) {
    if (v2) this.leaves = Buffer.alloc(Math.ceil(v2 / LEAF) * 32);
  }
  update(bytes: Uint8Array): void {
    let o = 0;
    for (; o < bytes.length && this.at + o < this.v2; o += LEAF) {
      const leaf = bytes.subarray(o, Math.min(o + LEAF, this.v2 - this.at, bytes.length));
      this.h.update(leaf);
      this.leaves!.set(sha256(leaf), ((this.at + o) / LEAF) * 32);
      o = o + leaf.length - LEAF;
    }
    if (o < bytes.length) this.h.update(o === 0 ? bytes : bytes.subarray(o));
    this.at += bytes.length;
  }
  end(): PieceDigest {
    // Leaves only when every v2 byte was seen (else some are missing: the piece is checked again at the end).
    return { digest: this.h.digest('hex'), leaves: this.at >= this.v2 ? this.leaves : undefined };
  }
}

/** Running SHA-1 states of pieces being received, in a worker when it can. */
export class StreamHasher {
  private worker?: Worker;
  private failed = false;
  private nextId = 0;
  private nextKey = 0;
  private readonly pending = new Map<number, Answer>();
  /** States kept on this thread (no worker, or a buffer that is not shared). */
  private readonly local = new Map<number, LocalState>();
  /** Keys whose state lives in the worker. */
  private readonly remote = new Set<number>();
  /** Per key: how many of the piece's first bytes are v2 file data whose leaves are hashed too (see open). */
  private readonly v2 = new Map<number, number>();

  private start(): Worker | undefined {
    if (this.worker || this.failed) return this.worker;
    try {
      // No execArgv: the worker runs plain JS and needs none of the parent's loaders.
      const w = new Worker(WORKER_CODE, { eval: true, execArgv: [] });
      w.on('message', (m: { id: number; digest?: string; leaves?: Uint8Array }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) w.unref();
        p({ digest: m.digest ?? '', leaves: m.leaves });
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
    for (const p of left) p({ digest: '' });
  }

  private ask(w: Worker, answer: Answer, message: object): void {
    const id = this.nextId++;
    if (this.pending.size === 0) w.ref();
    this.pending.set(id, answer);
    w.postMessage({ ...message, id });
  }

  /** A new running state; its key is for update, digest and drop. `v2Bytes`: also hash the BEP 52 leaves (16 KiB
   *  each, the last one short) of the piece's first `v2Bytes` bytes (its file data; pad bytes after it are v1 only).
   *  Every update but the last must then be a multiple of 16 KiB long. */
  open(v2Bytes = 0): number {
    const key = this.nextKey++;
    if (v2Bytes > 0) this.v2.set(key, v2Bytes);
    return key;
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
      if (!h) this.local.set(key, (h = new LocalState(this.v2.get(key) ?? 0)));
      h.update(buf);
      return Promise.resolve();
    }
    this.remote.add(key);
    const v2 = this.v2.get(key) ?? 0;
    return new Promise((resolve) =>
      this.ask(w, () => resolve(), { op: 'u', key, v2, buf: buf.buffer, off: buf.byteOffset, len: buf.length }),
    );
  }

  /** Hex SHA-1 of everything given to `key` (an empty string if the worker holding it died), with its v2 leaves if
   *  asked for; forgets the key. */
  digest(key: number): Promise<PieceDigest> {
    const h = this.local.get(key);
    const v2 = this.v2.get(key) ?? 0;
    this.v2.delete(key);
    if (h || !this.remote.has(key)) {
      this.local.delete(key);
      return Promise.resolve((h ?? new LocalState(v2)).end());
    }
    this.remote.delete(key);
    const w = this.worker;
    if (!w) return Promise.resolve({ digest: '' });
    return new Promise((resolve) => this.ask(w, resolve, { op: 'd', key }));
  }

  /** Forgets `key` (its piece was abandoned). */
  drop(key: number): void {
    this.local.delete(key);
    this.v2.delete(key);
    if (this.remote.delete(key)) this.worker?.postMessage({ op: 'x', key });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    if (w) await w.terminate();
  }
}

/** Bytes of free windows kept for reuse, process-wide (64 windows of 1 MiB): as many as a fast download has in
 *  flight when the disk or the hash worker lags (~40 of 1 MiB measured), so windows are reused instead of allocated
 *  again; let go once idle. */
const MAX_FREE_BYTES = 64 * 1024 * 1024;

/** Reusable window buffers over shared memory (see the top of this file): a fresh large buffer per window would be
 *  an external allocation each time, and that churn is what drives the garbage collector. Buffers are exactly as
 *  long as asked (a torrent's windows all have one length but for its last piece's): every window used to take a
 *  whole `size` buffer, so a torrent of 64 KiB pieces allocated 1 MiB per piece, ~850 of them in flight at once and
 *  ~1,600 allocations for 64 MiB. */
export class WindowPool {
  private readonly free = new Map<number, Uint8Array[]>();
  private freeBytes = 0;

  constructor(readonly size: number) {}

  /** Buffers allocated in all (for tests and stats). */
  allocated = 0;

  take(len: number): Uint8Array {
    const b = this.free.get(len)?.pop();
    if (b) {
      this.freeBytes -= b.length;
      return b;
    }
    this.allocated++;
    return new Uint8Array(HAS_SHARED ? new SharedArrayBuffer(len) : new ArrayBuffer(len));
  }

  release(buf: Uint8Array): void {
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength || buf.length > this.size) return;
    if (this.freeBytes + buf.length > MAX_FREE_BYTES) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.freeBytes += buf.length;
  }

  /** Lets the free windows go (nothing is being received). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Windows kept free now (for tests). */
  get freeCount(): number {
    let n = 0;
    for (const list of this.free.values()) n += list.length;
    return n;
  }
}
