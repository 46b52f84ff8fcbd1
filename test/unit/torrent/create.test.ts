// Torrent creation: the piece-length policy, the folder walk (exclusions, links, order), the hybrid layout
// (pad files, single files, piece layers, optional keys) and cancellation. Parity with libtorrent itself is
// test/interop/libtorrent-create.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bencode from 'bencode';
import { choosePieceLength, isValidPieceLength } from '../../../src/torrent/piece-length.js';
import { comparePaths, walk } from '../../../src/torrent/walk.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { TorrentError } from '../../../src/torrent/types.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
let dir: string;

async function put(file: string, data: Uint8Array | number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, typeof data === 'number' ? crypto.randomBytes(data) : data);
}
const sha1 = (b: Uint8Array) => crypto.createHash('sha1').update(b).digest();
const str = (b: Uint8Array) => Buffer.from(b).toString();

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'silmaril-create-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('piece length policy: powers of two from 16 KiB to 16 MiB, at most 2048 pieces up to 32 GiB', () => {
  assert.equal(choosePieceLength(0), 16 * KiB);
  assert.equal(choosePieceLength(1), 16 * KiB);
  assert.equal(choosePieceLength(32 * MiB), 16 * KiB);
  assert.equal(choosePieceLength(32 * MiB + 1), 32 * KiB);
  assert.equal(choosePieceLength(2 * GiB), MiB);
  assert.equal(choosePieceLength(2 * GiB + 1), 2 * MiB);
  assert.equal(choosePieceLength(14 * GiB), 8 * MiB);
  assert.equal(choosePieceLength(32 * GiB), 16 * MiB);
  assert.equal(choosePieceLength(1024 * GiB), 16 * MiB);
  for (let size = 33 * MiB; size <= 32 * GiB; size = Math.floor(size * 1.37)) {
    const pl = choosePieceLength(size);
    const pieces = Math.ceil(size / pl);
    assert.ok(isValidPieceLength(pl), `${size}: ${pl}`);
    assert.ok(pieces > 1024 && pieces <= 2048, `${size} bytes -> ${pieces} pieces of ${pl}`);
  }
  for (const bad of [0, 8 * KiB, 16 * KiB + 1, 3 * 16 * KiB, 32 * MiB, 1.5])
    assert.equal(isValidPieceLength(bad), false);
});

test('walk: VCS and state folders left out unless asked, hidden files in, bytewise order', async () => {
  const root = path.join(dir, 'walk');
  await put(path.join(root, '.git', 'HEAD'), 10);
  await put(path.join(root, 'nested', '.svn', 'entries'), 10);
  await put(path.join(root, '.hg', 'store'), 10);
  await put(path.join(root, '.silmaril', 'state.db'), 10);
  await put(path.join(root, '.hidden'), 10);
  await put(path.join(root, '.gitignore'), 10);
  await put(path.join(root, 'sub', 'x'), 10);
  await put(path.join(root, 'sub-dash'), 10);
  await put(path.join(root, 'sub.txt'), 10);
  await put(path.join(root, 'nested', 'model.safetensors'), 10);
  const w = await walk(root);
  assert.deepEqual(
    w.files.map((f) => f.path.join('/')),
    ['.gitignore', '.hidden', 'nested/model.safetensors', 'sub/x', 'sub-dash', 'sub.txt'],
  );
  const all = await walk(root, { includeVcs: true });
  for (const p of ['.git/HEAD', '.hg/store', '.silmaril/state.db', 'nested/.svn/entries']) {
    assert.ok(
      all.files.some((f) => f.path.join('/') === p),
      `${p} with includeVcs`,
    );
  }
  assert.ok(comparePaths(['sub', 'x'], ['sub-dash']) < 0);
  assert.ok(comparePaths(['ｆ'], ['😀']) < 0, 'UTF-8 bytes, not UTF-16 units');
});

test('walk: links are followed only to files inside the folder', async () => {
  const root = path.join(dir, 'links');
  const outside = path.join(dir, 'outside.bin');
  await put(outside, 50);
  await put(path.join(root, 'real.bin'), 40);
  await put(path.join(root, 'folder', 'inner.bin'), 30);
  await symlink('real.bin', path.join(root, 'inside-link'));
  await symlink(outside, path.join(root, 'outside-link'));
  await symlink('../../links/folder/inner.bin', path.join(root, 'folder', 'roundabout'));
  await symlink('folder', path.join(root, 'dir-link'));
  await symlink('nowhere', path.join(root, 'dangling'));
  const w = await walk(root);
  assert.deepEqual(
    w.files.map((f) => [f.path.join('/'), f.length, f.executable]),
    [
      ['folder/inner.bin', 30, false],
      ['folder/roundabout', 30, true], // libtorrent: a link's own mode bits give attr x
      ['inside-link', 40, true],
      ['real.bin', 40, false],
    ],
  );
  assert.deepEqual(w.skipped.map((s) => s.path.join('/')).sort(), ['dangling', 'dir-link', 'outside-link']);
  assert.match(w.skipped.find((s) => s.path[0] === 'outside-link')!.reason, /outside/);
});

test('walk: a name that is not UTF-8 is skipped and reported, not fatal', async () => {
  const root = path.join(dir, 'latin1');
  await put(path.join(root, 'ok.txt'), 5);
  await writeFile(Buffer.concat([Buffer.from(root + '/caf'), Buffer.from([0xe9])]), 'x');
  const w = await walk(root);
  assert.deepEqual(
    w.files.map((f) => f.path.join('/')),
    ['ok.txt'],
  );
  assert.equal(w.skipped.length, 1);
  assert.match(w.skipped[0].reason, /UTF-8/);
});

test('hybrid layout: pad files after every unaligned file (the last too), piece layers for multi-piece files', async () => {
  const root = path.join(dir, 'layout');
  await put(path.join(root, 'a.bin'), 16 * KiB); // aligned: no pad
  await put(path.join(root, 'b.bin'), 40_000); // 3 pieces: pad, piece layer
  await put(path.join(root, 'c.empty'), 0); // empty: no pad, no pieces root
  await put(path.join(root, 'd.bin'), 100); // last, unaligned: pad
  const t = await createTorrent(root, { pieceLength: 16 * KiB });
  const decoded = bencode.decode(t.torrentBytes);
  const files = decoded.info.files.map((f: any) => [f.path.map(str).join('/'), f.length, f.attr && str(f.attr)]);
  assert.deepEqual(files, [
    ['a.bin', 16384, undefined],
    ['b.bin', 40000, undefined],
    ['.pad/9152', 9152, 'p'],
    ['c.empty', 0, undefined],
    ['d.bin', 100, undefined],
    ['.pad/16284', 16284, 'p'],
  ]);
  assert.equal(decoded.info['meta version'], 2);
  assert.equal(t.pieceCount, 1 + 3 + 1);
  assert.equal(decoded.info.pieces.length, 20 * t.pieceCount);
  const layerKeys = Object.keys(decoded['piece layers']);
  assert.equal(layerKeys.length, 1, 'only b.bin is larger than one piece');
  assert.equal(decoded.info['file tree']['c.empty'][''].length, 0);
  assert.equal(decoded.info['file tree']['c.empty']['']['pieces root'], undefined);
  // The infohashes are over the info dictionary's bytes as they sit in the file; the parser agrees.
  assert.equal(t.infoHashV1, sha1(t.infoBytes).toString('hex'));
  const parsed = parseTorrent(t.torrentBytes);
  assert.equal(parsed.version, 'hybrid');
  assert.equal(parsed.infoHashV1, t.infoHashV1);
  assert.equal(parsed.infoHashV2, t.infoHashV2);
  assert.equal(parsed.length, 16 * KiB + 40_000 + 100);
  assert.match(t.magnet, new RegExp(`xt=urn:btih:${t.infoHashV1}&xt=urn:btmh:1220${t.infoHashV2}&dn=layout`));
});

test('single-file torrent: `length`, no pad file, last piece hashed unpadded', async () => {
  const f = path.join(dir, 'single', 'weights.bin');
  const data = crypto.randomBytes(40_000);
  await put(f, data);
  const t = await createTorrent(f, { pieceLength: 16 * KiB });
  const info = bencode.decode(t.infoBytes);
  assert.equal(info.files, undefined);
  assert.equal(info.length, 40_000);
  assert.equal(str(info.name), 'weights.bin');
  assert.deepEqual(Object.keys(info['file tree']), ['weights.bin']);
  const pieces = Buffer.from(info.pieces);
  assert.deepEqual(pieces.subarray(40), sha1(data.subarray(32 * KiB)));
  assert.equal(t.singleFile, true);
  assert.deepEqual(t.files, [{ path: ['weights.bin'], length: 40_000 }]);

  // An executable single file: `attr x` in its file-tree entry and, as libtorrent writes it, at the top of info.
  const exe = path.join(dir, 'single-exe', 'run.sh');
  await put(exe, 100);
  await chmod(exe, 0o755);
  const e = bencode.decode((await createTorrent(exe)).infoBytes);
  assert.equal(str(e.attr), 'x');
  assert.equal(str(e['file tree']['run.sh'][''].attr), 'x');

  // A folder of one file is a folder torrent, but like libtorrent without a pad file: same unpadded last piece.
  const folder = await createTorrent(path.dirname(f), { pieceLength: 16 * KiB });
  const finfo = bencode.decode(folder.infoBytes);
  assert.equal(finfo.files.length, 1);
  assert.deepEqual(finfo.files[0].path.map(str), ['weights.bin']);
  assert.deepEqual(Buffer.from(finfo.pieces), pieces);
});

test('optional keys: trackers, web seeds, comment outside info; private and source inside', async () => {
  const root = path.join(dir, 'opts');
  await put(path.join(root, 'x.bin'), 5000);
  const plain = await createTorrent(root, { pieceLength: 16 * KiB });
  const dressed = await createTorrent(root, {
    pieceLength: 16 * KiB,
    trackers: ['http://t1.example/announce', 'udp://t2.example:6969'],
    webSeeds: ['https://ws.example/files/'],
    comment: 'hello',
    createdBy: 'silmaril test',
    creationDate: 1_700_000_000,
  });
  assert.equal(dressed.infoHashV1, plain.infoHashV1, 'keys outside info leave the infohash alone');
  assert.equal(dressed.infoHashV2, plain.infoHashV2);
  const d = bencode.decode(dressed.torrentBytes);
  assert.equal(str(d.announce), 'http://t1.example/announce');
  assert.deepEqual(
    d['announce-list'].map((tier: Uint8Array[]) => tier.map(str)),
    [['http://t1.example/announce'], ['udp://t2.example:6969']],
  );
  assert.deepEqual(d['url-list'].map(str), ['https://ws.example/files/']);
  assert.equal(str(d.comment), 'hello');
  assert.equal(str(d['created by']), 'silmaril test');
  assert.equal(d['creation date'], 1_700_000_000);
  assert.match(dressed.magnet, /&tr=http%3A%2F%2Ft1.example%2Fannounce&tr=udp%3A%2F%2Ft2.example%3A6969&ws=https%3A/);

  const priv = await createTorrent(root, { pieceLength: 16 * KiB, private: true, source: 'team-a' });
  assert.notEqual(priv.infoHashV1, plain.infoHashV1);
  const info = bencode.decode(priv.infoBytes);
  assert.equal(info.private, 1);
  assert.equal(str(info.source), 'team-a');
  const parsed = parseTorrent(priv.torrentBytes);
  assert.equal(parsed.private, true);
  assert.equal(parsed.infoHashV2, priv.infoHashV2);
});

test('nothing to share, bad piece lengths and bad names are clear errors', async () => {
  await mkdir(path.join(dir, 'void'), { recursive: true });
  await assert.rejects(
    createTorrent(path.join(dir, 'void')),
    (e: Error) => e instanceof TorrentError && /no files/.test(e.message),
  );
  await put(path.join(dir, 'zeros', 'a'), 0);
  await assert.rejects(createTorrent(path.join(dir, 'zeros')), /every file is empty/);
  await put(path.join(dir, 'blobs', 'abc123'), 10);
  await mkdir(path.join(dir, 'snapshot'));
  await symlink('../blobs/abc123', path.join(dir, 'snapshot', 'config.json'));
  await assert.rejects(
    createTorrent(path.join(dir, 'snapshot')),
    /no files \(1 symbolic link points outside the folder\)/,
  );
  await put(path.join(dir, 'ok', 'a'), 10);
  await assert.rejects(createTorrent(path.join(dir, 'ok'), { pieceLength: 20_000 }), /power of two/);
  await assert.rejects(createTorrent(path.join(dir, 'ok'), { name: '../evil' }), /bad torrent name/);
  await assert.rejects(createTorrent(path.join(dir, 'does-not-exist')), TorrentError);
});

test('progress reaches the total; abort stops hashing with an AbortError', async () => {
  const root = path.join(dir, 'abort');
  await put(path.join(root, 'big.bin'), 12 * MiB);
  await put(path.join(root, 'small.bin'), 1000);
  let last = 0;
  await createTorrent(root, { pieceLength: 64 * KiB, onProgress: (done, total) => (last = done / total) });
  assert.equal(last, 1);

  const ac = new AbortController();
  await assert.rejects(
    createTorrent(root, { pieceLength: 16 * KiB, signal: ac.signal, onProgress: () => ac.abort() }),
    { name: 'AbortError' },
  );
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(createTorrent(root, { signal: pre.signal }), { name: 'AbortError' });
  // The shared pool still works after a cancelled call.
  const again = await createTorrent(root, { pieceLength: 64 * KiB });
  assert.equal(again.length, 12 * MiB + 1000);
});
