// Reusable 16 KiB buffers for the blocks a node serves. Each served block is a copy (serve-cache.ts says why), and
// a fresh 16 KiB Buffer is its own external allocation: at loopback speed that churn alone drove V8 into a full
// mark-compact several times a second on a seed. A block written straight to its socket (internals.ts,
// writeDirect) comes back here once the socket is done with it; any other block is left to the GC as before.

const BLOCK_LENGTH = 16 * 1024;
/** Free blocks kept (4 MiB). */
const MAX_FREE = 256;

const free: Buffer[] = [];
const ours = new WeakSet<Uint8Array>();

/** A buffer of `length` bytes (contents undefined) for a served block. */
export function takeBlock(length: number): Buffer {
  if (length !== BLOCK_LENGTH) return Buffer.allocUnsafe(length);
  const b = free.pop();
  if (b) return b;
  const fresh = Buffer.allocUnsafeSlow(BLOCK_LENGTH);
  ours.add(fresh);
  return fresh;
}

/** True for a buffer from takeBlock (only those may be given back). */
export function isPooledBlock(b: Uint8Array): boolean {
  return ours.has(b);
}

/** Gives a block back once nothing refers to it any more (its socket write has completed or failed). */
export function releaseBlock(b: Uint8Array): void {
  if (ours.has(b) && free.length < MAX_FREE) free.push(b as Buffer);
}
