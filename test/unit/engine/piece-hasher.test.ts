// StreamHasher (piece-hasher.ts): the piece's SHA-1 and its BEP 52 leaf hashes, taken in one pass per 16 KiB leaf,
// are the same on the worker (windows over shared memory) and on this thread (plain buffers), for a piece whose v2
// data ends mid-window and mid-leaf with pad bytes after it (v1 only), fed in 1 MiB windows.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { StreamHasher, WindowPool } from '../../../src/engine/piece-hasher.js';

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

test('window pool: a window is as long as asked, and comes back for the next piece of that length', () => {
  const pool = new WindowPool(1 << 20);
  const small = pool.take(64 * 1024);
  assert.equal(small.length, 64 * 1024, 'a 64 KiB piece takes 64 KiB, not a whole 1 MiB window');
  pool.release(small);
  assert.equal(pool.take(64 * 1024), small, 'reused for the next 64 KiB piece');
  const last = pool.take(1000);
  assert.notEqual(last, small);
  pool.release(last);
  const full = pool.take(1 << 20);
  assert.equal(full.length, 1 << 20);
  assert.equal(pool.allocated, 3);
  // Free windows are kept up to 64 MiB in all; beyond that they are left to the GC.
  const many = Array.from({ length: 70 }, () => pool.take(1 << 20));
  for (const w of many) pool.release(w);
  assert.equal(pool.freeCount, 63 + 1, '63 of 1 MiB (with the 1000-byte one, no more than 64 MiB) and that one');
  // A view into part of a buffer is never pooled (someone else owns the rest).
  pool.clear();
  pool.release(full.subarray(0, 1000));
  assert.equal(pool.freeCount, 0);
});
