// Resume after a crash: the saved bitfield is trusted only for files whose size and mtime are unchanged; pieces on
// disk that cannot be trusted are hashed again, good ones kept, bad ones dropped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdir, mkdtemp, open, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { layoutFor } from '../../../src/engine/layout.js';
import { bitGet, countBits, markFiles, resumeBitfield } from '../../../src/engine/resume.js';
import type { TransferRecord } from '../../../src/engine/state.js';
import { StateDir } from '../../../src/engine/state.js';
import { PieceStore } from '../../../src/engine/store.js';
import { createTorrent } from '../../../src/torrent/create.js';
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

async function check(rec: TransferRecord | undefined) {
  const store = new PieceStore(layoutFor(root, parsed), { writable: false });
  try {
    return await resumeBitfield(parsed, root, rec, store);
  } finally {
    store.close();
  }
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
