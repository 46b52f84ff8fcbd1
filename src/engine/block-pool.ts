// Reusable buffers for the 16 KiB blocks a node serves. Each served block is a copy (serve-cache.ts says why), and
// a fresh 16 KiB Buffer is its own external allocation: at loopback speed that churn alone drove V8 into a full
// mark-compact several times a second on a seed.
//
// Each pooled block is the tail of a frame: 13 bytes in front of it are left for the piece message's header
// (length prefix, id 7, index, begin), so the wire sends header and block as one socket write, with no header
// allocated and no copy (internals.ts, piece). A frame written straight to its socket
// (writeDirect) comes back here once the socket is done with it; any other block is left to the GC as before.

const BLOCK_LENGTH = 16 * 1024;
/** <length prefix:4><id:1><index:4><begin:4> of a piece message (BEP 3). */
export const PIECE_HEADER_BYTES = 13;
/** Free frames kept (4 MiB). */
const MAX_FREE = 256;

const free: Buffer[] = [];
/** Pooled block -> its frame, and frame -> its block (the same two objects for the pool's whole life). */
const frameOf = new WeakMap<Uint8Array, Buffer>();
const blockOf = new WeakMap<Uint8Array, Buffer>();

/** A buffer of `length` bytes (contents undefined) for a served block. */
export function takeBlock(length: number): Buffer {
  if (length !== BLOCK_LENGTH) return Buffer.allocUnsafe(length);
  const b = free.pop();
  if (b) return b;
  const frame = Buffer.allocUnsafeSlow(PIECE_HEADER_BYTES + BLOCK_LENGTH);
  const block = frame.subarray(PIECE_HEADER_BYTES);
  frameOf.set(block, frame);
  blockOf.set(frame, block);
  return block;
}

/** The frame around a pooled block (its 13 first bytes free for the header), or undefined for any other buffer. */
export function frameAround(block: Uint8Array): Buffer | undefined {
  return frameOf.get(block);
}

/** True for a frame from takeBlock (only those may be given back). */
export function isPooledFrame(b: Uint8Array): boolean {
  return blockOf.has(b);
}

/** Gives a frame back once nothing refers to it any more (its socket write has completed or failed). */
export function releaseFrame(frame: Uint8Array): void {
  const block = blockOf.get(frame);
  if (block && free.length < MAX_FREE) free.push(block);
}
