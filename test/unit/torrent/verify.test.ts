import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, open, unlink, truncate, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyTorrent, resolveContentRoot } from '../../../src/torrent/verify.js';
import { HashPool } from '../../../src/torrent/hash-pool.js';
import { buildTorrent, bytes, writeFiles, type DataFile } from './verify-fixtures.js';

const pool = new HashPool({ size: 2 });
const dirs: string[] = [];
after(async () => {
  await pool.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'silmaril-verify-'));
  dirs.push(d);
  return d;
}

const PL = 16384;
// Lengths chosen so that v1 pieces span files: 16 KiB ± 1, one byte, empty, several pieces.
function corpus(): DataFile[] {
  return [
    { path: ['a.bin'], data: bytes(16383, 1) },
    { path: ['b.bin'], data: bytes(16385, 2) },
    { path: ['empty'], data: Buffer.alloc(0) },
    { path: ['one'], data: bytes(1, 3) },
    { path: ['sub', 'big.safetensors'], data: bytes(5 * PL + 77, 4) },
    { path: ['sub', 'tokenizer.json'], data: bytes(3000, 5) },
  ];
}

/** The corpus written under a fresh folder as `<base>/content`, and its torrent of `kind`. */
async function writtenCorpus(kind: 'v1' | 'v2' | 'hybrid') {
  const base = await tmp();
  const files = corpus();
  const { torrent } = buildTorrent(files, kind, PL);
  const root = join(base, 'content');
  await writeFiles(root, files);
  return { torrent, base, root, files };
}

async function flip(file: string, position: number): Promise<void> {
  const fh = await open(file, 'r+');
  const buf = Buffer.alloc(1);
  await fh.read(buf, 0, 1, position);
  buf[0] ^= 0xff;
  await fh.write(buf, 0, 1, position);
  await fh.close();
}

for (const kind of ['v1', 'v2', 'hybrid'] as const) {
  test(`${kind}: good data verifies, every byte checked; the folder or its parent are both accepted`, async () => {
    const { torrent, base } = await writtenCorpus(kind);
    let progressed = 0;
    const r = await verifyTorrent(torrent, base, { pool, onProgress: (d) => (progressed = d) });
    assert.equal(r.ok, true, JSON.stringify(r.damagedFiles));
    assert.equal(r.root, join(base, 'content'));
    assert.equal(r.bytesChecked, torrent.length);
    assert.equal(progressed, torrent.length);
    const r2 = await verifyTorrent(torrent, join(base, 'content'), { pool });
    assert.equal(r2.ok, true);
    // nothing written
    assert.deepEqual((await readdir(base)).sort(), ['content']);
  });

  test(`${kind}: a flipped byte names the file and the piece`, async () => {
    const { torrent, root } = await writtenCorpus(kind);
    await flip(join(root, 'sub', 'big.safetensors'), 2 * PL + 5);
    const r = await verifyTorrent(torrent, root, { pool });
    assert.equal(r.ok, false);
    const big = torrent.files.find((f) => f.path.join('/') === 'sub/big.safetensors')!;
    const piece = Math.floor((big.offset + 2 * PL + 5) / PL);
    assert.deepEqual(
      r.damagedFiles.map((d) => [d.path, d.reason, d.badPieces]),
      [['sub/big.safetensors', 'content', [piece]]],
    );
    assert.deepEqual(r.badPieces, [piece]);
    if (kind !== 'v1') assert.deepEqual(r.damagedFiles[0].badBlocks, [2]); // 16 KiB pieces: piece = block
  });

  test(`${kind}: missing and wrong-size files are reported`, async () => {
    const { torrent, root } = await writtenCorpus(kind);
    await unlink(join(root, 'one'));
    await truncate(join(root, 'sub', 'tokenizer.json'), 10);
    const r = await verifyTorrent(torrent, root, { pool });
    assert.equal(r.ok, false);
    const byPath = new Map(r.damagedFiles.map((d) => [d.path, d]));
    assert.equal(byPath.get('one')?.reason, 'missing');
    assert.equal(byPath.get('sub/tokenizer.json')?.reason, 'size');
    assert.equal(byPath.get('sub/tokenizer.json')?.actualLength, 10);
    if (kind !== 'v1') {
      // aligned files: the others are untouched
      assert.equal(r.damagedFiles.length, 2);
    } else {
      // v1: "one" shares its piece with its neighbours, which cannot be confirmed
      for (const d of r.damagedFiles) if (d.reason === 'content') assert.ok(d.badPieces?.length);
    }
  });

  test(`${kind}: a file that is there but cannot be read is "unreadable", with why, not "missing"`, async () => {
    // Real unreadable cases even for root (tests run as root: chmod would not stop it): a folder in a file's place,
    // and a symbolic link loop. Permission denied is covered as another user in test/integration/cli-errors.
    const { torrent, base, root } = await writtenCorpus(kind);
    await unlink(join(root, 'one'));
    await mkdir(join(root, 'one'));
    await unlink(join(root, 'sub', 'tokenizer.json'));
    await symlink('tokenizer.json', join(root, 'sub', 'tokenizer.json'));
    await unlink(join(root, 'a.bin')); // really missing, for contrast
    const r = await verifyTorrent(torrent, base, { pool });
    assert.equal(r.ok, false);
    const by = new Map(r.damagedFiles.map((d) => [d.path, d]));
    assert.equal(by.get('one')?.reason, 'unreadable');
    assert.equal(by.get('one')?.why, 'a folder, not a file');
    assert.equal(by.get('sub/tokenizer.json')?.reason, 'unreadable');
    assert.equal(by.get('sub/tokenizer.json')?.why, 'a symbolic link loop');
    assert.equal(by.get('a.bin')?.reason, 'missing');
    // v2 and hybrid files are piece-aligned: the files around them still verify (in v1, pieces shared with an
    // unreadable file cannot be confirmed, and flag their neighbours).
    if (kind !== 'v1') assert.equal(by.has('sub/big.safetensors'), false);
  });
}

test('v1 piece spanning files: damage in one file flags every file of that piece', async () => {
  const { torrent, root } = await writtenCorpus('v1');
  await flip(join(root, 'b.bin'), 0); // stream byte 16383: piece 0 holds all of a.bin and b.bin's first byte
  const r = await verifyTorrent(torrent, root, { pool });
  assert.deepEqual(
    r.damagedFiles.map((d) => [d.path, d.badPieces]),
    [
      ['a.bin', [0]],
      ['b.bin', [0]],
    ],
  );
});

test('hybrid without a pad after the last file, and single-file torrents of every kind', async () => {
  for (const kind of ['v1', 'v2', 'hybrid'] as const) {
    const base = await tmp();
    const data = bytes(3 * PL + 100, 9);
    const { torrent } = buildTorrent([{ path: ['w.gguf'], data }], kind, PL, 'w.gguf', true);
    assert.equal(torrent.singleFile, true);
    await writeFiles(base, [{ path: ['w.gguf'], data }]);
    assert.equal((await verifyTorrent(torrent, base, { pool })).ok, true, kind);
    assert.equal((await verifyTorrent(torrent, join(base, 'w.gguf'), { pool })).ok, true, kind);
    await flip(join(base, 'w.gguf'), 3 * PL + 99);
    const r = await verifyTorrent(torrent, join(base, 'w.gguf'), { pool });
    assert.deepEqual(
      r.damagedFiles.map((d) => [d.path, d.badPieces]),
      [['w.gguf', [3]]],
      kind,
    );
  }
});

test('larger pieces: v2 localises the bad piece through the piece layer', async () => {
  const base = await tmp();
  const pl = 4 * PL;
  const files = [
    { path: ['x.bin'], data: bytes(5 * pl + 3, 11) },
    { path: ['y.bin'], data: bytes(100, 12) },
  ];
  const { torrent } = buildTorrent(files, 'v2', pl);
  const root = join(base, 'content');
  await writeFiles(root, files);
  await flip(join(root, 'x.bin'), 3 * pl + 1);
  const r = await verifyTorrent(torrent, root, { pool });
  assert.deepEqual(
    r.damagedFiles.map((d) => [d.path, d.reason, d.badPieces, d.badBlocks]),
    [['x.bin', 'content', [3], undefined]],
  );
});

test('content root resolution: renamed folder, and a missing path is a clear error', async () => {
  const base = await tmp();
  const files = corpus();
  const { torrent } = buildTorrent(files, 'hybrid', PL);
  await writeFiles(join(base, 'renamed'), files);
  assert.equal(await resolveContentRoot(torrent, join(base, 'renamed')), join(base, 'renamed'));
  assert.equal((await verifyTorrent(torrent, join(base, 'renamed'), { pool })).ok, true);
  await assert.rejects(resolveContentRoot(torrent, join(base, 'nope')), /no such file or folder/);
});

test('abort stops verification with the signal reason', async () => {
  const { torrent, base } = await writtenCorpus('v1');
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(verifyTorrent(torrent, base, { pool, signal: ac.signal }), /stop/);
});
