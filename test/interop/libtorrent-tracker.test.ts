// Two libtorrent 2.0 sessions (Debian python3-libtorrent) that know each other only through the bundled
// `silmaril tracker` complete a download of a hybrid torrent registered with it; libtorrent's own announces of
// both hashes (v1 and truncated v2) are accepted. In CI a missing libtorrent is a failure.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/torrent/parse.js';
import { registerTorrent } from '../../src/tracker/registry-client.js';
import { getJson, tempDir } from '../unit/tracker/helpers.js';
import { startTracker, stopTracker, type RunningTracker } from '../integration/tracker-cli.js';

const PYTHON = '/usr/bin/python3';
const HELPER = fileURLToPath(new URL('./py/lt_tracker_swarm.py', import.meta.url));
const available = spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
const skip = !available && process.env.CI !== 'true' ? 'python3-libtorrent is not installed' : false;

let tracker: RunningTracker | undefined;
let python: ReturnType<typeof spawn> | undefined;
after(async () => {
  python?.kill('SIGKILL');
  await stopTracker(tracker, 'SIGKILL');
});

test(
  'libtorrent seeder and downloader meet through the tracker and complete a registered hybrid',
  { skip, timeout: 180_000 },
  async () => {
    const dir = tempDir('silmaril-lt-trk-');
    tracker = await startTracker(['--db', join(dir, 'tracker.db'), '--registry-key', 'lt-key']);
    python = spawn(PYTHON, [HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    python.stderr!.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: python.stdout! })[Symbol.asyncIterator]();
    const next = async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`lt_tracker_swarm.py ended early: ${stderr}`);
      return JSON.parse(value as string);
    };
    python.stdin!.write(JSON.stringify({ dir, tracker: tracker.announce, timeout: 120 }) + '\n');
    const created = await next();
    assert.equal(created.event, 'created');
    assert.equal(created.hybrid, true, 'libtorrent made a hybrid');

    // Before registration, libtorrent's announces would be refused: registry-only is the default.
    const parsed = parseTorrent(readFileSync(created.torrent));
    assert.equal(parsed.infoHashV1, created.v1);
    assert.equal(parsed.infoHashV2, created.v2);
    const outcome = await registerTorrent(
      tracker.announce,
      parsed,
      { license: 'MIT', category: 'models' },
      { apiKey: 'lt-key' },
    );
    assert.equal(outcome.status, 'registered');

    python.stdin!.write(JSON.stringify({ go: true }) + '\n');
    const result = await next();
    assert.deepEqual(result.errors, [], 'no tracker errors in libtorrent');
    assert.equal(result.event, 'done', JSON.stringify(result));
    assert.equal(result.seeding, true, 'the downloader completed and verified the torrent');
    // libtorrent announces a hybrid once per protocol version: both got tracker replies.
    assert.equal(result.replies.seeder.length, 2, JSON.stringify(result.replies));
    assert.equal(result.replies.leecher.length, 2, JSON.stringify(result.replies));

    // The downloader's `completed` announce follows its last piece: wait for it (up to 60 s).
    let entry: any;
    for (let i = 0; i < 600; i++) {
      entry = await getJson(`${tracker.url}/api/registry?info_hash=${created.v2}`);
      if (entry.seeders === 2 && entry.completions >= 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(entry.seeders, 2, 'one swarm: both sessions are seeders now, counted once each');
    assert.equal(entry.leechers, 0);
    assert.equal(entry.completions, 1, 'the download is counted once, although announced on both hashes');
    const metrics = await (await fetch(`${tracker.url}/metrics`)).text();
    assert.match(metrics, /^tracker_active_peers 2$/m, 'each session is one peer although it announces two hashes');
    assert.match(metrics, /^tracker_announce_failures_total 0$/m);
    python.stdin!.end();
  },
);
