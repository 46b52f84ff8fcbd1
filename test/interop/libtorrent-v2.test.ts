// BEP 52 on the wire against libtorrent 2.0 (Debian python3-libtorrent, /usr/bin/python3) over loopback TCP, with
// libtorrent as a v2 peer: it is given only the btmh (v2) hash, so it greets with the truncated v2 hash, fetches the
// metadata checked as SHA-256(info) and asks for piece-layer hashes (hash request, BEP 52 id 21).
// - libtorrent downloads a multi-file hybrid from `silmaril seed` by a btmh-only magnet: complete, byte-identical;
// - `silmaril get 'magnet:?xt=urn:btmh:1220<v2>'` downloads from a libtorrent seed: complete, verified,
//   byte-identical, and the transfer is keyed by the truncated v2 hash; so does `silmaril get <truncated v2>`
//   (the 40-hex "hash" qBittorrent shows for a hybrid); the engine also fetches and proves the piece layers;
// - per-block blame: next to a libtorrent seed, a liar that corrupts one block of each piece it serves (and rejects
//   the first block, so every piece has two senders) is struck by the v2 leaf hashes libtorrent hands us, banned, and
//   the download is still byte-identical; libtorrent is never blamed.
// In CI a missing libtorrent is a failure.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import Wire from 'bittorrent-protocol';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MODEL_FILES,
  PYTHON,
  createTorrentFile,
  killAll,
  libtorrentSkip,
  ltPeer,
  makeFolder,
  offline,
  silmaril,
  snapshot,
} from '../integration/engine-helpers.js';

const skip = libtorrentSkip();
const LT_TOOL = fileURLToPath(new URL('./py/lt_tool.py', import.meta.url));
// Small pieces: several files span more than one piece, so libtorrent needs their piece layers from us.
const PIECE = 16 * 1024;

let tmp: string;
let model: string;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-lt-v2-'));
  model = path.join(tmp, 'src', 'tiny-model');
  await makeFolder(model, MODEL_FILES);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('libtorrent (v2 peer) downloads from silmaril seed by a btmh-only magnet', { skip }, () => {
  test('complete and byte-identical', async () => {
    const torrentFile = path.join(tmp, 'tiny.torrent');
    createTorrentFile(model, torrentFile, PIECE);
    const seeder = silmaril(['seed', model, '--torrent', torrentFile, ...offline(path.join(tmp, 'home-seed'))]);
    try {
      const ready = await seeder.waitFor((l) => l.event === 'ready');
      const out = path.join(tmp, 'lt-out');
      const magnet = `magnet:?xt=urn:btmh:1220${ready.v2}&dn=tiny-model`;
      const lt = ltPeer(['get', '--magnet', magnet, '--save', out, '--peer', `127.0.0.1:${ready.port}`]);
      const done = await lt.waitFor((l) => l.event === 'done' || l.event === 'error', 130_000);
      assert.equal(done.event, 'done', JSON.stringify(done));
      assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), await snapshot(model));
    } finally {
      seeder.kill();
    }
  });
});

describe('libtorrent (v2 peer) downloads from a silmaril seed of a hybrid without piece layers', { skip }, () => {
  test('complete and byte-identical', async () => {
    const { parseTorrent } = await import('../../src/torrent/parse.js');
    const full = path.join(tmp, 'tiny-full.torrent');
    createTorrentFile(model, full, PIECE);
    const info = parseTorrent(await readFile(full)).infoBytes;
    const stripped = path.join(tmp, 'tiny-no-layers.torrent');
    await writeFile(stripped, Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]));
    const seeder = silmaril(['seed', model, '--torrent', stripped, ...offline(path.join(tmp, 'home-seed-nl'))]);
    try {
      const ready = await seeder.waitFor((l) => l.event === 'ready');
      const out = path.join(tmp, 'lt-out-nl');
      const magnet = `magnet:?xt=urn:btmh:1220${ready.v2}&dn=tiny-model`;
      const lt = ltPeer(['get', '--magnet', magnet, '--save', out, '--peer', `127.0.0.1:${ready.port}`]);
      const done = await lt.waitFor((l) => l.event === 'done' || l.event === 'error', 130_000);
      assert.equal(done.event, 'done', JSON.stringify(done));
      assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), await snapshot(model));
    } finally {
      seeder.kill();
    }
  });
});

describe('silmaril get by a btmh-only magnet from a libtorrent seed', { skip }, () => {
  test('complete, verified, byte-identical, keyed by the truncated v2 hash', async () => {
    const torrentFile = path.join(tmp, 'lt-made.torrent');
    const r = spawnSync(PYTHON, [LT_TOOL], {
      input: JSON.stringify({ cmd: 'create', jobs: [{ path: model, pieceLength: PIECE, out: torrentFile }] }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const { v2 } = JSON.parse(r.stdout).results[0];
    const seed = ltPeer(['seed', '--torrent', torrentFile, '--save', path.dirname(model)]);
    try {
      const port = (await seed.waitFor((l) => l.event === 'ready')).port;
      const out = path.join(tmp, 'silmaril-out');
      const get = silmaril([
        'get',
        `magnet:?xt=urn:btmh:1220${v2}&dn=tiny-model`,
        '--out',
        out,
        '--peer',
        `127.0.0.1:${port}`,
        ...offline(path.join(tmp, 'home-get')),
      ]);
      const done = await get.waitFor((l) => l.event === 'done', 120_000);
      assert.equal(await get.exited, 0);
      assert.equal(done.verified, true);
      assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), await snapshot(model));
      assert.equal(done.id, v2.slice(0, 40));
    } finally {
      seed.kill();
    }
  });
});

describe(
  'silmaril get by the 40-hex truncated v2 hash (what qBittorrent shows) from a libtorrent seed',
  { skip },
  () => {
    test('complete, verified, byte-identical', async () => {
      const torrentFile = path.join(tmp, 'lt-made-bare.torrent');
      const r = spawnSync(PYTHON, [LT_TOOL], {
        input: JSON.stringify({ cmd: 'create', jobs: [{ path: model, pieceLength: PIECE, out: torrentFile }] }),
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const { v2 } = JSON.parse(r.stdout).results[0];
      const seed = ltPeer(['seed', '--torrent', torrentFile, '--save', path.dirname(model)]);
      try {
        const port = (await seed.waitFor((l) => l.event === 'ready')).port;
        const out = path.join(tmp, 'silmaril-out-bare');
        const get = silmaril([
          'get',
          v2.slice(0, 40),
          '--out',
          out,
          '--peer',
          `127.0.0.1:${port}`,
          ...offline(path.join(tmp, 'home-get-bare')),
        ]);
        const done = await get.waitFor((l) => l.event === 'done', 120_000);
        assert.equal(await get.exited, 0);
        assert.equal(done.verified, true);
        assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), await snapshot(model));
      } finally {
        seed.kill();
      }
    });
  },
);

describe('the engine joins a libtorrent seed by btmh alone and fetches the piece layers it lacks', { skip }, () => {
  test('layers requested over the v2 wire, proven against each pieces root, kept', async () => {
    const { Engine } = await import('../../src/engine/engine.js');
    const { parseTorrent } = await import('../../src/torrent/parse.js');
    const torrentFile = path.join(tmp, 'lt-made-2.torrent');
    const r = spawnSync(PYTHON, [LT_TOOL], {
      input: JSON.stringify({ cmd: 'create', jobs: [{ path: model, pieceLength: PIECE, out: torrentFile }] }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const { v2 } = JSON.parse(r.stdout).results[0];
    const reference = parseTorrent(await readFile(torrentFile));
    const seed = ltPeer(['seed', '--torrent', torrentFile, '--save', path.dirname(model)]);
    const engine = new Engine({ home: path.join(tmp, 'home-engine'), dht: false, lsd: false });
    try {
      const port = (await seed.waitFor((l) => l.event === 'ready')).port;
      await engine.start();
      const t = await engine.download(`magnet:?xt=urn:btmh:1220${v2}`, {
        outDir: path.join(tmp, 'engine-out'),
        peers: [`127.0.0.1:${port}`],
      });
      assert.equal(t.id, v2.slice(0, 40), 'keyed by the truncated v2 hash');
      const done = await t.whenDone();
      assert.equal(done.verified, true);
      assert.deepEqual(await snapshot(path.join(tmp, 'engine-out', 'tiny-model')), await snapshot(model));
      assert.equal(t.parsed!.infoHashV1, reference.infoHashV1);
      assert.ok(t.magnetURI.includes(`btih:${reference.infoHashV1}`), 'the magnet we hand out names the v1 hash');
      // Every file larger than a piece: its layer, as libtorrent made it.
      const want = [...reference.pieceLayers!.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]);
      const deadline = Date.now() + 10_000;
      while ((t.parsed!.pieceLayers?.size ?? 0) < want.length && Date.now() < deadline) await sleep(50);
      const got = [...(t.parsed!.pieceLayers ?? new Map()).entries()].map(([k, v]) => [
        k,
        Buffer.from(v).toString('hex'),
      ]);
      assert.deepEqual(new Map(got as [string, string][]), new Map(want as [string, string][]));
    } finally {
      await engine.stop();
      seed.kill();
    }
  });
});

/** A v2-speaking liar: greets with the hash it is given, rejects block 0, corrupts block 1 of every piece. */
async function startLiar(torrentFile: string, contentRoot: string) {
  const { parseTorrent } = await import('../../src/torrent/parse.js');
  const { PieceStore } = await import('../../src/engine/store.js');
  const { layoutFor } = await import('../../src/engine/layout.js');
  const parsed = parseTorrent(await readFile(torrentFile));
  const store = new PieceStore(layoutFor(contentRoot, parsed), { writable: false });
  const bits = Buffer.alloc(Math.ceil(parsed.pieceCount / 8), 0xff);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const wire: any = new Wire('tcpIncoming', 1);
    sock.pipe(wire).pipe(sock);
    wire.on('error', () => {});
    wire.once('crypto-infohash', () => wire.setInfoHash(parsed.infoHashV2!.slice(0, 40)));
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, crypto.randomBytes(20), { dht: false, fast: true });
      wire.bitfield(bits);
    });
    wire.on('interested', () => wire.unchoke());
    wire.on(
      'request',
      (index: number, offset: number, length: number, respond: (e: Error | null, b?: Buffer) => void) => {
        if (offset === 0) return respond(new Error('no')); // a reject (fast extension): someone else sends block 0
        if (offset === 16384) return respond(null, crypto.randomBytes(length));
        store.read(index * parsed.pieceLength + offset, length).then((b) => respond(null, b), respond);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
      store.close();
    },
  };
}

describe('per-block blame with leaf hashes from a libtorrent seed', { skip }, () => {
  test('the liar is struck by v2 leaf hashes and banned, libtorrent never; the data is byte-identical', async () => {
    const { Engine } = await import('../../src/engine/engine.js');
    const torrentFile = path.join(tmp, 'lt-made-blame.torrent');
    const r = spawnSync(PYTHON, [LT_TOOL], {
      input: JSON.stringify({ cmd: 'create', jobs: [{ path: model, pieceLength: 64 * 1024, out: torrentFile }] }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const { v2 } = JSON.parse(r.stdout).results[0];
    const seed = ltPeer(['seed', '--torrent', torrentFile, '--save', path.dirname(model), '--upload-limit', '1000000']);
    const liar = await startLiar(torrentFile, model);
    const logged: string[] = [];
    const log = (m: string) => logged.push(m);
    const engine = new Engine({
      home: path.join(tmp, 'home-blame'),
      dht: false,
      lsd: false,
      pex: false,
      logger: { trace() {}, debug() {}, info: log, warn: log, error: (m) => log(String(m)) },
    });
    try {
      const port = (await seed.waitFor((l) => l.event === 'ready')).port;
      await engine.start();
      const t = await engine.download(`magnet:?xt=urn:btmh:1220${v2}`, {
        outDir: path.join(tmp, 'blame-out'),
        peers: [`127.0.0.1:${port}`, `127.0.0.1:${liar.port}`],
      });
      const done = await t.whenDone();
      assert.equal(done.verified, true);
      assert.deepEqual(await snapshot(path.join(tmp, 'blame-out', 'tiny-model')), await snapshot(model));
      assert.deepEqual(t.stats().banned, [`127.0.0.1:${liar.port}`]);
      const blamed = logged.filter((l) => l.includes('fail their v2 leaf hashes'));
      assert.ok(blamed.length >= 1, logged.join('\n'));
      assert.ok(
        blamed.every((l) => l.includes(`127.0.0.1:${liar.port}`) && l.includes('at 16384 ')),
        blamed.join('\n'),
      );
    } finally {
      await engine.stop();
      liar.close();
      seed.kill();
    }
  });
});
