// uTP (BEP 29) against libtorrent 2.0 (Debian python3-libtorrent) with only uTP on, on both sides: libtorrent's
// TCP is off (in and out) and silmaril runs with --no-tcp, so no byte can move any other way.
// - libtorrent downloads from `silmaril seed` over uTP: complete, byte-identical, libtorrent reports uTP peers;
// - `silmaril get` downloads from a libtorrent seed over uTP: complete, verified, byte-identical.
// In CI a missing libtorrent is a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  createTorrentFile,
  killAll,
  libtorrentSkip,
  ltDone,
  ltGet,
  ltSeed,
  modelFixture,
  offline,
  silmaril,
  silmarilGet,
  snapshot,
} from '../integration/engine-helpers.js';

const skip = libtorrentSkip();
const PIECE = 64 * 1024;

let tmp: string;
let model: string;
let torrentFile: string;
let original: Map<string, string>;

before(async () => {
  if (skip) return;
  ({ tmp, model } = await modelFixture('silmaril-lt-utp-'));
  torrentFile = path.join(tmp, 'tiny.torrent');
  createTorrentFile(model, torrentFile, PIECE);
  original = await snapshot(model);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('libtorrent (uTP only) downloads from silmaril seed --no-tcp', { skip }, async () => {
  const seeder = silmaril([
    'seed',
    model,
    '--torrent',
    torrentFile,
    '--no-tcp',
    ...offline(path.join(tmp, 'seed-home')),
  ]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    const save = path.join(tmp, 'lt-get');
    const lt = ltGet({ torrent: torrentFile }, save, [
      '--peer',
      `127.0.0.1:${ready.port}`,
      '--transport',
      'utp',
      '--timeout',
      '120',
    ]);
    // libtorrent's TCP is off both ways and the seed refuses TCP: a completed download came over uTP.
    const done = await ltDone(lt, 120_000);
    assert.equal(done.progress, 1);
    assert.deepEqual(await snapshot(path.join(save, 'tiny-model')), original);
  } finally {
    seeder.kill();
  }
});

test('silmaril get --no-tcp downloads from libtorrent (uTP only)', { skip }, async () => {
  const { proc: lt, port } = await ltSeed(torrentFile, path.dirname(model), ['--transport', 'utp']);
  const out = path.join(tmp, 'sil-get');
  await silmarilGet(torrentFile, out, { peers: [port], home: path.join(tmp, 'get-home'), extra: ['--no-tcp'] });
  assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
  const stats = await lt.waitFor((l) => l.event === 'stats' && l.uploaded > 0, 30_000);
  assert.ok(stats.uploaded > 0);
});
