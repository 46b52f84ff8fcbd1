// The engine between processes on loopback (the bundled CLI, dist/cli.js):
// - one `silmaril seed` (making its own hybrid) and one `silmaril get` by magnet;
// - kill -9 of a download half way, restart: it completes from the verified pieces, and the seeder uploads no more
//   than 110% of the torrent in total;
// - a lying peer (wrong bytes for some pieces) next to an honest one: correct data, and the liar is banned;
// - the bundle loads no native addon: with every `.node` load made to throw, seed and get still work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import Wire from 'bittorrent-protocol';
import { layoutFor } from '../../src/engine/layout.js';
import { PieceStore } from '../../src/engine/store.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { createTorrentFile, killAll, MODEL_SIZE, modelFixture, offline, silmaril, snapshot } from './engine-helpers.js';

const PIECE = 64 * 1024;
let tmp: string;
let model: string;
let original: Map<string, string>;
let torrentFile: string;

before(async () => {
  ({ tmp, model } = await modelFixture('silmaril-engine-'));
  original = await snapshot(model);
  torrentFile = path.join(tmp, 'tiny.torrent');
  createTorrentFile(model, torrentFile, PIECE);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('two silmaril processes: seed (own hybrid) and get by magnet', async () => {
  const seeder = silmaril(['seed', model, ...offline(path.join(tmp, 'pair-seed'))]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    assert.match(ready.magnet, /xt=urn:btih:[0-9a-f]{40}.*xt=urn:btmh:1220[0-9a-f]{64}/);
    const out = path.join(tmp, 'pair-out');
    const get = silmaril([
      'get',
      ready.magnet,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${ready.port}`,
      ...offline(path.join(tmp, 'pair-get')),
    ]);
    const done = await get.waitFor((l) => l.event === 'done', 60_000);
    assert.equal(await get.exited, 0);
    assert.equal(done.verified, true);
    assert.ok(
      get.lines.some((l) => l.event === 'stats'),
      'stats lines while downloading',
    );
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
    assert.deepEqual(await snapshot(model), original, 'the seeded folder is unchanged, no .pad folder');
  } finally {
    seeder.kill();
    await seeder.exited;
  }
});

test('kill -9 half way, restart: completes without fetching the verified pieces again', async (t) => {
  const size = MODEL_SIZE;
  // 16 KiB pieces (one block each): every block that arrives is a verified piece on disk, so the bytes lost by the
  // kill are only those still in flight. Rate-limited seeder so that "half way" lasts long enough to be caught.
  const small = path.join(tmp, 'tiny-16k.torrent');
  const made = spawnSync(process.execPath, ['dist/cli.js', 'create', model, '--piece-length', '16384', '--out', small]);
  assert.equal(made.status, 0, made.stderr?.toString());
  const seeder = silmaril([
    'seed',
    model,
    '--torrent',
    small,
    '--upload-limit',
    '320',
    // TCP: a killed downloader resets it at once. Over uTP (UDP) the seeder learns of the death only after its
    // retransmission timeouts (seconds), serving the dead peer's queued requests meanwhile; this test measures
    // resume, not that, so the seeder's byte count must not include it.
    '--no-utp',
    ...offline(path.join(tmp, 'kill-seed')),
  ]);
  const ready = await seeder.waitFor((l) => l.event === 'ready');
  const out = path.join(tmp, 'kill-out');
  const home = path.join(tmp, 'kill-get');
  const args = ['get', small, '--out', out, '--peer', `127.0.0.1:${ready.port}`, ...offline(home)];
  try {
    const first = silmaril(args);
    const half = await first.waitFor((l) => l.event === 'stats' && l.progress >= 0.4, 60_000);
    first.kill('SIGKILL');
    await first.exited;
    assert.ok(half.progress < 0.9, `killed at ${half.progress}`);

    const second = silmaril(args);
    const done = await second.waitFor((l) => l.event === 'done', 90_000);
    assert.equal(await second.exited, 0);
    assert.equal(done.verified, true);
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
    // The restart fetched only what was missing (plus what arrived after the last save).
    assert.ok(done.downloaded < size * 0.75, `second run downloaded ${done.downloaded} of ${size}`);

    seeder.kill('SIGTERM');
    const stopped = await seeder.waitFor((l) => l.event === 'stopped');
    t.diagnostic(
      `killed at ${half.progress.toFixed(2)}; seeder uploaded ${(stopped.uploaded / size).toFixed(3)} x the torrent`,
    );
    assert.ok(stopped.uploaded <= size * 1.1, `seeder uploaded ${stopped.uploaded} for a ${size}-byte torrent`);
  } finally {
    seeder.kill();
  }
});

/** A peer that claims every piece and answers requests for even pieces with random bytes. */
async function startLiar(): Promise<{ port: number; connections: () => number; close: () => void }> {
  const parsed = parseTorrent(await readFile(torrentFile));
  const store = new PieceStore(layoutFor(model, parsed), { writable: false });
  const bits = Buffer.alloc(Math.ceil(parsed.pieceCount / 8), 0xff);
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    // Accepts either handshake, plaintext or protocol encryption (as libtorrent does), plaintext payload.
    const wire = new Wire('tcpIncoming', 1);
    sock.pipe(wire).pipe(sock);
    wire.on('error', () => {});
    wire.once('crypto-infohash', () => wire.setInfoHash(parsed.infoHashV1));
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, crypto.randomBytes(20), { dht: false });
      wire.bitfield(bits);
    });
    wire.on('interested', () => wire.unchoke());
    wire.on(
      'request',
      (index: number, offset: number, length: number, respond: (e: Error | null, b?: Buffer) => void) => {
        if (index % 2 === 0) return respond(null, crypto.randomBytes(length));
        store.read(index * parsed.pieceLength + offset, length).then((b) => respond(null, b), respond);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
      store.close();
    },
  };
}

test('a lying peer next to an honest one: correct data, the liar is banned', async () => {
  const liar = await startLiar();
  const honest = silmaril([
    'seed',
    model,
    '--torrent',
    torrentFile,
    '--upload-limit',
    '512',
    ...offline(path.join(tmp, 'liar-honest')),
  ]);
  try {
    const ready = await honest.waitFor((l) => l.event === 'ready');
    const out = path.join(tmp, 'liar-out');
    const get = silmaril([
      'get',
      torrentFile,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${liar.port}`,
      '--peer',
      `127.0.0.1:${ready.port}`,
      ...offline(path.join(tmp, 'liar-get')),
    ]);
    const banned = await get.waitFor((l) => l.event === 'banned', 60_000);
    assert.equal(banned.addr, `127.0.0.1:${liar.port}`);
    const connectionsAtBan = liar.connections();
    const done = await get.waitFor((l) => l.event === 'done', 90_000);
    assert.equal(await get.exited, 0);
    assert.equal(done.verified, true);
    assert.ok(done.hashFailures >= 2, 'the bad pieces were caught by their hashes');
    assert.deepEqual(done.banned, [`127.0.0.1:${liar.port}`]);
    assert.equal(liar.connections(), connectionsAtBan, 'no reconnection to the banned peer');
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
  } finally {
    honest.kill();
    liar.close();
  }
});

test('the bundle loads no native addon: seed and get with every .node load failing', async () => {
  const preload = path.join(tmp, 'no-native.cjs');
  await writeFile(
    preload,
    `const Module = require('module');
Module._extensions['.node'] = (_m, file) => { throw new Error('native addon blocked: ' + file); };
`,
  );
  const nodeArgs = ['--require', preload];
  const seeder = silmaril(['seed', model, ...offline(path.join(tmp, 'native-seed'))], { nodeArgs });
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    const out = path.join(tmp, 'native-out');
    const get = silmaril(
      [
        'get',
        ready.magnet,
        '--out',
        out,
        '--peer',
        `127.0.0.1:${ready.port}`,
        ...offline(path.join(tmp, 'native-get')),
      ],
      {
        nodeArgs,
      },
    );
    const done = await get.waitFor((l) => l.event === 'done', 60_000);
    assert.equal(await get.exited, 0);
    assert.equal(done.verified, true);
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
    for (const line of [...seeder.stderr, ...get.stderr]) assert.doesNotMatch(line, /native addon blocked/);
  } finally {
    seeder.kill();
  }
});
