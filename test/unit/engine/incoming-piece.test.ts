// A piece written and hashed as its blocks arrive (incoming-piece.ts): whatever the arrival order, every byte is
// written once at its offset, the digest is the SHA-1 of the whole piece, and no window is left held.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { IncomingPiece, WINDOW_BYTES, incomingStats } from '../../../src/engine/incoming-piece.js';

const BLOCK = 16 * 1024;

function blocksOf(length: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < length; at += BLOCK) out.push([at, Math.min(BLOCK, length - at)]);
  return out;
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Receives `data` as a piece starting at `start` of the stream, blocks in `order`; returns what was written. */
async function receive(data: Buffer, start: number, order: [number, number][]) {
  const disk = Buffer.alloc(start + data.length);
  const writes: [number, number][] = [];
  const piece = new IncomingPiece(data.length, start, async (at, bytes) => {
    await new Promise((r) => setImmediate(r)); // writes complete later, out of step with the hashing
    writes.push([at, bytes.length]);
    disk.set(bytes, at);
  });
  // Each block through a reused buffer, as the socket's read buffer is reused after each read.
  const scratch = Buffer.alloc(BLOCK);
  for (const [at, len] of order) {
    data.copy(scratch, 0, at, at + len);
    piece.add(at, scratch.subarray(0, len));
    scratch.fill(0xee);
  }
  const { digest } = await piece.finish();
  return { digest, disk: disk.subarray(start), writes };
}

for (const [name, length] of [
  ['several windows, a short last block', 3 * WINDOW_BYTES + 5 * BLOCK + 1234],
  ['smaller than one window', 5 * BLOCK + 77],
  ['exactly one block', BLOCK],
] as const) {
  test(`in order and shuffled, ${name}: right digest, every byte written once at its offset, windows released`, async () => {
    const data = randomBytes(length);
    const want = createHash('sha1').update(data).digest('hex');
    for (const order of [blocksOf(length), shuffled(blocksOf(length), 7), blocksOf(length).reverse()]) {
      const start = 5 * WINDOW_BYTES + 4096;
      const r = await receive(data, start, order);
      assert.equal(r.digest, want);
      assert.ok(r.disk.equals(data), 'the bytes on disk are the piece');
      const covered = r.writes.reduce((n, [, len]) => n + len, 0);
      assert.equal(covered, length, 'each byte written exactly once');
      assert.ok(r.writes.length <= Math.ceil(length / WINDOW_BYTES), 'one write per window, not per block');
      assert.equal(incomingStats.windows, 0, 'no window left held');
    }
  });
}

test('a failed write: finish rejects with it, and the windows still go back', async () => {
  const data = randomBytes(2 * WINDOW_BYTES);
  const piece = new IncomingPiece(data.length, 0, async (at) => {
    if (at === WINDOW_BYTES) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
  });
  for (const [at, len] of blocksOf(data.length)) piece.add(at, data.subarray(at, at + len));
  await assert.rejects(piece.finish(), /no space left/);
  assert.equal(incomingStats.windows, 0);
});

test('an abandoned piece lets its windows go, complete or not', async () => {
  const data = randomBytes(3 * WINDOW_BYTES);
  const piece = new IncomingPiece(data.length, 0, () => new Promise((r) => setTimeout(r, 5)));
  // Window 1 complete (written, but not hashed: window 0 is not), window 0 half, window 2 untouched.
  for (const [at, len] of blocksOf(data.length)) {
    if (at < WINDOW_BYTES / 2 || (at >= WINDOW_BYTES && at < 2 * WINDOW_BYTES))
      piece.add(at, data.subarray(at, at + len));
  }
  assert.ok(incomingStats.windows >= 2);
  piece.abort();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(incomingStats.windows, 0);
});
