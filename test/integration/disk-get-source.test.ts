// Issue 14 item 5 through the real CLI: what `silmaril get` accepts as its source, and what it says while a hash
// finds no metadata. Before: a 64-hex v2 hash gave `ENOENT: no such file or directory, open '<hash>'`, and a 40-hex
// hash nobody knows (qBittorrent's truncated v2 hash of a hybrid) sat in "metadata" with nothing said.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI, killAll, offline, silmaril } from './engine-helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-get-source-'));
});
after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function getSync(source: string) {
  return spawnSync(
    process.execPath,
    [CLI, 'get', source, '--out', path.join(tmp, 'out'), '--home', path.join(tmp, 'home'), '--no-dht', '--no-lsd'],
    { encoding: 'utf8', timeout: 30_000, cwd: tmp },
  );
}

test('anything but a magnet, a .torrent, a 40-hex or a 64-hex hash is a one-line usage error (exit 2)', async () => {
  for (const [arg, re] of [
    [
      'not-a-thing',
      /^silmaril get: not-a-thing is not a magnet link, a \.torrent file, an infohash or an org\/model name \(try: silmaril get magnet:/,
    ],
    ['0123456789abcdef0123456789abcdef0123456789ab', /44 hex digits/],
    ['nowhere/model.torrent', /no such torrent file: nowhere\/model\.torrent/],
    ['magnet:?xt=urn:btih:xyz', /bad magnet link/],
  ] as const) {
    const r = getSync(arg);
    assert.equal(r.status, 2, `${arg}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // A file that is not a torrent: the error names the file.
  const junk = path.join(tmp, 'junk.torrent');
  await writeFile(junk, 'hello');
  const r = getSync(junk);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`${junk.replace(/[.]/g, '\\.')}: not a torrent`));
});

test('a 64-hex v2 infohash becomes a btmh magnet (no ENOENT, no file lookup)', async () => {
  const v2 = 'ab'.repeat(32);
  const p = silmaril(['get', v2, '--out', path.join(tmp, 'v2out'), ...offline(path.join(tmp, 'v2home'))]);
  // Either the engine joins by btmh (waits for metadata) or it says why it cannot: never a file error.
  const first = await Promise.race([
    p.waitFor((l) => l.event === 'stats', 30_000).then(() => 'joined'),
    p.exited.then(() => 'exited'),
  ]);
  p.kill();
  await p.exited;
  const err = p.stderr.join('\n');
  assert.doesNotMatch(err, /ENOENT|no such file/);
  if (first === 'exited') assert.match(err, /v2|btmh/);
  else assert.ok(p.lines.some((l) => l.event === 'stats' && l.status === 'metadata'));
});

test('a 40-hex hash nobody serves: the progress line and --verbose say it is waiting for metadata', async () => {
  const v1 = 'cd'.repeat(20);
  const p = silmaril(
    [
      'get',
      v1,
      '--out',
      path.join(tmp, 'v1out'),
      '--home',
      path.join(tmp, 'v1home'),
      '--no-dht',
      '--no-lsd',
      '--verbose',
    ],
    { env: { SILMARIL_METADATA_HINT_S: '1' } },
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !p.stderr.some((l) => /qBittorrent/.test(l)))
    await new Promise((r) => setTimeout(r, 200));
  p.kill();
  await p.exited;
  const err = p.stderr.join('\n');
  assert.match(err, /waiting for metadata from 0 peers…/);
  assert.match(err, new RegExp(`no metadata for ${v1} after \\d+ s from 0 peer`));
  assert.match(err, /v2 hash cut short.*64-hex v2 hash/);
});

test('get prints the warnings of a torrent it accepted despite a malformed optional key', async () => {
  const { default: bencode } = await import('bencode');
  const { createTorrent } = await import('../../src/torrent/create.js');
  const { makeFolder } = await import('./engine-helpers.js');
  const model = path.join(tmp, 'warn-src', 'tiny');
  await makeFolder(model, { 'a.bin': 1000 });
  const made = await createTorrent(model, { pieceLength: 16384 });
  const dict = bencode.decode(Buffer.from(made.torrentBytes));
  dict['announce-list'] = 5;
  dict.comment = 7;
  const file = path.join(tmp, 'warn.torrent');
  await writeFile(file, bencode.encode(dict));
  const p = silmaril(['get', file, '--out', path.join(tmp, 'warn-out'), ...offline(path.join(tmp, 'warn-home'))]);
  await p.waitFor((l) => l.event === 'stats', 30_000);
  p.kill();
  await p.exited;
  const err = p.stderr.join('\n');
  assert.match(err, /warning: .*warn\.torrent: ignored "announce-list": it must be a list, is an integer/);
  assert.match(err, /warning: .*ignored "comment"/);
});

test('get downloads and verifies a hybrid .torrent without piece layers (as qBittorrent exports it)', async () => {
  const { createTorrent } = await import('../../src/torrent/create.js');
  const { makeFolder, snapshot } = await import('./engine-helpers.js');
  const model = path.join(tmp, 'nolayers-src', 'tiny');
  await makeFolder(model, { 'a.bin': 100_000, 'sub/b.bin': 70_000, 'c.json': '{}' });
  const made = await createTorrent(model, { pieceLength: 16384 });
  const full = path.join(tmp, 'full.torrent');
  const stripped = path.join(tmp, 'stripped.torrent');
  await writeFile(full, made.torrentBytes);
  await writeFile(stripped, Buffer.concat([Buffer.from('d4:info'), made.infoBytes, Buffer.from('e')]));
  const seeder = silmaril(['seed', model, '--torrent', full, ...offline(path.join(tmp, 'nolayers-seed'))]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    const out = path.join(tmp, 'nolayers-out');
    const get = silmaril([
      'get',
      stripped,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${ready.port}`,
      ...offline(path.join(tmp, 'nolayers-get')),
    ]);
    const done = await get.waitFor((l) => l.event === 'done', 60_000);
    assert.equal(await get.exited, 0, get.stderr.join('\n'));
    assert.equal(done.verified, true);
    assert.match(get.stderr.join('\n'), /warning: .*piece layers are missing for 2 files/);
    assert.deepEqual(await snapshot(path.join(out, 'tiny')), await snapshot(model));
  } finally {
    seeder.kill();
    await seeder.exited;
  }
});
