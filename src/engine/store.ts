// A WebTorrent chunk store (abstract-chunk-store) that maps pieces straight onto the user's files.
// Seeding reads the real files in place and never writes; BEP 47 pad files exist only as zeros in memory,
// so no `.pad/` folder, temp or resume file is ever created next to the user's data. Downloads write only
// real files, at paths sanitised again here (safeJoin) right before they touch the disk.
// Files are opened as needed from a bounded pool shared by the process (file-pool.ts), never one descriptor per file
// for the store's lifetime; a download's files are opened without following links out of its destination.
import { sharedFilePool, type FilePool } from './file-pool.js';
import { dropServed, serveBlockNow } from './serve-cache.js';

/** One stretch of the v1 piece stream: a real file, or a pad file (zeros, never on disk). */
export interface StoreSegment {
  /** Byte offset in the piece stream. */
  offset: number;
  length: number;
  /** Absolute, already sanitised path of the real file; undefined for pad files. */
  path?: string;
}

export interface StoreLayout {
  pieceLength: number;
  /** Total bytes in the piece stream (pad files included). */
  length: number;
  /** Sorted by offset, covering [0, length) without gaps. */
  segments: StoreSegment[];
  /** The destination folder of a download: no file is opened through a link that leaves it. */
  root?: string;
}

const SERVE_IDLE_MS = 10_000;
/**
 * Largest single write. Linux (6.x, ext4 and others with large folios) sizes the page-cache folios a write allocates
 * from the write's length: 1 MiB writes of a download cost 5.1-5.3 s of kernel CPU per 2 GiB on our VMs, 64 KiB
 * writes 0.6 s (the same bytes; libtorrent writes 16 KiB blocks). Measured with plain fs writes (docs/transfer-path.md).
 */
const WRITE_CHUNK = 64 * 1024;

type Cb<T = void> = (err: Error | null, value?: T) => void;

export class PieceStore {
  readonly chunkLength: number;
  readonly writable: boolean;
  private readonly layout: StoreLayout;
  private readonly pool: FilePool;
  private closed = false;
  /** Bytes written through this store (for stats and tests). */
  bytesWritten = 0;
  /** Called before the first write; may reject (disk-space preflight). */
  private readonly beforeWrite?: () => Promise<void>;
  private writeGate?: Promise<void>;

  /** Paces block reads served to peers (per-transfer upload limit); piece checks are not paced. Undefined: go now. */
  private readonly servePace?: (bytes: number) => Promise<void> | undefined;

  constructor(
    layout: StoreLayout,
    opts: {
      writable: boolean;
      beforeWrite?: () => Promise<void>;
      servePace?: (bytes: number) => Promise<void> | undefined;
      pool?: FilePool;
    },
  ) {
    this.layout = layout;
    this.pool = opts.pool ?? sharedFilePool();
    this.chunkLength = layout.pieceLength;
    this.writable = opts.writable;
    this.beforeWrite = opts.beforeWrite;
    this.servePace = opts.servePace;
  }

  get layoutLength(): number {
    return this.layout.length;
  }

  private pieceSize(index: number): number {
    const start = index * this.chunkLength;
    return Math.max(0, Math.min(this.chunkLength, this.layout.length - start));
  }

  /** Segments overlapping [start, end), found by binary search (models have few large files, many pads). */
  private *overlapping(start: number, end: number): Generator<StoreSegment> {
    const segs = this.layout.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid].offset <= start) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i < segs.length && segs[i].offset < end; i++) {
      const s = segs[i];
      if (s.offset + s.length > start && s.length > 0) yield s;
    }
  }

  get(index: number, opts: { offset?: number; length?: number } | null | Cb<Buffer>, cb?: Cb<Buffer>): void {
    if (typeof opts === 'function') return this.get(index, null, opts);
    const done = cb ?? (() => {});
    const size = this.pieceSize(index);
    const offset = opts?.offset ?? 0;
    const length = opts?.length ?? size - offset;
    if (this.closed) return queueMicrotask(() => done(new Error('store closed')));
    if (offset < 0 || length < 0 || offset + length > size) {
      return queueMicrotask(() => done(new Error(`read out of range: piece ${index} [${offset}, +${length})`)));
    }
    // WebTorrent asks with an explicit offset only when serving a block to a peer: those come from the process-wide
    // serving cache (serve-cache.ts: bounded, shared by all transfers) and are paced by the upload limit.
    if (opts?.offset !== undefined) {
      const pieceStart = index * this.chunkLength;
      const serve = () => {
        this.armIdle();
        return serveBlockNow(this, this.reader, pieceStart, size, pieceStart + offset, length);
      };
      const pace = this.servePace?.(length);
      const block = pace ? pace.then(serve) : serve();
      // Answered on a later microtask even when the block is at hand: the wire's request loop must not re-enter.
      if (!(block instanceof Promise)) return queueMicrotask(() => done(null, block));
      block.then(
        (b) => done(null, b),
        (err: Error) => done(err),
      );
      return;
    }
    this.read(index * this.chunkLength + offset, length).then(
      (buf) => done(null, buf),
      (err: Error) => done(err),
    );
  }

  private readonly reader = (s: number, n: number, into?: Buffer | Buffer[]) =>
    Array.isArray(into) ? this.readInto(s, n, into) : this.read(s, n, into);
  private lastServe = 0;
  private idleTimer?: NodeJS.Timeout;

  /** Drops this store's share of the serving cache once no peer has asked for a block for a while. */
  private armIdle(): void {
    this.lastServe = Date.now();
    if (this.idleTimer) return;
    const check = () => {
      this.idleTimer = undefined;
      if (Date.now() - this.lastServe >= SERVE_IDLE_MS) dropServed(this);
      else {
        this.idleTimer = setTimeout(check, SERVE_IDLE_MS);
        this.idleTimer.unref?.();
      }
    };
    this.idleTimer = setTimeout(check, SERVE_IDLE_MS);
    this.idleTimer.unref?.();
  }

  /**
   * [start, end) of the piece stream as the stretches of files it covers, each with its position in its file; pads
   * as stretches without a path (zeros). The shape of a hash worker's SpanTask segments (hash-worker.ts): resume.ts
   * hashes pieces there, off this thread, over the same layout this store reads.
   */
  segments(start: number, end: number): { path?: string; position: number; length: number }[] {
    const out: { path?: string; position: number; length: number }[] = [];
    for (const seg of this.overlapping(start, Math.min(end, this.layout.length))) {
      const from = Math.max(start, seg.offset);
      const to = Math.min(end, seg.offset + seg.length);
      out.push(
        seg.path
          ? { path: seg.path, position: from - seg.offset, length: to - from }
          : { position: 0, length: to - from },
      );
    }
    return out;
  }

  /**
   * Resolves when `path` (one of this store's files) opens for reading the way this store opens it: rejects when it
   * is missing or unreadable and, for a download, when it is reached through a link (file-pool.ts). A reader that
   * opens the file by itself (a hash worker) asks this first, so it reads only what the store itself would.
   */
  async checkReadable(path: string): Promise<void> {
    await this.pool.use(this, { path, mode: 'read', root: this.layout.root }, async () => {});
  }

  /** Reads [start, start+length) of the piece stream into one buffer (`into`, else a fresh one): zeros for pads,
   *  no concatenation. */
  async read(start: number, length: number, into?: Buffer): Promise<Buffer> {
    const out = into && into.length === length ? into : Buffer.allocUnsafe(length);
    const end = start + length;
    const jobs: Promise<void>[] = [];
    for (const seg of this.overlapping(start, end)) {
      const from = Math.max(start, seg.offset);
      const to = Math.min(end, seg.offset + seg.length);
      const at = from - start;
      if (!seg.path) {
        out.fill(0, at, at + (to - from));
        continue;
      }
      const path = seg.path;
      jobs.push(
        this.pool.use(this, { path, mode: 'read', root: this.layout.root }, async (fh) => {
          let got = 0;
          while (got < to - from) {
            const { bytesRead } = await fh.read(out, at + got, to - from - got, from - seg.offset + got);
            if (bytesRead === 0) throw new Error(`unexpected end of file: ${path}`);
            got += bytesRead;
          }
        }),
      );
    }
    await Promise.all(jobs);
    return out;
  }

  /**
   * Reads [start, start+length) of the piece stream into `parts`, consecutive buffers that cover it exactly (a serving
   * window's frames, serve-cache.ts): one vectored read (preadv) per file it spans, zeros for pads, no copy.
   */
  async readInto(start: number, length: number, parts: Buffer[]): Promise<Buffer[]> {
    let total = 0;
    for (const p of parts) total += p.length;
    if (total !== length) throw new Error(`readInto: parts cover ${total} bytes, not ${length}`);
    /** The stretches of `parts` under [from, to) of the stream. */
    const under = (from: number, to: number): Buffer[] => {
      const views: Buffer[] = [];
      let at = start;
      for (const p of parts) {
        const end = at + p.length;
        // A part wholly inside is passed as it is (no view object per 16 KiB for the common case).
        if (at >= from && end <= to) views.push(p);
        else if (end > from && at < to) views.push(p.subarray(Math.max(from, at) - at, Math.min(to, end) - at));
        if (end >= to) break;
        at = end;
      }
      return views;
    };
    const end = start + length;
    const jobs: Promise<void>[] = [];
    for (const seg of this.overlapping(start, end)) {
      const from = Math.max(start, seg.offset);
      const to = Math.min(end, seg.offset + seg.length);
      if (!seg.path) {
        for (const v of under(from, to)) v.fill(0);
        continue;
      }
      const path = seg.path;
      jobs.push(
        this.pool.use(this, { path, mode: 'read', root: this.layout.root }, async (fh) => {
          let views = under(from, to);
          let pos = from - seg.offset;
          let left = to - from;
          while (left > 0) {
            const { bytesRead } = await fh.readv(views, pos);
            if (bytesRead === 0) throw new Error(`unexpected end of file: ${path}`);
            left -= bytesRead;
            pos += bytesRead;
            if (left > 0) views = skipBytes(views, bytesRead);
          }
        }),
      );
    }
    await Promise.all(jobs);
    return parts;
  }

  put(index: number, buf: Uint8Array, cb?: Cb): void {
    const done = cb ?? (() => {});
    if (this.closed) return queueMicrotask(() => done(new Error('store closed')));
    if (!this.writable) return queueMicrotask(() => done(new Error('refusing to write into a seeded folder')));
    if (buf.length !== this.pieceSize(index)) {
      return queueMicrotask(() => done(new Error(`piece ${index} has the wrong length`)));
    }
    this.write(index * this.chunkLength, buf).then(
      () => done(null),
      (err: Error) => done(err),
    );
  }

  /** Writes any stretch of the piece stream (a download's blocks as they arrive, incoming-piece.ts); pad bytes are
   *  skipped. Unverified bytes may land on disk this way: the resume check hashes such pieces again. */
  writeAt(start: number, buf: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    if (!this.writable) return Promise.reject(new Error('refusing to write into a seeded folder'));
    if (start < 0 || start + buf.length > this.layout.length) {
      return Promise.reject(new Error(`write out of range: [${start}, +${buf.length})`));
    }
    return this.write(start, buf);
  }

  private async write(start: number, buf: Uint8Array): Promise<void> {
    if (this.beforeWrite) {
      this.writeGate ??= this.beforeWrite();
      await this.writeGate;
    }
    const end = start + buf.length;
    const jobs: Promise<void>[] = [];
    for (const seg of this.overlapping(start, end)) {
      if (!seg.path) continue; // pad bytes: verified by the piece hash, never stored
      const from = Math.max(start, seg.offset);
      const to = Math.min(end, seg.offset + seg.length);
      const path = seg.path;
      jobs.push(
        this.pool.use(this, { path, mode: 'write', root: this.layout.root }, async (fh) => {
          let put = 0;
          while (put < to - from) {
            const n = Math.min(WRITE_CHUNK, to - from - put);
            const { bytesWritten } = await fh.write(buf, from - start + put, n, from - seg.offset + put);
            put += bytesWritten;
          }
          this.bytesWritten += put;
        }),
      );
    }
    await Promise.all(jobs);
  }

  close(cb?: Cb): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    dropServed(this);
    this.pool.closeOwner(this).then(() => cb?.(null));
  }

  /** WebTorrent calls destroy only when asked to delete data; removal of partial files is the engine's job. */
  destroy(cb?: Cb): void {
    this.close(cb);
  }
}

/** `views` without their first `n` bytes (after a short vectored read). */
function skipBytes(views: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < views.length && n >= views[i].length) n -= views[i++].length;
  const rest = views.slice(i);
  if (n > 0 && rest.length) rest[0] = rest[0].subarray(n);
  return rest;
}
