// File data kept to serve blocks to peers, bounded per process (all transfers share SERVE_CACHE_BYTES), and the
// disk reads behind it, bounded too (MAX_SERVE_READS in flight, the rest wait their turn). A read covers
// SERVE_READ_BYTES of a piece around the asked block, not the whole piece: peers ask for a piece's blocks in a row,
// but a peer asking one block of each of many large pieces must not make us read and hold every one of them.
// A window of whole 16 KiB blocks is read straight into pooled frames (block-pool.ts: one preadv into 64 blocks, each
// with room for its piece message's header in front), and a served block is that frame's block itself, held until
// its socket write completes: no copy, and a block waiting in a socket keeps only its own 16 KiB alive, not its
// window. Any other window (a stream's last, shorter one) is read into a plain buffer and its blocks are copies.
//
// A window whose every block has been served is dropped at once (its buffer goes back to the pool), not when the
// LRU reaches it: a seed sends each piece about once (seed-spread.ts), so a fully served window is rarely asked
// again, and rereading it from the page cache costs one read. Dropping it early keeps the set of window buffers
// small and warm: cycling through 64 MiB of them cost a page fault (and a zeroed page) per 4 KiB on first use,
// and cache misses after.
import { holdBlock, releaseBlock, takeBlock, takeFrameBlock } from './block-pool.js';
import { MAX_SERVE_READS, SERVE_CACHE_BYTES, SERVE_READ_BYTES } from './limits.js';

/** Reads [start, start+length) of the piece stream: into `into` when given (a window of that length, or consecutive
 *  buffers covering it, filled in order), else into a fresh buffer it returns. */
export type Reader = (start: number, length: number, into?: Buffer | Buffer[]) => Promise<Buffer | Buffer[]>;

/** Blocks are 16 KiB (BEP 3); served-block bookkeeping counts those, any other request size is served all the same. */
const BLOCK_SHIFT = 14;
const BLOCK = 1 << BLOCK_SHIFT;

interface Entry {
  owner: object;
  /** Where the window starts in its owner's piece stream (its key in the owner's map). */
  at: number;
  bytes: number;
  /** Where the piece the window lies in ends, and how to read more of it (readAhead). */
  pieceEnd: number;
  read: Reader;
  data: Promise<unknown>;
  /** The window has been read: its blocks are then served at once, with no promise per block. */
  ready: boolean;
  /** The window's bytes: pooled frames' blocks (one per 16 KiB, held by the window until it is recycled), or one
   *  buffer for a window that is not whole blocks. */
  frames?: Buffer[];
  flat?: Buffer;
  /** The read in flight and serveBlock calls waiting for or copying from this window. */
  users: number;
  evicted: boolean;
  /** One flag per whole 16 KiB block of the window served once, and how many are still unserved. */
  served: Uint8Array;
  unserved: number;
  /** Read ahead of any request for it (readAhead), and whether a request has reached it since. */
  ahead: boolean;
  entered: boolean;
}

/** The window is evicted and nothing reads it any more: its frames go back to the pool (or to blocks still in a
 *  socket, which give them back when written). */
function recycle(e: Entry): void {
  const frames = e.frames;
  e.frames = undefined;
  e.flat = undefined;
  if (frames) for (const b of frames) releaseBlock(b);
}

/** Every cached window, least recently used first. */
const lru = new Set<Entry>();
/** Each owner's windows by where they start. */
const byOwner = new WeakMap<object, Map<number, Entry>>();
let cachedBytes = 0;
let reading = 0;
const waiting: (() => void)[] = [];

/** Bytes held by the serving cache now (all stores), and serving reads in flight or waiting (for stats). */
export function serveCacheStats(): { cachedBytes: number; reads: number; waiting: number; windows: number } {
  return { cachedBytes, reads: reading, waiting: waiting.length, windows: lru.size };
}

function evict(e: Entry): void {
  if (e.evicted) return;
  e.evicted = true;
  lru.delete(e);
  byOwner.get(e.owner)?.delete(e.at);
  cachedBytes -= e.bytes;
  e.ready = false;
  if (e.users === 0) recycle(e);
}

async function throttled<T>(job: () => Promise<T>): Promise<T> {
  if (reading >= MAX_SERVE_READS) await new Promise<void>((resolve) => waiting.push(resolve));
  reading++;
  try {
    return await job();
  } finally {
    reading--;
    waiting.shift()?.();
  }
}

/**
 * A copy of [start, start+length) of the piece stream of `owner` (a store), which must lie inside the piece at
 * `pieceStart` of `pieceSize` bytes.
 */
export function serveBlock(
  owner: object,
  read: Reader,
  pieceStart: number,
  pieceSize: number,
  start: number,
  length: number,
): Promise<Buffer> {
  return Promise.resolve(serveBlockNow(owner, read, pieceStart, pieceSize, start, length));
}

/** serveBlock, but the block itself (not a promise) when its window is already in memory: a seed serves most blocks
 *  from a window read for an earlier block, and a promise chain per 16 KiB block was a good part of its CPU. */
export function serveBlockNow(
  owner: object,
  read: Reader,
  pieceStart: number,
  pieceSize: number,
  start: number,
  length: number,
): Buffer | Promise<Buffer> {
  const windowAt = pieceStart + Math.floor((start - pieceStart) / SERVE_READ_BYTES) * SERVE_READ_BYTES;
  const windowEnd = Math.min(pieceStart + pieceSize, windowAt + SERVE_READ_BYTES);
  if (start + length > windowEnd) {
    // A block across two windows (only with odd block sizes): read it alone.
    return throttled(() => read(start, length)) as Promise<Buffer>;
  }
  let windows = byOwner.get(owner);
  if (!windows) byOwner.set(owner, (windows = new Map()));
  let e = windows.get(windowAt);
  if (e) {
    lru.delete(e); // most recently used last
    lru.add(e);
    if (!e.entered) enter(e, start);
    if (e.ready) return serveFrom(e, start - windowAt, length);
  } else {
    e = load(owner, windows, read, windowAt, windowEnd - windowAt, pieceStart + pieceSize, false);
    enter(e, start);
  }
  return copyWhenRead(e, start - windowAt, length);
}

/** Starts reading the window at `at` of `bytes` into the cache (the piece it lies in ends at `pieceEnd`). */
function load(
  owner: object,
  windows: Map<number, Entry>,
  read: Reader,
  at: number,
  bytes: number,
  pieceEnd: number,
  ahead: boolean,
): Entry {
  const blocks = bytes >> BLOCK_SHIFT;
  const frames = bytes % BLOCK === 0 ? Array.from({ length: blocks }, takeFrameBlock) : undefined;
  const made: Entry = {
    owner,
    at,
    bytes,
    pieceEnd,
    read,
    data: throttled(() => read(at, bytes, frames)),
    ready: false,
    frames,
    // The read itself is a user: the buffer is not reused while the disk may still be writing into it.
    users: 1,
    evicted: false,
    served: new Uint8Array(blocks),
    unserved: blocks,
    ahead,
    entered: false,
  };
  windows.set(at, made);
  lru.add(made);
  cachedBytes += bytes;
  made.data.then(
    (buf) => {
      if (!frames) made.flat = buf as Buffer;
      if (!made.evicted) made.ready = true;
      made.users--;
      if (made.evicted && made.users === 0) recycle(made);
    },
    () => {
      // A failed read may still have other parts writing into its frames: never reuse them (left to the GC).
      made.frames = undefined;
      made.users--;
      evict(made);
    },
  );
  while (cachedBytes > SERVE_CACHE_BYTES && lru.size > 1) evict(lru.values().next().value as Entry);
  return made;
}

/**
 * The first request reaching a window. A peer that starts it at its first block is reading the piece in order: the
 * next window is read ahead, and the one after too when this one was itself read ahead (the peer keeps going), so
 * that its blocks are in memory when asked for. Without it half the blocks of a fast peer waited for a disk read:
 * a seed answers a window's blocks in one turn of the event loop, so a read started on the way is not back in time.
 */
function enter(e: Entry, start: number): void {
  e.entered = true;
  if (start !== e.at) return;
  const windows = byOwner.get(e.owner);
  if (!windows) return;
  let at = e.at + e.bytes;
  for (let n = e.ahead ? 2 : 1; n > 0 && at < e.pieceEnd; n--, at += SERVE_READ_BYTES) {
    if (!windows.has(at))
      load(e.owner, windows, e.read, at, Math.min(SERVE_READ_BYTES, e.pieceEnd - at), e.pieceEnd, true);
  }
}

/** Counts a whole block of the window as served; the window is dropped once every one of them has been. */
function markServed(e: Entry, at: number, length: number): void {
  if (length !== BLOCK || (at & (BLOCK - 1)) !== 0) return;
  const i = at >> BLOCK_SHIFT;
  if (i >= e.served.length || e.served[i]) return;
  e.served[i] = 1;
  if (--e.unserved === 0) evict(e);
}

/** The block at `at` of a read window: its frame's block, held for the peer, or a copy for any other size or
 *  alignment (a direct socket write gives either back, block-pool.ts). */
function serveFrom(e: Entry, at: number, length: number): Buffer {
  let block: Buffer;
  const frames = e.frames;
  if (frames && length === BLOCK && (at & (BLOCK - 1)) === 0) {
    block = frames[at >> BLOCK_SHIFT];
    holdBlock(block);
  } else {
    block = takeBlock(length);
    if (frames) {
      for (let done = 0; done < length;) {
        const i = (at + done) >> BLOCK_SHIFT;
        const from = (at + done) & (BLOCK - 1);
        const n = Math.min(length - done, BLOCK - from);
        block.set(frames[i].subarray(from, from + n), done);
        done += n;
      }
    } else block.set(e.flat!.subarray(at, at + length));
  }
  markServed(e, at, length);
  return block;
}

async function copyWhenRead(entry: Entry, at: number, length: number): Promise<Buffer> {
  entry.users++;
  try {
    await entry.data;
    return serveFrom(entry, at, length);
  } finally {
    entry.users--;
    if (entry.evicted && entry.users === 0) recycle(entry);
  }
}

/** Forgets everything cached for `owner` (its store closed or went idle). */
export function dropServed(owner: object): void {
  const windows = byOwner.get(owner);
  if (!windows) return;
  for (const e of [...windows.values()]) evict(e);
}
