// Fan-out on loopback: one rate-limited `silmaril seed` and four `silmaril get` started together, meeting through
// `silmaril tracker --open`. The downloaders must trade: every one of them receives bytes from a peer that is not a
// seed, and the seed uploads well under 1.5x the torrent (byte counts, no timing). On the old scheduling (WebTorrent's
// sequential order, every interested peer unchoked) all four ask the seed for the same pieces and it uploads ~2.5x.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTorrentFile, killAll, makeFolder, offline, silmaril, snapshot } from './engine-helpers.js';
import { startTracker, stopTracker, type RunningTracker } from './tracker-cli.js';

const FILES = { 'config.json': '{"model_type":"swarm"}', 'model-00001.bin': 5_000_000, 'model-00002.bin': 3_388_608 };
const SIZE = 22 + 5_000_000 + 3_388_608;
const PIECE = 64 * 1024;
const DOWNLOADERS = 4;

let tmp: string;
let tracker: RunningTracker | undefined;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-swarm-'));
});

after(async () => {
  killAll();
  await stopTracker(tracker);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('one seed, four silmaril downloaders: each gets bytes from non-seeds, the seed uploads < 1.5x', async (t) => {
  tracker = await startTracker(['--open', '--interval', '10', '--rate-limit', '0', '--home', path.join(tmp, 'trk')]);
  const model = path.join(tmp, 'src', 'swarm-model');
  await makeFolder(model, FILES);
  const original = await snapshot(model);
  const torrent = path.join(tmp, 'swarm.torrent');
  createTorrentFile(model, torrent, PIECE);

  // 1 MiB/s: the ideal is ~8 s; slow enough that pieces must come from other downloaders to finish sooner.
  const seed = silmaril([
    'seed',
    model,
    '--torrent',
    torrent,
    '--upload-limit',
    '1024',
    '--tracker',
    tracker.announce,
    ...offline(path.join(tmp, 'seed')),
  ]);
  await seed.waitFor((l) => l.event === 'ready');
  const gets = Array.from({ length: DOWNLOADERS }, (_, i) =>
    silmaril([
      'get',
      torrent,
      '--out',
      path.join(tmp, `out${i}`),
      '--tracker',
      tracker!.announce,
      ...offline(path.join(tmp, `get${i}`)),
    ]),
  );
  const done = await Promise.all(gets.map((g) => g.waitFor((l) => l.event === 'done', 180_000)));
  seed.kill('SIGTERM');
  const stopped = await seed.waitFor((l) => l.event === 'stopped');
  for (const g of gets) g.kill('SIGTERM');

  for (let i = 0; i < DOWNLOADERS; i++) {
    assert.equal(done[i].verified, true, `downloader ${i} verified`);
    assert.deepEqual(await snapshot(path.join(tmp, `out${i}`, 'swarm-model')), original);
  }
  const ratio = stopped.uploaded / SIZE;
  t.diagnostic(
    `seed uploaded ${ratio.toFixed(2)}x; from non-seeds: ${done.map((d) => (d.fromPeers / SIZE).toFixed(2)).join(', ')} x`,
  );
  for (let i = 0; i < DOWNLOADERS; i++) {
    assert.ok(done[i].fromPeers > 0, `downloader ${i} got ${done[i].fromPeers} bytes from non-seeds`);
  }
  assert.ok(ratio < 1.5, `the seed uploaded ${ratio.toFixed(2)}x the torrent`);
});
