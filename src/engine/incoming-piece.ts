// A piece being received, written and hashed as it arrives instead of once it is whole. Its blocks are copied into
// aligned windows of WINDOW_BYTES (pooled shared memory); as soon as a window is complete it is written to disk at its
// offset (one write per window, not per block) and, in piece order, fed to the piece's running SHA-1 (piece-hasher.ts,
// on a worker). So the disk writes and the hashing overlap with receiving, a piece is verified a moment after its last
// block, and memory holds only the windows being filled, written or hashed — not whole pieces (16 MiB each at 16 MiB
// pieces). For a v2 (hybrid) torrent the same pass also hashes the piece's BEP 52 leaves (request.ts checks them against
// the piece layer). Bytes are on disk before their piece is verified: a piece that fails its hash is simply fetched again and
// written over, and resume (resume.ts) hashes again any piece written after the last save.
import { StreamHasher, WindowPool, type PieceDigest } from './piece-hasher.js';

/** Bytes per window: large enough that writes are few and large, small enough that little is held per piece. */
export const WINDOW_BYTES = 1 << 20;

/** Writes `data` at `start` of the piece stream (pad bytes are skipped by the store). */
export type StreamWriter = (start: number, data: Uint8Array) => Promise<void>;

interface Window {
  buf: Uint8Array;
  len: number;
  filled: number;
  written: boolean;
  hashed: boolean;
  /** Its write and hash update in flight. */
  ops: number;
}

const hasher = new StreamHasher();
const windows = new WindowPool(WINDOW_BYTES);

/** Windows held now by every piece being received (for stats and tests). */
export const incomingStats = { windows: 0, peakWindows: 0, writing: 0, hashing: 0, peakWriting: 0, peakHashing: 0 };
if (process.env.SILMARIL_PIECE_TRACE)
  process.on('exit', () =>
    process.stderr.write(
      `TRACE windows peak ${incomingStats.peakWindows} allocated ${windows.allocated} ${JSON.stringify(incomingStats)}\n`,
    ),
  );

/** Lets the free pooled windows go (a download completed or stopped; others still receiving allocate again). */
export function releaseIdleWindows(): void {
  windows.clear();
}

export class IncomingPiece {
  private readonly wins: (Window | null | undefined)[];
  private readonly key: number;
  /** Next window to feed to the hash. */
  private nextHash = 0;
  /** Writes and hash updates in flight. */
  private busy = 0;
  private error?: Error;
  private idle?: () => void;
  private aborted = false;

  /** `start`: where the piece begins in the piece stream; `v2Bytes`: its first bytes that are v2 file data, whose
   *  16 KiB leaves are hashed too (0: none). Windows are 1 MiB, so each window starts on a leaf boundary. */
  constructor(
    readonly length: number,
    private readonly start: number,
    private readonly write: StreamWriter,
    v2Bytes = 0,
  ) {
    this.wins = new Array(Math.ceil(length / WINDOW_BYTES));
    this.key = hasher.open(v2Bytes);
  }

  /** Copies in `data` (new bytes at `offset` of the piece; it may be a view that is reused once this returns). */
  add(offset: number, data: Uint8Array): void {
    if (this.aborted) return;
    let at = 0;
    while (at < data.length) {
      const pos = offset + at;
      const w = Math.floor(pos / WINDOW_BYTES);
      const win = this.window(w);
      if (!win) return; // already complete: a byte range given twice (never by the caller)
      const winStart = w * WINDOW_BYTES;
      const n = Math.min(data.length - at, winStart + win.len - pos);
      win.buf.set(n === data.length ? data : data.subarray(at, at + n), pos - winStart);
      win.filled += n;
      at += n;
      if (win.filled >= win.len) this.complete(w, win);
    }
  }

  private window(w: number): Window | null {
    const win = this.wins[w];
    if (win !== undefined) return win;
    const len = Math.min(WINDOW_BYTES, this.length - w * WINDOW_BYTES);
    const made: Window = { buf: windows.take(len), len, filled: 0, written: false, hashed: false, ops: 0 };
    this.wins[w] = made;
    incomingStats.windows++;
    incomingStats.peakWindows = Math.max(incomingStats.peakWindows, incomingStats.windows);
    return made;
  }

  private complete(w: number, win: Window): void {
    this.busy++;
    win.ops++;
    incomingStats.writing++;
    incomingStats.peakWriting = Math.max(incomingStats.peakWriting, incomingStats.writing);
    this.write(this.start + w * WINDOW_BYTES, win.buf.subarray(0, win.len)).then(
      () => this.settle(w, win, 'written'),
      (err: Error) => {
        this.error ??= err;
        this.settle(w, win, 'written');
      },
    );
    // In piece order: this window and every complete one after it.
    for (;;) {
      const next = this.wins[this.nextHash];
      if (!next || next.filled < next.len) return;
      const at = this.nextHash++;
      this.busy++;
      next.ops++;
      incomingStats.hashing++;
      incomingStats.peakHashing = Math.max(incomingStats.peakHashing, incomingStats.hashing);
      void hasher.update(this.key, next.buf.subarray(0, next.len)).then(() => this.settle(at, next, 'hashed'));
    }
  }

  private settle(w: number, win: Window, what: 'written' | 'hashed'): void {
    win[what] = true;
    incomingStats[what === 'written' ? 'writing' : 'hashing']--;
    this.busy--;
    win.ops--;
    if (win.ops === 0 && ((win.written && win.hashed) || this.aborted)) this.free(w, win);
    if (this.busy === 0 && this.idle) {
      const wake = this.idle;
      this.idle = undefined;
      wake();
    }
  }

  private free(w: number, win: Window): void {
    if (this.wins[w] !== win) return;
    this.wins[w] = null;
    incomingStats.windows--;
    windows.release(win.buf);
  }

  /** Every byte is in: resolves with the piece's hex SHA-1 (and v2 leaves, if asked) once every window is written and
   *  hashed; rejects with the first write error. */
  async finish(): Promise<PieceDigest> {
    if (this.busy > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (this.error) {
      hasher.drop(this.key);
      throw this.error;
    }
    return hasher.digest(this.key);
  }

  /** The piece is abandoned: its windows go back once nothing uses them, its hash state is dropped. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    hasher.drop(this.key);
    // Windows being written or hashed are freed when that ends (settle).
    this.wins.forEach((win, w) => {
      if (win && win.ops === 0) this.free(w, win);
    });
  }
}
