// The engine's controls, in process, two engines on loopback: stats events, pause and resume, persistence of
// transfers across a restart of the engine (state directory), cancel keeping or removing partial files, and the
// seeded folder staying untouched throughout; a download from a BEP 19 web seed alone, and one whose only peer
// source is a private mainline DHT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { Transfer, TransferStats } from '../../src/engine/transfer.js';
import { createTorrent } from '../../src/torrent/create.js';
import { MODEL_FILES, makeFolder, snapshot } from './engine-helpers.js';

let tmp: string;
let model: string;
let torrent: Uint8Array;
let seeder: Engine;
const engines: Engine[] = [];

function engine(home: string): Engine {
  const e = new Engine({ home: path.join(tmp, home), dht: false, lsd: false, statsIntervalMs: 200 });
  engines.push(e);
  return e;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-engine-control-'));
  model = path.join(tmp, 'src', 'tiny-model');
  await makeFolder(model, MODEL_FILES);
  torrent = (await createTorrent(model, { pieceLength: 16 * 1024 })).torrentBytes;
  seeder = engine('seed');
  await seeder.start();
  await (await seeder.seed(model, { torrent, trusted: true })).whenReady();
});

after(async () => {
  for (const e of engines) await e.stop().catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function until(t: Transfer, pred: (s: TransferStats) => boolean): Promise<TransferStats> {
  return new Promise((resolve) => {
    const on = (s: TransferStats) => {
      if (pred(s)) {
        t.off('stats', on);
        resolve(s);
      }
    };
    t.on('stats', on);
  });
}

test('stats, pause, engine restart from the state directory, resume to a verified finish', async () => {
  const out = path.join(tmp, 'out-1');
  let e = engine('get-1');
  await e.start();
  const peer = `127.0.0.1:${seeder.port}`;
  let t = await e.download(torrent, { outDir: out, peers: [peer], downloadLimit: 400 * 1024 });
  const s = await until(t, (x) => x.progress > 0.2);
  for (const key of ['progress', 'downloadRate', 'uploadRate', 'peers', 'seeds', 'eta', 'verifiedBytes'] as const) {
    assert.ok(key in s, `stats carry ${key}`);
  }
  assert.ok(s.peers >= 1 && s.seeds >= 1, JSON.stringify(s));

  await t.pause();
  assert.equal(t.status, 'paused');
  const pausedAt = t.stats().verifiedBytes;
  assert.ok(pausedAt > 0);

  // The process "restarts": a new engine on the same state directory finds the paused download.
  await e.stop();
  e = engine('get-1');
  await e.start();
  const restored = await e.restore();
  assert.equal(restored.length, 1);
  t = restored[0];
  assert.equal(t.status, 'paused');
  assert.equal(t.torrent, null, 'nothing runs while paused');
  assert.equal(t.stats().verifiedBytes, pausedAt, 'the verified pieces were remembered');

  await t.resume();
  t.setLimits({ downloadLimit: -1 });
  const done = await t.whenDone();
  assert.equal(done.verified, true);
  assert.ok(t.stats().downloaded < t.stats().totalBytes, 'resumed from the verified pieces');
  assert.deepEqual(await snapshot(done.path), await snapshot(model));
});

test('cancel keeps partial files unless asked to remove them; the seed folder is never touched', async () => {
  const before = await snapshot(model);
  const e = engine('get-2');
  await e.start();
  const peer = `127.0.0.1:${seeder.port}`;
  for (const removeFiles of [false, true]) {
    const out = path.join(tmp, `out-cancel-${removeFiles}`);
    const t = await e.download(torrent, { outDir: out, peers: [peer], downloadLimit: 300 * 1024 });
    await until(t, (x) => x.progress > 0.1);
    await e.remove(t.id, { removeFiles });
    assert.equal(await e.state.load(t.id), undefined, 'the state record is gone');
    const left = await readdir(out);
    if (removeFiles) assert.deepEqual(left, [], 'partial files and folders removed');
    else assert.ok((await stat(path.join(out, 'tiny-model'))).isDirectory(), 'partial files kept');
  }
  assert.deepEqual(await snapshot(model), before);
});

test('a BEP 19 web seed alone delivers a hybrid with pad files (pads are never asked of the server)', async () => {
  const asked: string[] = [];
  const root = path.dirname(model);
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    asked.push(rel);
    const file = path.join(root, rel);
    if (!file.startsWith(root + path.sep)) return res.writeHead(403).end();
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      return res.writeHead(404).end();
    }
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    if (!m) return res.writeHead(200).end(data);
    const [from, to] = [Number(m[1]), Number(m[2])];
    res.writeHead(206, { 'content-range': `bytes ${from}-${to}/${data.length}` }).end(data.subarray(from, to + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const webTorrent = (await createTorrent(model, { pieceLength: 64 * 1024, webSeeds: [url] })).torrentBytes;
    const e = engine('get-webseed');
    await e.start();
    const t = await e.download(webTorrent, { outDir: path.join(tmp, 'out-webseed') });
    const done = await t.whenDone();
    assert.equal(done.verified, true);
    assert.deepEqual(await snapshot(done.path), await snapshot(model));
    assert.ok(asked.length > 0, 'the web seed served the data');
    assert.ok(!asked.some((p) => p.includes('/.pad/')), 'no pad file was requested');
  } finally {
    server.close();
  }
});

test('peers found through a private mainline DHT: a magnet with no peer given downloads', async () => {
  const dhtSeed = new Engine({ home: path.join(tmp, 'dht-seed'), dhtBootstrap: [], lsd: false });
  const dhtGet = new Engine({ home: path.join(tmp, 'dht-get'), dhtBootstrap: [], lsd: false });
  engines.push(dhtSeed, dhtGet);
  await dhtSeed.start();
  await dhtGet.start();
  dhtGet.addDhtNode('127.0.0.1', dhtSeed.dhtPort!);
  dhtSeed.addDhtNode('127.0.0.1', dhtGet.dhtPort!);
  const seed = await dhtSeed.seed(model, { torrent, trusted: true });
  await seed.whenReady();
  const t = await dhtGet.download(seed.magnetURI, { outDir: path.join(tmp, 'out-dht') });
  const done = await t.whenDone();
  assert.equal(done.verified, true);
  assert.deepEqual(await snapshot(done.path), await snapshot(model));
});
