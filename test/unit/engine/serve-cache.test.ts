// The serving cache is bounded per process whatever peers ask for, reads whole windows (not whole pieces), and
// hands out copies (a block waiting in a socket must not keep its window alive).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SERVE_READS, SERVE_CACHE_BYTES, SERVE_READ_BYTES } from '../../../src/engine/limits.js';
import { dropServed, serveBlock, serveCacheStats } from '../../../src/engine/serve-cache.js';

const PIECE = 16 * 1024 * 1024;

/** What a Reader fills: its `into` (one buffer, or consecutive parts: a window's frames), else a fresh buffer. */
function parts(length: number, into?: Buffer | Buffer[]): Buffer[] {
  return into === undefined ? [Buffer.alloc(length)] : Array.isArray(into) ? into : [into];
}

/** What a Reader returns for `into`. */
function result(ps: Buffer[], into?: Buffer | Buffer[]): Buffer | Buffer[] {
  return Array.isArray(into) ? ps : ps[0];
}

/** Stamps every `stride` bytes of the stream from `start` (spread over `ps`) with its own offset. */
function stamp(start: number, ps: Buffer[], stride = 4): void {
  let at = start;
  for (const p of ps) {
    for (let i = 0; i < p.length; i += stride) p.writeUInt32BE((at + i) % 2 ** 32, i);
    at += p.length;
  }
}

test('one block of each of many 16 MiB pieces: bounded cache, window-sized reads, bounded reads in flight', async () => {
  const owner = {};
  const reads: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const read = async (start: number, length: number, into?: Buffer | Buffer[]) => {
    reads.push(length);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    const ps = parts(length, into);
    ps[0].writeUInt32BE(start % 2 ** 32, 0);
    return result(ps, into);
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
    assert.ok(b.buffer.byteLength < SERVE_READ_BYTES, 'its own frame, not a view of the whole window');
    assert.equal(b.readUInt32BE(0), (i * PIECE + 5 * SERVE_READ_BYTES) % 2 ** 32);
  }
  dropServed(owner);
  assert.equal(serveCacheStats().cachedBytes, 0);
});

// Windows are read into reused buffers: a window goes back to the pool only once it is evicted and no block is
// still being copied from it, so under heavy eviction every served block still holds its own bytes.
test('reused windows never serve another window’s bytes, under eviction and concurrent readers', async () => {
  const owner = {};
  let reused = 0;
  const seen = new Set<Buffer>();
  const read = async (start: number, length: number, into?: Buffer | Buffer[]) => {
    await new Promise((r) => setImmediate(r));
    const ps = parts(length, into);
    for (const p of ps) {
      if (seen.has(p)) reused++;
      seen.add(p);
    }
    stamp(start, ps, 4096);
    await new Promise((r) => setImmediate(r)); // other reads land meanwhile
    return result(ps, into);
  };
  const windows = (3 * SERVE_CACHE_BYTES) / SERVE_READ_BYTES;
  // A window evicted while its read is still in flight must not be reused then: window 0's read fills its buffer
  // and then stalls while enough other windows pass through to evict it. (Its second block is asked for: a request
  // at a window's start reads the next one ahead with the same stalling reader.)
  let release!: () => void;
  const stalled = new Promise<void>((r) => (release = r));
  const first = serveBlock(
    owner,
    async (start, length, into) => {
      const ps = parts(length, into);
      stamp(start, ps, 4096);
      await stalled;
      return result(ps, into);
    },
    0,
    windows * SERVE_READ_BYTES,
    16384,
    16384,
  );
  for (let w0 = 1; w0 < windows; w0 += 32) {
    const batch: Promise<Buffer>[] = [];
    for (let w = w0; w < Math.min(windows, w0 + 32); w++) {
      batch.push(serveBlock(owner, read, 0, windows * SERVE_READ_BYTES, w * SERVE_READ_BYTES, 16384));
    }
    await Promise.all(batch);
  }
  release();
  const b0 = await first;
  for (let at = 0; at < b0.length; at += 4096) assert.equal(b0.readUInt32BE(at), 16384 + at, 'window 0 kept its bytes');
  // Then in batches of 32 concurrent blocks (two per window), so that evicted windows come back and are reused.
  for (let round = 0; round < 2; round++) {
    for (let w0 = 0; w0 < windows; w0 += 16) {
      const jobs: Promise<[number, Buffer]>[] = [];
      for (let w = w0; w < w0 + 16; w++) {
        for (const k of [0, 1]) {
          const start = w * SERVE_READ_BYTES + ((round * 7 + w + k * 5) % 16) * 16384;
          jobs.push(serveBlock(owner, read, 0, windows * SERVE_READ_BYTES, start, 16384).then((b) => [start, b]));
        }
      }
      for (const [start, b] of await Promise.all(jobs)) {
        for (let at = 0; at < b.length; at += 4096) assert.equal(b.readUInt32BE(at), (start + at) % 2 ** 32);
      }
    }
  }
  assert.ok(reused > 0, 'windows were reused');
  dropServed(owner);
});

/** A reader of a stream whose every 4 bytes hold their own offset, counting the windows it was asked for. */
function countingReader() {
  const reads: number[] = [];
  const read = async (start: number, length: number, into?: Buffer | Buffer[]) => {
    reads.push(start);
    await new Promise((r) => setImmediate(r));
    const ps = parts(length, into);
    stamp(start, ps);
    return result(ps, into);
  };
  return { reads, read };
}

test('a peer reading a piece in order finds the next windows already read; a stray request reads nothing ahead', async () => {
  const owner = {};
  const piece = 8 * SERVE_READ_BYTES;
  const { reads, read } = countingReader();
  // Block 0 of the piece: its window, and the next one ahead.
  await serveBlock(owner, read, 0, piece, 0, 16384);
  assert.deepEqual(reads, [0, SERVE_READ_BYTES]);
  // The peer reaches window 1 (read ahead): windows 2 and 3 are read ahead too.
  await serveBlock(owner, read, 0, piece, SERVE_READ_BYTES, 16384);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    reads,
    [0, 1, 2, 3].map((w) => w * SERVE_READ_BYTES),
  );
  // Never past the end of the piece.
  for (let w = 2; w < 8; w++) await serveBlock(owner, read, 0, piece, w * SERVE_READ_BYTES, 16384);
  assert.deepEqual(
    reads,
    Array.from({ length: 8 }, (_, w) => w * SERVE_READ_BYTES),
  );
  dropServed(owner);
  // A request in the middle of a window (not a peer starting it) reads that window alone.
  reads.length = 0;
  const b = await serveBlock(owner, read, piece, piece, piece + 3 * 16384, 16384);
  assert.equal(b.readUInt32BE(0), piece + 3 * 16384);
  assert.deepEqual(reads, [piece]);
  dropServed(owner);
});

test('a window whose every block has been served is dropped; asked again, it is read again', async () => {
  const owner = {};
  const { reads, read } = countingReader();
  const piece = SERVE_READ_BYTES; // one window: nothing to read ahead
  for (let at = 0; at < piece; at += 16384) await serveBlock(owner, read, 0, piece, at, 16384);
  assert.deepEqual(reads, [0]);
  assert.equal(serveCacheStats().cachedBytes, 0, 'fully served: dropped');
  const again = await serveBlock(owner, read, 0, piece, 16384, 16384);
  assert.equal(again.readUInt32BE(0), 16384);
  assert.deepEqual(reads, [0, 0]);
  dropServed(owner);
});

test('a failed read is an error for the blocks that waited on it, never bytes; the next request reads again', async () => {
  const owner = {};
  let fail = true;
  const { read: good } = countingReader();
  const read = async (start: number, length: number, into?: Buffer | Buffer[]) => {
    if (fail) {
      await new Promise((r) => setImmediate(r));
      for (const p of parts(length, into)) p.fill(0xee); // whatever landed before the error must not be served
      throw new Error('EIO: i/o error, read');
    }
    return good(start, length, into);
  };
  const piece = SERVE_READ_BYTES;
  const waiting = [0, 1, 2].map((k) => serveBlock(owner, read, 0, piece, k * 16384, 16384));
  for (const w of waiting) await assert.rejects(w, /EIO/);
  assert.equal(serveCacheStats().cachedBytes, 0, 'the failed window is not kept');
  fail = false;
  const b = await serveBlock(owner, read, 0, piece, 16384, 16384);
  for (let at = 0; at < b.length; at += 4) assert.equal(b.readUInt32BE(at), 16384 + at);
  dropServed(owner);
});
