// The serving cache is bounded per process whatever peers ask for, reads whole windows (not whole pieces), and
// hands out copies (a block waiting in a socket must not keep its window alive).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SERVE_READS, SERVE_CACHE_BYTES, SERVE_READ_BYTES } from '../../../src/engine/limits.js';
import { dropServed, serveBlock, serveCacheStats } from '../../../src/engine/serve-cache.js';

const PIECE = 16 * 1024 * 1024;

test('one block of each of many 16 MiB pieces: bounded cache, window-sized reads, bounded reads in flight', async () => {
  const owner = {};
  const reads: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const read = async (start: number, length: number) => {
    reads.push(length);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    const b = Buffer.alloc(length);
    b.writeUInt32BE(start % 2 ** 32, 0);
    return b;
  };
  const jobs: Promise<Buffer>[] = [];
  for (let piece = 0; piece < 600; piece++) {
    jobs.push(serveBlock(owner, read, piece * PIECE, PIECE, piece * PIECE + 5 * SERVE_READ_BYTES, 16384));
    assert.ok(serveCacheStats().cachedBytes <= SERVE_CACHE_BYTES);
  }
  const blocks = await Promise.all(jobs);
  assert.ok(
    reads.every((n) => n <= SERVE_READ_BYTES),
    'no read larger than a window',
  );
  assert.ok(maxInFlight <= MAX_SERVE_READS, `${maxInFlight} reads at once`);
  for (const [i, b] of blocks.entries()) {
    assert.equal(b.length, 16384);
    assert.equal(b.buffer.byteLength >= 16384 && b.byteOffset + b.length <= b.buffer.byteLength, true);
    assert.ok(b.buffer.byteLength < SERVE_READ_BYTES, 'a copy, not a view of the window');
    assert.equal(b.readUInt32BE(0), (i * PIECE + 5 * SERVE_READ_BYTES) % 2 ** 32);
  }
  dropServed(owner);
  assert.equal(serveCacheStats().cachedBytes, 0);
});
