// Hostile HTTP trackers, as a seed and a download meet them: an answer cut short mid-body, bencode garbage, an
// answer that never comes, a redirect loop, and a re-announce interval too large for a timer. Announcing to one must
// not crash either process (a cut answer did: bittorrent-tracker read the body outside its try, so the failed read
// was an unhandled rejection and Node exited), nor make it announce in a loop (the huge interval did: Node fires an
// oversized timer after 1 ms, ~600 announces a second), and the download still completes from the peer it was given.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createTorrentFile, killAll, makeFolder, offline, silmaril, snapshot } from './engine-helpers.js';

const hits = new Map<string, number>();
const tracker = createServer((req, res) => {
  const kind = (req.url ?? '/').split('/')[1];
  hits.set(kind, (hits.get(kind) ?? 0) + 1);
  if (kind === 'cut') {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('d8:intervali60e5:peers');
    setTimeout(() => res.socket?.destroy(), 20);
  } else if (kind === 'garbage') {
    res.end('d8:intervali-e5:peers999999:\xff\xfe');
  } else if (kind === 'silent') {
    // Never answers; the socket stays open until the client gives up.
  } else if (kind === 'loop') {
    res.writeHead(302, { location: '/loop/announce' }).end();
  } else if (kind === 'huge') {
    res.end('d8:intervali99999999999e5:peers0:e');
  }
});
await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}`;
const dirs: string[] = [];
after(async () => {
  killAll();
  tracker.closeAllConnections();
  tracker.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('a seed and a download announcing to hostile HTTP trackers stay up, and the download completes', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'silmaril-hostile-tracker-'));
  dirs.push(root);
  const folder = path.join(root, 'model');
  await makeFolder(folder, { 'config.json': '{"a":1}', 'weights.bin': 300_001 });
  const torrentFile = path.join(root, 'model.torrent');
  createTorrentFile(folder, torrentFile, 16384);
  const trackers = ['cut', 'garbage', 'silent', 'loop', 'huge'].flatMap((k) => ['--tracker', `${base}/${k}/announce`]);

  const seed = silmaril(['seed', folder, '--torrent', torrentFile, ...trackers, ...offline(path.join(root, 'sh'))]);
  const ready = await seed.waitFor((l) => l.event === 'ready');
  const get = silmaril([
    'get',
    torrentFile,
    '--out',
    path.join(root, 'out'),
    '--peer',
    `127.0.0.1:${ready.port}`,
    ...trackers,
    ...offline(path.join(root, 'gh')),
  ]);
  const done = await get.waitFor((l) => l.event === 'done', 60_000);
  assert.equal(done.verified, true);
  assert.deepEqual(await snapshot(path.join(root, 'out', 'model')), await snapshot(folder));
  // Every hostile tracker was asked (the download announced too), and the seed outlived them all.
  for (const k of ['cut', 'garbage', 'silent', 'loop', 'huge']) {
    assert.ok((hits.get(k) ?? 0) >= 2, `${k} asked: ${hits.get(k)}`);
  }
  // Two processes, each: started, maybe completed: a handful of announces, not hundreds.
  assert.ok((hits.get('huge') ?? 0) <= 8, `announces to the tracker with a huge interval: ${hits.get('huge')}`);
  assert.equal(seed.child.exitCode, null, `the seed is still running: ${seed.stderr}`);
  await get.exited;
  assert.equal(get.child.exitCode, 0, `the download exited 0: ${get.stderr}`);
});
