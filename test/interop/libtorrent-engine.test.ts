// The engine against libtorrent 2.0 (Debian python3-libtorrent, /usr/bin/python3), over loopback TCP:
// - libtorrent downloads a multi-file hybrid with many pad files from `silmaril seed`, by .torrent and by magnet:
//   complete, byte-identical, and the seeded folder is untouched (same bytes, same mtimes, no `.pad` folder);
// - `silmaril get` downloads a hybrid seeded by libtorrent, by .torrent and by magnet: complete, verified (v1 pieces
//   and v2 merkle roots), byte-identical, no pad files on disk.
// In CI a missing libtorrent is a failure.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  createTorrentFile,
  killAll,
  libtorrentSkip,
  ltCreate,
  ltDone,
  ltGet,
  ltSeed,
  modelFixture,
  mtimes,
  offline,
  type Proc,
  silmaril,
  silmarilGet,
  snapshot,
} from '../integration/engine-helpers.js';

const skip = libtorrentSkip();
const PIECE = 64 * 1024;

let tmp: string;
let model: string;

function noPadFiles(snap: Map<string, string>): void {
  for (const rel of snap.keys()) assert.ok(!rel.split('/').includes('.pad'), `pad file on disk: ${rel}`);
}

before(async () => {
  if (skip) return;
  ({ tmp, model } = await modelFixture('silmaril-lt-engine-'));
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('libtorrent downloads from silmaril seed', { skip }, () => {
  let seeder: ReturnType<typeof silmaril>;
  let ready: any;
  let torrentFile: string;
  let original: Map<string, string>;
  let beforeTimes: Map<string, number>;

  before(async () => {
    torrentFile = path.join(tmp, 'tiny.torrent');
    createTorrentFile(model, torrentFile, PIECE);
    original = await snapshot(model);
    beforeTimes = await mtimes(model);
    seeder = silmaril(['seed', model, '--torrent', torrentFile, ...offline(path.join(tmp, 'home-seed'))]);
    ready = await seeder.waitFor((l) => l.event === 'ready');
  });

  after(() => seeder?.kill());

  for (const by of ['torrent', 'magnet'] as const) {
    test(`by ${by}: complete and byte-identical`, async () => {
      const out = path.join(tmp, `lt-out-${by}`);
      const source = by === 'torrent' ? { torrent: torrentFile } : { magnet: ready.magnet as string };
      await ltDone(ltGet(source, out, ['--peer', `127.0.0.1:${ready.port}`, '--timeout', '120']));
      assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
    });
  }

  test('the seeded folder is unchanged: same bytes, same mtimes, no .pad folder', async () => {
    assert.deepEqual(await snapshot(model), original);
    assert.deepEqual(await mtimes(model), beforeTimes);
    noPadFiles(await snapshot(model));
    assert.ok(ready.v2 && /^[0-9a-f]{64}$/.test(ready.v2), 'ready names the v2 infohash');
  });
});

describe('silmaril get downloads from a libtorrent seed', { skip }, () => {
  let seed: Proc;
  let port: number;
  let torrentFile: string;
  let v1: string;
  let v2: string;
  let expected: Map<string, string>;

  before(async () => {
    torrentFile = path.join(tmp, 'lt-made.torrent');
    ({ v1, v2 } = ltCreate(model, torrentFile, PIECE));
    expected = await snapshot(model);
    ({ proc: seed, port } = await ltSeed(torrentFile, path.dirname(model)));
  });

  after(() => seed?.kill());

  for (const by of ['torrent', 'magnet'] as const) {
    test(`by ${by}: complete, verified, byte-identical, no pad files`, async () => {
      const out = path.join(tmp, `silmaril-out-${by}`);
      const source = by === 'torrent' ? torrentFile : `magnet:?xt=urn:btih:${v1}&xt=urn:btmh:1220${v2}&dn=tiny-model`;
      const { done } = await silmarilGet(source, out, { peers: [port], home: path.join(tmp, `home-get-${by}`) });
      assert.equal(done.path, path.join(out, 'tiny-model'));
      const got = await snapshot(out);
      noPadFiles(got);
      assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), expected);
    });
  }
});
