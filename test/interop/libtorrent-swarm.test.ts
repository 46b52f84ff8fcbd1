// A mixed swarm on loopback: a rate-limited libtorrent seed, two libtorrent downloaders and two `silmaril get`,
// meeting through `silmaril tracker --open`. All four complete with byte-identical files, and the silmaril
// downloaders trade with the libtorrent ones both ways: libtorrent's per-peer byte counts show each of the two
// silmaril peers (told apart by peer id) both giving to and taking from the libtorrent downloaders.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CLI,
  PYTHON,
  ROOT,
  killAll,
  libtorrentSkip,
  makeFolder,
  offline,
  silmaril,
  snapshot,
  startProc,
} from '../integration/engine-helpers.js';
import { startTracker, stopTracker, type RunningTracker } from '../integration/tracker-cli.js';

const LT_SWARM_PEER = path.join(ROOT, 'test', 'interop', 'py', 'lt_swarm_peer.py');
const FILES = { 'config.json': '{"model_type":"mixed"}', 'model-00001.bin': 4_500_000, 'model-00002.bin': 3_000_000 };
const SIZE = 22 + 4_500_000 + 3_000_000;
const skip = libtorrentSkip();

let tmp: string;
let tracker: RunningTracker | undefined;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-ltswarm-'));
});

after(async () => {
  killAll();
  await stopTracker(tracker);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test(
  'libtorrent seed, two libtorrent and two silmaril downloaders: all complete, silmaril gives and takes',
  { skip },
  async (t) => {
    tracker = await startTracker(['--open', '--interval', '10', '--rate-limit', '0', '--home', path.join(tmp, 'trk')]);
    const model = path.join(tmp, 'seed', 'mixed-model');
    await makeFolder(model, FILES);
    const original = await snapshot(model);
    const torrent = path.join(tmp, 'mixed.torrent');
    const made = spawnSync(process.execPath, [
      CLI,
      'create',
      model,
      '--piece-length',
      '65536',
      '--tracker',
      tracker.announce,
      '--no-register',
      '--out',
      torrent,
    ]);
    assert.equal(made.status, 0, made.stderr?.toString());

    const ltSeed = startProc(
      PYTHON,
      [LT_SWARM_PEER, torrent, path.join(tmp, 'seed'), '--seed', '--upload-limit', String(1 << 20)],
      {
        stdin: true,
      },
    );
    await ltSeed.waitFor((l) => l.event === 'ready');
    const lts = [0, 1].map((i) =>
      startProc(PYTHON, [LT_SWARM_PEER, torrent, path.join(tmp, `lt${i}`)], { stdin: true }),
    );
    const ours = [0, 1].map((i) =>
      silmaril(['get', torrent, '--out', path.join(tmp, `sm${i}`), ...offline(path.join(tmp, `smhome${i}`))]),
    );
    await Promise.all([...lts.map((p) => p.waitFor((l) => l.event === 'done', 180_000))]);
    const done = await Promise.all(ours.map((p) => p.waitFor((l) => l.event === 'done', 180_000)));
    // Stop the libtorrent downloaders and read their per-peer totals.
    const stopped = await Promise.all(
      lts.map((p) => {
        p.child.stdin!.end('\n');
        return p.waitFor((l) => l.event === 'stopped', 30_000);
      }),
    );
    ltSeed.child.stdin!.end('\n');
    for (const p of ours) p.kill('SIGTERM');

    for (let i = 0; i < 2; i++) {
      assert.equal(done[i].verified, true);
      assert.deepEqual(await snapshot(path.join(tmp, `sm${i}`, 'mixed-model')), original, `silmaril ${i}`);
      assert.deepEqual(await snapshot(path.join(tmp, `lt${i}`, 'mixed-model')), original, `libtorrent ${i}`);
    }
    // Silmaril peers as libtorrent saw them, by peer id (WebTorrent's -WW prefix).
    const gaveToLt = new Set<string>();
    const tookFromLt = new Set<string>();
    for (const s of stopped) {
      for (const p of s.peers) {
        if (!p.client_id.startsWith('-WW')) continue;
        if (p.down > 0) gaveToLt.add(p.pid);
        if (p.up > 0) tookFromLt.add(p.pid);
      }
    }
    t.diagnostic(
      `silmaril from non-seeds: ${done.map((d) => (d.fromPeers / SIZE).toFixed(2)).join(', ')}x; ` +
        `silmaril peers giving to libtorrent: ${gaveToLt.size}, taking from libtorrent: ${tookFromLt.size}`,
    );
    assert.equal(gaveToLt.size, 2, 'both silmaril downloaders uploaded to a libtorrent downloader');
    assert.equal(tookFromLt.size, 2, 'both silmaril downloaders downloaded from a libtorrent downloader');
    for (const d of done) assert.ok(d.fromPeers > 0);
  },
);
