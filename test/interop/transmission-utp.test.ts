// uTP against libutp, the other uTP implementation in the wild (Transmission, µTorrent, utp-native), through
// Debian's Transmission 3.00: `silmaril get --no-tcp` downloads from a Transmission seed, so every byte comes over
// uTP, and must arrive byte-identical.
// It guards our SYN's extension layout: libutp takes a packet whose first extension type is 3 or more for its old
// version-0 format and answers gibberish, so a SYN carrying our max-datagram extension first never connected.
// In CI a missing transmission-daemon is a failure.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  MODEL_FILES,
  killAll,
  makeFolder,
  offline,
  silmaril,
  snapshot,
  startProc,
} from '../integration/engine-helpers.js';
import { freePort, until, which } from './clients/harness.js';

const skip =
  !which('transmission-daemon') && process.env.CI !== 'true' ? 'transmission-daemon is not installed' : false;

let tmp: string | undefined;

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Transmission's RPC: JSON over HTTP, after the session-id handshake (409 with the id to send). */
function rpcClient(port: number) {
  let sid = '';
  const url = `http://127.0.0.1:${port}/transmission/rpc`;
  return async function rpc(method: string, args: object = {}): Promise<any> {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': sid, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method, arguments: args }),
      });
      if (res.status === 409) {
        sid = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      const body = (await res.json()) as { result: string; arguments: any };
      if (body.result !== 'success') throw new Error(`transmission ${method}: ${body.result}`);
      return body.arguments;
    }
    throw new Error(`transmission ${method}: no session id`);
  };
}

test('silmaril get --no-tcp downloads from Transmission (libutp) over uTP', { skip }, async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-tr-utp-'));
  const model = path.join(tmp, 'data', 'tiny-model');
  await makeFolder(model, MODEL_FILES);
  const original = await snapshot(model);
  // Transmission 3.00 reads only v1 torrents.
  const torrentFile = path.join(tmp, 'tiny.torrent');
  const made = silmaril(['create', model, '--v1-only', '--piece-length', '65536', '--out', torrentFile, '--json']);
  assert.equal(await made.exited, 0, made.stderr.join('\n'));

  const conf = path.join(tmp, 'tr-conf');
  await mkdir(conf, { recursive: true });
  const peerPort = await freePort();
  const rpcPort = await freePort();
  await writeFile(
    path.join(conf, 'settings.json'),
    JSON.stringify({
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'utp-enabled': true,
      'port-forwarding-enabled': false,
      'peer-port': peerPort,
      'peer-port-random-on-start': false,
      'bind-address-ipv4': '127.0.0.1',
      'bind-address-ipv6': '::1',
      'rpc-enabled': true,
      'rpc-port': rpcPort,
      'rpc-bind-address': '127.0.0.1',
      'rpc-whitelist': '127.0.0.1',
      'rpc-authentication-required': false,
      'rpc-host-whitelist-enabled': false,
      'download-dir': path.dirname(model),
      'start-added-torrents': true,
      encryption: 1,
    }),
  );
  const tr = startProc('transmission-daemon', ['-f', '-g', conf], { env: { HOME: tmp } });
  const rpc = rpcClient(rpcPort);
  await until(
    () =>
      rpc('session-get').then(
        () => true,
        () => false,
      ),
    'transmission RPC',
    20_000,
  );
  await rpc('torrent-add', { filename: torrentFile, 'download-dir': path.dirname(model) });
  // Seeding once its check of the data is done (status 6).
  await until(
    async () => (await rpc('torrent-get', { fields: ['status', 'percentDone'] })).torrents[0]?.status === 6,
    'Transmission to seed',
    30_000,
  );

  const out = path.join(tmp, 'sil-get');
  const get = silmaril([
    'get',
    torrentFile,
    '--out',
    out,
    '--peer',
    `127.0.0.1:${peerPort}`,
    '--no-tcp',
    ...offline(path.join(tmp, 'get-home')),
  ]);
  try {
    const done = await get.waitFor((l) => l.event === 'done', 120_000);
    assert.equal(await get.exited, 0);
    assert.equal(done.verified, true);
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
  } finally {
    get.kill();
    tr.kill('SIGTERM');
    await tr.exited;
  }
});
