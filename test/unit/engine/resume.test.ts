// Resume after a crash: the saved bitfield is trusted only for files whose size and mtime are unchanged; pieces on
// disk that cannot be trusted are hashed again, good ones kept, bad ones dropped.
import { test, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import bencode from 'bencode';
import { layoutFor } from '../../../src/engine/layout.js';
import { bitGet, countBits, markFiles, resumeBitfield, type ResumeOptions } from '../../../src/engine/resume.js';
import type { TransferRecord } from '../../../src/engine/state.js';
import { StateDir } from '../../../src/engine/state.js';
import { PieceStore } from '../../../src/engine/store.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { getHashPool, HashPool, type SpanTask } from '../../../src/torrent/hash-pool.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';

const PIECE = 16 * 1024;
let tmp: string;
let root: string;
let parsed: ParsedTorrent;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-resume-'));
  root = path.join(tmp, 'model');
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, 'a.bin'), crypto.randomBytes(4 * PIECE));
  await writeFile(path.join(root, 'b.bin'), crypto.randomBytes(4 * PIECE));
  parsed = parseTorrent((await createTorrent(root, { pieceLength: PIECE })).torrentBytes);
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function record(bits: number[], files: TransferRecord['files']): TransferRecord {
  const bf = new Uint8Array(Math.ceil(parsed.pieceCount / 8));
  for (const i of bits) bf[i >> 3] |= 0x80 >> (i & 7);
  return {
    version: 1,
    kind: 'download',
    infoHashV1: parsed.infoHashV1!,
    name: parsed.name,
    contentRoot: root,
    paused: false,
    complete: false,
    bitfield: Buffer.from(bf).toString('base64'),
    files,
    savedAt: Date.now(),
  };
}

async function check(
  rec: TransferRecord | undefined,
  t: ParsedTorrent = parsed,
  dir = root,
  opts: { download?: string; resume?: ResumeOptions } = {},
) {
  const store = new PieceStore(layoutFor(dir, t, opts.download), { writable: !!opts.download });
  try {
    return await resumeBitfield(t, dir, rec, store, opts.resume);
  } finally {
    store.close();
  }
}

/** Counts SHA-1 hashers made on this thread (the resume check's own createHash included) while `fn` runs. */
async function sha1sOnThisThread<T>(fn: () => Promise<T>): Promise<{ result: T; count: number }> {
  const original = crypto.createHash;
  let count = 0;
  const spy = mock.method(crypto, 'createHash', (algorithm: string, ...rest: []) => {
    if (algorithm === 'sha1') count++;
    return original(algorithm, ...rest);
  });
  syncBuiltinESMExports(); // `import { createHash } from 'node:crypto'` sees the spy too
  try {
    return { result: await fn(), count };
  } finally {
    spy.mock.restore();
    syncBuiltinESMExports();
  }
}

/** A v1 torrent of `files` laid end to end (pieces span files); `pad: n` is a BEP 47 pad file of n zero bytes. */
function v1Torrent(files: ({ name: string; data: Buffer } | { pad: number })[], pl: number): ParsedTorrent {
  const stream = Buffer.concat(files.map((f) => ('pad' in f ? Buffer.alloc(f.pad) : f.data)));
  const pieces: Buffer[] = [];
  for (let off = 0; off < stream.length; off += pl) {
    pieces.push(
      crypto
        .createHash('sha1')
        .update(stream.subarray(off, off + pl))
        .digest(),
    );
  }
  const list = files.map((f) =>
    'pad' in f
      ? { attr: 'p', length: f.pad, path: ['.pad', String(f.pad)] }
      : { length: f.data.length, path: [f.name] },
  );
  return parseTorrent(
    bencode.encode({ info: { name: 'spans', 'piece length': pl, pieces: Buffer.concat(pieces), files: list } }),
  );
}

test('unchanged files: the saved bits are trusted without hashing', async () => {
  // Saved state claims pieces 0 and 5 only; the files did not change since.
  const res = await check(record([0, 5], await markFiles(root, parsed)));
  assert.equal(res.trusted, 2);
  assert.equal(res.rechecked, 0);
  assert.equal(countBits(res.bitfield, parsed.pieceCount), 2);
});

test('a file changed since the save is re-checked: good pieces kept, a damaged one dropped', async () => {
  const marks = await markFiles(root, parsed);
  // Damage piece 1 (in a.bin) after the save: a.bin's mtime changes, b.bin stays trusted.
  const fh = await open(path.join(root, 'a.bin'), 'r+');
  await fh.write(Buffer.from('garbage'), 0, 7, PIECE + 10);
  await fh.close();
  const later = new Date(Date.now() + 5000);
  await utimes(path.join(root, 'a.bin'), later, later);
  const bIndex = parsed.files.findIndex((f) => f.path.join('/') === 'b.bin');
  const bFirst = parsed.files[bIndex].offset / PIECE;
  const res = await check(record([0, 1, bFirst], marks));
  assert.equal(res.trusted, 1, 'only b.bin piece trusted from state');
  assert.equal(res.rechecked, 4, 'all of a.bin re-hashed');
  assert.ok(bitGet(res.bitfield, 0) && !bitGet(res.bitfield, 1) && bitGet(res.bitfield, 2) && bitGet(res.bitfield, 3));
  assert.ok(bitGet(res.bitfield, bFirst));
});

test('no saved state: every piece present on disk is hashed', async () => {
  const res = await check(undefined);
  assert.equal(res.rechecked, parsed.pieceCount);
  assert.equal(countBits(res.bitfield, parsed.pieceCount), parsed.pieceCount - 1, 'all but the damaged piece');
});

test('state records are written atomically and read back', async () => {
  const state = new StateDir(path.join(tmp, 'home'));
  const rec = record([0], []);
  await state.save(rec);
  assert.deepEqual(await state.load(rec.infoHashV1), rec);
  assert.equal((await state.list()).length, 1);
  await state.remove(rec.infoHashV1);
  assert.equal(await state.load(rec.infoHashV1), undefined);
});

test('a saved bitfield of the wrong size is not trusted at all: every piece on disk is hashed', async () => {
  const rec = record([0, 5], await markFiles(root, parsed));
  rec.bitfield = Buffer.alloc(Math.ceil(parsed.pieceCount / 8) + 3, 0xff).toString('base64');
  const res = await check(rec);
  assert.equal(res.trusted, 0);
  assert.equal(res.rechecked, parsed.pieceCount);
});

test('a download record with every piece in but not complete (its final check failed) is hashed again', async () => {
  // Piece 1 of a.bin is damaged on disk (earlier test) while the record claims every piece and the marks match:
  // trusting it would end in "NOT VERIFIED" on every run.
  const all = Array.from({ length: parsed.pieceCount }, (_, i) => i);
  const rec = record(all, await markFiles(root, parsed));
  const res = await check(rec);
  assert.equal(res.trusted, 0);
  assert.equal(res.rechecked, parsed.pieceCount);
  assert.equal(bitGet(res.bitfield, 1), false, 'the damaged piece is found and will be fetched again');
  // A complete record is still trusted as it is.
  const done = await check({ ...rec, complete: true });
  assert.equal(done.trusted, parsed.pieceCount);
});

test('the pieces are hashed in the worker pool, not on this thread', async () => {
  // Fresh state (a seed of an existing folder): every piece on disk is checked. Piece 1 of a.bin is damaged (above).
  const pool = getHashPool();
  const tasks: SpanTask[] = [];
  const hashSpans = pool.hashSpans.bind(pool);
  const spy = mock.method(pool, 'hashSpans', (t: SpanTask[], o?: Parameters<HashPool['hashSpans']>[1]) => {
    tasks.push(...t);
    return hashSpans(t, o);
  });
  try {
    const { result: res, count } = await sha1sOnThisThread(() => check(undefined));
    assert.equal(res.rechecked, parsed.pieceCount);
    assert.equal(res.valid, parsed.pieceCount - 1, 'all but the damaged piece');
    assert.equal(bitGet(res.bitfield, 1), false);
    assert.equal(count, 0, 'no SHA-1 on the calling thread');
    const bytes = tasks.reduce((n, t) => n + t.segments.reduce((m, g) => m + g.length, 0), 0);
    assert.equal(bytes, parsed.length, 'every byte went to the workers');
  } finally {
    spy.mock.restore();
  }
});

test('v1 pieces that span two files and a pad file are checked in the workers like any other', async () => {
  const pl = PIECE;
  const dir = path.join(tmp, 'spans');
  const a = crypto.randomBytes(pl + pl / 2); // piece 1 = second half of a.bin + first half of b.bin
  const b = crypto.randomBytes(pl - 1000); // piece 2 = the rest of b.bin + a 1500-byte pad + c.bin's start
  const c = crypto.randomBytes(2 * pl + 300); // the torrent's short last piece is c.bin's tail
  const t = v1Torrent(
    [{ name: 'a.bin', data: a }, { name: 'b.bin', data: b }, { pad: 1500 }, { name: 'c.bin', data: c }],
    pl,
  );
  assert.ok(t.files.some((f) => f.pad));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'a.bin'), a);
  await writeFile(path.join(dir, 'b.bin'), b);
  await writeFile(path.join(dir, 'c.bin'), c);
  const { result: res, count } = await sha1sOnThisThread(() => check(undefined, t, dir));
  assert.equal(count, 0);
  assert.equal(res.rechecked, t.pieceCount);
  assert.equal(res.valid, t.pieceCount, 'every piece, the spanning and padded ones included');

  // One byte of b.bin changed: only the two pieces it is in fail.
  const fh = await open(path.join(dir, 'b.bin'), 'r+');
  await fh.write(Buffer.from([b[10] ^ 0xff]), 0, 1, 10);
  await fh.write(Buffer.from([b[b.length - 1] ^ 0xff]), 0, 1, b.length - 1);
  await fh.close();
  const bad = await check(undefined, t, dir);
  assert.deepEqual(
    Array.from({ length: t.pieceCount }, (_, p) => bitGet(bad.bitfield, p)),
    Array.from({ length: t.pieceCount }, (_, p) => p !== 1 && p !== 2),
  );
});

test('a missing file and a truncated one: their pieces are not valid, every other piece is', async () => {
  const dir = path.join(tmp, 'holes');
  await mkdir(dir, { recursive: true });
  const names = ['a.bin', 'b.bin', 'c.bin', 'd.bin'];
  for (const n of names) await writeFile(path.join(dir, n), crypto.randomBytes(3 * PIECE));
  const t = parseTorrent((await createTorrent(dir, { pieceLength: PIECE })).torrentBytes);
  const first = (n: string) => t.files.find((f) => f.path.join('/') === n)!.offset / PIECE;
  await unlink(path.join(dir, 'b.bin'));
  await truncate(path.join(dir, 'c.bin'), PIECE + 10); // its first piece whole, the next two gone
  const res = await check(undefined, t, dir);
  const expected = new Set([first('a.bin'), first('a.bin') + 1, first('a.bin') + 2, first('c.bin')]);
  for (let p = first('d.bin'); p < first('d.bin') + 3; p++) expected.add(p);
  const got = new Set(Array.from({ length: t.pieceCount }, (_, p) => p).filter((p) => bitGet(res.bitfield, p)));
  assert.deepEqual(got, expected);
  assert.equal(res.valid, expected.size);
});

test('a download never counts a file reached through a link as its own (the workers read what the store would)', async () => {
  const dest = path.join(tmp, 'dest');
  const dir = path.join(dest, 'linked');
  const outside = path.join(tmp, 'outside');
  await mkdir(dir, { recursive: true });
  await mkdir(outside, { recursive: true });
  const data = { 'a.bin': crypto.randomBytes(2 * PIECE), 'b.bin': crypto.randomBytes(2 * PIECE) };
  for (const [n, d] of Object.entries(data)) await writeFile(path.join(dir, n), d);
  const t = parseTorrent((await createTorrent(dir, { pieceLength: PIECE })).torrentBytes);
  // b.bin is now a link to a copy of the right bytes outside the destination.
  await writeFile(path.join(outside, 'b.bin'), data['b.bin']);
  await unlink(path.join(dir, 'b.bin'));
  await symlink(path.join(outside, 'b.bin'), path.join(dir, 'b.bin'));
  const res = await check(undefined, t, dir, { download: dest });
  const bFirst = t.files.find((f) => f.path.join('/') === 'b.bin')!.offset / PIECE;
  assert.equal(res.valid, 2, "a.bin's pieces only");
  assert.ok(!bitGet(res.bitfield, bFirst) && !bitGet(res.bitfield, bFirst + 1));
  // A seed follows the link (it shares what the user points at).
  assert.equal((await check(undefined, t, dir)).valid, 4);
});

test('workers that cannot run: the check falls back to this thread, with the same result', async () => {
  const broken = new HashPool({ size: 1 });
  await broken.close(); // every call now rejects
  const normal = await check(undefined);
  const { result: res, count } = await sha1sOnThisThread(() =>
    check(undefined, parsed, root, { resume: { pool: broken } }),
  );
  assert.deepEqual(res, normal);
  assert.equal(count, parsed.pieceCount, 'hashed here instead');
});

test('after the workers fail a run whose files read fine, the rest of the check stays on this thread', async () => {
  // Eight one-piece files, every other one missing but the last: four runs to hash ([0], [2], [4], [6, 7]).
  const dir = path.join(tmp, 'runs');
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < 8; i++) await writeFile(path.join(dir, `f${i}.bin`), crypto.randomBytes(PIECE));
  const t = parseTorrent((await createTorrent(dir, { pieceLength: PIECE })).torrentBytes);
  for (const i of [1, 3, 5]) await unlink(path.join(dir, `f${i}.bin`));
  const failing = new HashPool({ size: 1 });
  const calls = mock.method(failing, 'hashSpans', async () => {
    throw new Error('hash worker failed: cannot start');
  });
  const res = await check(undefined, t, dir, { resume: { pool: failing } });
  // The two runs sent at once (two per worker) fail; the other two are not sent.
  assert.equal(calls.mock.callCount(), 2, 'no more runs sent to the workers after they failed');
  assert.deepEqual(
    Array.from({ length: t.pieceCount }, (_, p) => bitGet(res.bitfield, p)),
    [true, false, true, false, true, false, true, true],
  );
});

test("an aborted check stops with the signal's reason", async () => {
  const ac = new AbortController();
  ac.abort(new Error('transfer removed'));
  await assert.rejects(check(undefined, parsed, root, { resume: { signal: ac.signal } }), /transfer removed/);
});
