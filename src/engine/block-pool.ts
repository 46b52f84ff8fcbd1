// Reusable frames for the 16 KiB blocks a node serves. A fresh 16 KiB Buffer is its own external allocation: at
// loopback speed that churn alone drove V8 into a full mark-compact several times a second on a seed.
//
// A frame is a piece message ready to send: 13 bytes for the header (length prefix, id 7, index, begin), then the
// block. The serving cache reads file data straight into frames' blocks (serve-cache.ts), the wire writes the header
// in front of the block and sends header and block as one socket write (internals.ts, piece): no copy of the block,
// no header allocated. Frames are counted: the window holding a frame is one holder, each block handed to a peer
// another, released when its socket write completes; at zero the frame is free again. A block that never reaches a
// direct socket write (a cancelled request, the stream pipeline) keeps its frame from the pool and is left to the
// GC: a frame is never reused while anything may still read it.

const BLOCK_LENGTH = 16 * 1024;
/** <length prefix:4><id:1><index:4><begin:4> of a piece message (BEP 3). */
export const PIECE_HEADER_BYTES = 13;
/** Free frames kept (8 MiB). */
const MAX_FREE = 512;

interface Frame {
  frame: Buffer;
  block: Buffer;
  holders: number;
}

const free: Frame[] = [];
/** Frame or block -> its record. */
const records = new WeakMap<Uint8Array, Frame>();

function take(): Frame {
  const r = free.pop();
  if (r) {
    r.holders = 1;
    return r;
  }
  const frame = Buffer.allocUnsafeSlow(PIECE_HEADER_BYTES + BLOCK_LENGTH);
  const made: Frame = { frame, block: frame.subarray(PIECE_HEADER_BYTES), holders: 1 };
  records.set(frame, made);
  records.set(made.block, made);
  return made;
}

/** A buffer of `length` bytes (contents undefined) for a served block: a pooled frame's block (held once, by the
 *  socket write that will send it) when `length` is a whole block. */
export function takeBlock(length: number): Buffer {
  if (length !== BLOCK_LENGTH) return Buffer.allocUnsafe(length);
  return take().block;
}

/** A pooled frame's 16 KiB block, held once by the caller (a serving window reads into it). */
export function takeFrameBlock(): Buffer {
  return take().block;
}

/** One more holder of the frame around `block` (a block handed to a peer). */
export function holdBlock(block: Uint8Array): void {
  const r = records.get(block);
  if (r) r.holders++;
}

/** A holder of the frame around `block` is done with it (a window dropped). */
export function releaseBlock(block: Uint8Array): void {
  const r = records.get(block);
  if (r && r.block === block) release(r);
}

/** The frame around a pooled block (its 13 first bytes free for the header), or undefined for any other buffer. */
export function frameAround(block: Uint8Array): Buffer | undefined {
  const r = records.get(block);
  return r && r.block === block ? r.frame : undefined;
}

/** True for a pooled frame (only those are given back after a socket write). */
export function isPooledFrame(b: Uint8Array): boolean {
  const r = records.get(b);
  return !!r && r.frame === b;
}

/** A socket write of the frame has completed or failed: that holder is done with it. */
export function releaseFrame(frame: Uint8Array): void {
  const r = records.get(frame);
  if (r && r.frame === frame) release(r);
}

function release(r: Frame): void {
  if (r.holders <= 0) return;
  if (--r.holders === 0 && free.length < MAX_FREE) free.push(r);
}

/** Free frames now (for tests). */
export function freeFrames(): number {
  return free.length;
}
