// File data kept to serve blocks to peers, bounded per process (all transfers share SERVE_CACHE_BYTES), and the
// disk reads behind it, bounded too (MAX_SERVE_READS in flight, the rest wait their turn). A read covers
// SERVE_READ_BYTES of a piece around the asked block, not the whole piece: peers ask for a piece's blocks in a row,
// but a peer asking one block of each of many large pieces must not make us read and hold every one of them.
// A served block is a copy: a view would keep its whole read window alive for as long as it waits in a socket.
import { takeBlock } from './block-pool.js';
import { MAX_SERVE_READS, SERVE_CACHE_BYTES, SERVE_READ_BYTES } from './limits.js';

/** Reads [start, start+length) of the piece stream, into `into` when given (a pooled window of that length). */
type Reader = (start: number, length: number, into?: Buffer) => Promise<Buffer>;

interface Entry {
  owner: object;
  bytes: number;
  data: Promise<Buffer>;
  /** The window once read: blocks are then copied out at once, with no promise per block. */
  ready?: Buffer;
  /** serveBlock calls waiting for or copying from this window. */
  users: number;
  evicted: boolean;
  /** The pooled buffer the window is read into; it goes back to the pool once evicted and unused. */
  pooled?: Buffer;
}

// Windows are reused: a fresh 256 KiB buffer per read is an external allocation, and at loopback speed that churn
// drove V8 into a full mark-compact several times a second on a seed.
const MAX_FREE_WINDOWS = 32;
const freeWindows: Buffer[] = [];

function recycle(e: Entry): void {
  const b = e.pooled;
  e.pooled = undefined;
  if (b && freeWindows.length < MAX_FREE_WINDOWS) freeWindows.push(b);
}

const entries = new Map<string, Entry>();
let cachedBytes = 0;
let reading = 0;
const waiting: (() => void)[] = [];

/** Bytes held by the serving cache now (all stores), and serving reads in flight or waiting (for stats). */
export function serveCacheStats(): { cachedBytes: number; reads: number; waiting: number } {
  return { cachedBytes, reads: reading, waiting: waiting.length };
}

function evict(key: string): void {
  const e = entries.get(key);
  if (!e) return;
  entries.delete(key);
  cachedBytes -= e.bytes;
  e.evicted = true;
  e.ready = undefined;
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

let nextOwner = 0;
const ownerIds = new WeakMap<object, number>();

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
  let id = ownerIds.get(owner);
  if (id === undefined) ownerIds.set(owner, (id = nextOwner++));
  const windowAt = pieceStart + Math.floor((start - pieceStart) / SERVE_READ_BYTES) * SERVE_READ_BYTES;
  const windowEnd = Math.min(pieceStart + pieceSize, windowAt + SERVE_READ_BYTES);
  if (start + length > windowEnd) {
    // A block across two windows (only with odd block sizes): read it alone.
    return throttled(() => read(start, length));
  }
  const key = `${id}:${windowAt}`;
  let e = entries.get(key);
  if (e) {
    entries.delete(key); // most recently used last
    entries.set(key, e);
    if (e.ready) return copyOut(e.ready, start - windowAt, length);
  } else {
    const bytes = windowEnd - windowAt;
    const pooled =
      bytes === SERVE_READ_BYTES ? (freeWindows.pop() ?? Buffer.allocUnsafeSlow(SERVE_READ_BYTES)) : undefined;
    const data = throttled(() => read(windowAt, bytes, pooled));
    const made: Entry = { owner, bytes, data, users: 0, evicted: false, pooled };
    e = made;
    entries.set(key, made);
    cachedBytes += bytes;
    data.then(
      (buf) => {
        if (!made.evicted) made.ready = buf;
      },
      () => {
        // A failed read may still have other parts writing into the buffer: never reuse it.
        made.pooled = undefined;
        if (entries.get(key) === made) evict(key);
      },
    );
    while (cachedBytes > SERVE_CACHE_BYTES && entries.size > 1) evict(entries.keys().next().value as string);
  }
  return copyWhenRead(e, start - windowAt, length);
}

/** A pooled copy of `length` bytes at `at` of a window (a direct socket write gives it back, block-pool.ts). */
function copyOut(window: Buffer, at: number, length: number): Buffer {
  const block = takeBlock(length);
  block.set(window.subarray(at, at + length));
  return block;
}

async function copyWhenRead(entry: Entry, at: number, length: number): Promise<Buffer> {
  entry.users++;
  try {
    return copyOut(await entry.data, at, length);
  } finally {
    entry.users--;
    if (entry.evicted && entry.users === 0) recycle(entry);
  }
}

/** Forgets everything cached for `owner` (its store closed or went idle). */
export function dropServed(owner: object): void {
  const id = ownerIds.get(owner);
  if (id === undefined) return;
  const prefix = `${id}:`;
  for (const [key, e] of entries) if (e.owner === owner && key.startsWith(prefix)) evict(key);
}
