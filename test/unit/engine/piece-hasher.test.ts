// StreamHasher (piece-hasher.ts): the piece's SHA-1 and its BEP 52 leaf hashes, taken in one pass per 16 KiB leaf,
// are the same on the worker (windows over shared memory) and on this thread (plain buffers), for a piece whose v2
// data ends mid-window and mid-leaf with pad bytes after it (v1 only), fed in 1 MiB windows.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { StreamHasher } from '../../../src/engine/piece-hasher.js';

const LEAF = 16384;
const WINDOW = 1 << 20;
const hasher = new StreamHasher();
after(() => hasher.close());

function reference(piece: Uint8Array, v2Bytes: number) {
  const leaves: Buffer[] = [];
  for (let o = 0; o < v2Bytes; o += LEAF)
    leaves.push(
      createHash('sha256')
        .update(piece.subarray(o, Math.min(o + LEAF, v2Bytes)))
        .digest(),
    );
  return { digest: createHash('sha1').update(piece).digest('hex'), leaves: Buffer.concat(leaves) };
}

async function run(piece: Uint8Array, v2Bytes: number, shared: boolean) {
  const key = hasher.open(v2Bytes);
  const updates: Promise<void>[] = [];
  for (let at = 0; at < piece.length; at += WINDOW) {
    const len = Math.min(WINDOW, piece.length - at);
    const win = new Uint8Array(shared ? new SharedArrayBuffer(len) : new ArrayBuffer(len));
    win.set(piece.subarray(at, at + len));
    updates.push(hasher.update(key, win));
  }
  await Promise.all(updates);
  return hasher.digest(key);
}

for (const shared of [true, false]) {
  test(`SHA-1 and v2 leaves in one pass (${shared ? 'worker, shared windows' : 'this thread'})`, async () => {
    // 2.5 MiB piece: v2 data ends 5000 bytes into a leaf of its third window, pad after it.
    const piece = new Uint8Array(randomBytes(2 * WINDOW + WINDOW / 2));
    const v2Bytes = 2 * WINDOW + 7 * LEAF + 5000;
    piece.fill(0, v2Bytes);
    const want = reference(piece, v2Bytes);
    const got = await run(piece, v2Bytes, shared);
    assert.equal(got.digest, want.digest);
    assert.deepEqual(Buffer.from(got.leaves!), want.leaves);
    // A v1-only piece: no leaves.
    const v1 = await run(piece, 0, shared);
    assert.equal(v1.digest, want.digest);
    assert.equal(v1.leaves, undefined);
  });
}
