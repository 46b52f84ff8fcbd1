// uTP against libutp, the other uTP implementation in the wild (Transmission, µTorrent, utp-native), through
// Debian's Transmission 3.00: `silmaril get --no-tcp` downloads from a Transmission seed, so every byte comes over
// uTP, and must arrive byte-identical.
// It guards our SYN's extension layout: libutp takes a packet whose first extension type is 3 or more for its old
// version-0 format and answers gibberish, so a SYN carrying our max-datagram extension first never connected.
// In CI a missing transmission-daemon is a failure.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MODEL_FILES, killAll, makeFolder, silmaril, silmarilGet, snapshot } from '../integration/engine-helpers.js';
import { startTransmission } from './clients/drivers.js';
import { until, which } from './clients/harness.js';

const skip =
  !which('transmission-daemon') && process.env.CI !== 'true' ? 'transmission-daemon is not installed' : false;

let tmp: string | undefined;

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('silmaril get --no-tcp downloads from Transmission (libutp) over uTP', { skip }, async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-tr-utp-'));
  const model = path.join(tmp, 'data', 'tiny-model');
  await makeFolder(model, MODEL_FILES);
  const original = await snapshot(model);
  // Transmission 3.00 reads only v1 torrents.
  const torrentFile = path.join(tmp, 'tiny.torrent');
  const made = silmaril(['create', model, '--v1-only', '--piece-length', '65536', '--out', torrentFile, '--json']);
  assert.equal(await made.exited, 0, made.stderr.join('\n'));

  const {
    proc: tr,
    rpc,
    peerPort,
  } = await startTransmission(path.join(tmp, 'tr'), {
    utp: true,
    downloadDir: path.dirname(model),
  });
  await rpc('torrent-add', { filename: torrentFile, 'download-dir': path.dirname(model) });
  // Seeding once its check of the data is done (status 6).
  await until(
    async () => (await rpc('torrent-get', { fields: ['status', 'percentDone'] })).torrents[0]?.status === 6,
    'Transmission to seed',
    30_000,
  );

  const out = path.join(tmp, 'sil-get');
  try {
    await silmarilGet(torrentFile, out, { peers: [peerPort], home: path.join(tmp, 'get-home'), extra: ['--no-tcp'] });
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
  } finally {
    tr.kill('SIGTERM');
    await tr.exited;
  }
});
