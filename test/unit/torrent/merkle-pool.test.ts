// The hashing pool: worker results equal the in-memory reference, big files split across workers, abort works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HashPool } from '../../../src/torrent/hash-pool.js';
import { fileMerkle } from '../../../src/torrent/merkle.js';

const KiB = 1024;
let dir: string;
// Small split size so a 1 MiB file is hashed as several ranges by both workers.
const pool = new HashPool({ size: 2, rangeBytes: 128 * KiB });

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'silmaril-pool-'));
});
after(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

function v1Pieces(d: Buffer, pieceLength: number) {
  const out: Buffer[] = [];
  let lastUnpadded: Buffer | undefined;
  for (let o = 0; o < d.length; o += pieceLength) {
    const piece = d.subarray(o, o + pieceLength);
    const padded = Buffer.concat([piece, Buffer.alloc(pieceLength - piece.length)]);
    out.push(crypto.createHash('sha1').update(padded).digest());
    if (piece.length < pieceLength) lastUnpadded = crypto.createHash('sha1').update(piece).digest();
  }
  return { pieces: Buffer.concat(out), lastUnpadded };
}

test('worker hashes equal the reference for many sizes and piece lengths', async () => {
  const sizes = [0, 1, 16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 100_000, 1024 * KiB, 1024 * KiB + 7];
  for (const pieceLength of [16 * KiB, 32 * KiB, 64 * KiB, 1024 * KiB]) {
    const files = await Promise.all(
      sizes.map(async (n, i) => {
        const d = crypto.randomBytes(n);
        const p = path.join(dir, `f-${pieceLength}-${i}`);
        await writeFile(p, d);
        return { p, d };
      }),
    );
    const results = await pool.hashFiles(
      files.map((f) => ({ path: f.p })),
      pieceLength,
    );
    files.forEach(({ d }, i) => {
      const r = results[i];
      const ref = fileMerkle(d, pieceLength);
      const v1 = v1Pieces(d, pieceLength);
      const label = `size ${d.length}, piece ${pieceLength}`;
      assert.equal(r.length, d.length, label);
      assert.deepEqual(Buffer.from(r.pieces), v1.pieces, label);
      assert.deepEqual(r.lastPieceUnpadded && Buffer.from(r.lastPieceUnpadded), v1.lastUnpadded, label);
      assert.deepEqual(r.piecesRoot && Buffer.from(r.piecesRoot), ref.root, label);
      assert.deepEqual(Buffer.from(r.pieceLayer), ref.pieceLayer, label);
    });
  }
});

test('leaf hashes on request', async () => {
  const d = crypto.randomBytes(300_000);
  const p = path.join(dir, 'leaves');
  await writeFile(p, d);
  const r = await pool.hashFile(p, 32 * KiB, { leaves: true });
  const expected: Buffer[] = [];
  for (let o = 0; o < d.length; o += 16 * KiB)
    expected.push(
      crypto
        .createHash('sha256')
        .update(d.subarray(o, o + 16 * KiB))
        .digest(),
    );
  assert.deepEqual(Buffer.from(r.leaves!), Buffer.concat(expected));
});

test('progress reaches the total; a missing file is a clear error', async () => {
  const d = crypto.randomBytes(700_000);
  const p = path.join(dir, 'progress');
  await writeFile(p, d);
  const seen: number[] = [];
  await pool.hashFile(p, 16 * KiB, { onProgress: (done, total) => (assert.equal(total, d.length), seen.push(done)) });
  assert.equal(seen.at(-1), d.length);
  await assert.rejects(pool.hashFile(path.join(dir, 'nope'), 16 * KiB), /cannot hash .*nope: no such file/);
  // A file that is not the length we were told (it changed after the walk) is an error naming it, not a bad hash.
  await assert.rejects(
    pool.hashFiles([{ path: p, length: d.length + 5 }], 16 * KiB),
    /progress: (file ended early|it changed)/,
  );
  await assert.rejects(pool.hashFiles([{ path: p, length: d.length - 5 }], 16 * KiB), /progress: .*changed/);
});

test('abort rejects promptly and the pool keeps working', async () => {
  const p = path.join(dir, 'big');
  await writeFile(p, crypto.randomBytes(16 * 1024 * KiB));
  const slow = new HashPool({ size: 1, rangeBytes: 16 * 1024 * KiB });
  try {
    const ac = new AbortController();
    const job = slow.hashFile(p, 16 * KiB, {
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    await assert.rejects(job, { name: 'AbortError' });
    const again = await slow.hashFile(p, 1024 * KiB);
    assert.equal(again.length, 16 * 1024 * KiB);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(slow.hashFile(p, 16 * KiB, { signal: pre.signal }), { name: 'AbortError' });
  } finally {
    await slow.close();
  }
});

test('idle workers stop after a while; the next job starts new ones', async () => {
  const p = path.join(dir, 'idle');
  await writeFile(p, crypto.randomBytes(50_000));
  const idle = new HashPool({ size: 2, idleMs: 50 });
  try {
    const first = await idle.hashFile(p, 16 * KiB);
    assert.ok(idle.workers >= 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(idle.workers, 0);
    const second = await idle.hashFile(p, 16 * KiB);
    assert.deepEqual(second.piecesRoot, first.piecesRoot);
  } finally {
    await idle.close();
  }
});
