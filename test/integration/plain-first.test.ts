// Outgoing connections open with a plaintext BitTorrent handshake (src/engine/plain-first.ts): against a seed that
// takes either, the first bytes on the wire are the plaintext handshake; against one that requires protocol
// encryption (it closes a plaintext connection at once, as libtorrent set to pe_forced does), the redial uses MSE and
// the download completes. And a downloader says it is interested before the seed's bitfield comes: a rate-limited
// libtorrent seed sends that bitfield on its next bandwidth tick, and its choker (run on the tick after the connection)
// chokes every peer not interested by then (src/engine/scheduler.ts, updateInterest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import Wire from 'bittorrent-protocol';
import { layoutFor } from '../../src/engine/layout.js';
import { PieceStore } from '../../src/engine/store.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { createTorrentFile, killAll, modelFixture, offline, silmaril, snapshot } from './engine-helpers.js';

const PIECE = 64 * 1024;
/** The plaintext BitTorrent handshake's first bytes: its length byte and protocol name. */
const PLAINTEXT = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol')]);
let tmp: string;
let model: string;
let original: Map<string, string>;
let torrentFile: string;

before(async () => {
  ({ tmp, model } = await modelFixture('silmaril-plain-first-'));
  original = await snapshot(model);
  torrentFile = path.join(tmp, 'tiny.torrent');
  createTorrentFile(model, torrentFile, PIECE);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** An honest seed on a bare Wire; `requireMse`: it closes any connection that opens with a plaintext handshake;
 *  `bitfieldDelayMs`: its bitfield (and any unchoke) follows its handshake that much later. */
async function startSeed(requireMse: boolean, bitfieldDelayMs = 0) {
  const parsed = parseTorrent(await readFile(torrentFile));
  const store = new PieceStore(layoutFor(model, parsed), { writable: false });
  const bits = Buffer.alloc(Math.ceil(parsed.pieceCount / 8), 0xff);
  const opened: ('plaintext' | 'mse')[] = [];
  let served = 0;
  /** Per connection: whether the peer said interested before our bitfield went out. */
  const interestedFirst: boolean[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.once('data', (first: Buffer) => {
      const plain = first.subarray(0, PLAINTEXT.length).equals(PLAINTEXT);
      opened.push(plain ? 'plaintext' : 'mse');
      if (plain && requireMse) return sock.destroy();
      const wire = new Wire('tcpIncoming', 1);
      wire.on('error', () => {});
      wire.once('crypto-infohash', () => wire.setInfoHash(parsed.infoHashV1));
      let told = false;
      wire.on('handshake', (infoHash: string) => {
        wire.handshake(infoHash, crypto.randomBytes(20), { dht: false });
        const tell = () => {
          told = true;
          interestedFirst.push(wire.peerInterested);
          wire.bitfield(bits);
          if (wire.peerInterested) wire.unchoke();
        };
        if (bitfieldDelayMs) setTimeout(tell, bitfieldDelayMs);
        else tell();
      });
      wire.on('interested', () => told && wire.unchoke());
      wire.on(
        'request',
        (index: number, offset: number, length: number, respond: (e: Error | null, b?: Buffer) => void) => {
          served += length;
          store.read(index * parsed.pieceLength + offset, length).then((b) => respond(null, b), respond);
        },
      );
      wire.write(first);
      sock.pipe(wire).pipe(sock);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    opened,
    interestedFirst,
    served: () => served,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
      store.close();
    },
  };
}

async function getFrom(port: number, name: string) {
  const out = path.join(tmp, `${name}-out`);
  const get = silmaril([
    'get',
    torrentFile,
    '--out',
    out,
    '--peer',
    `127.0.0.1:${port}`,
    ...offline(path.join(tmp, name)),
  ]);
  const done = await get.waitFor((l) => l.event === 'done', 60_000);
  assert.equal(await get.exited, 0);
  assert.equal(done.verified, true);
  assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
}

test('a dial opens with the plaintext handshake (no protocol-encryption round trips first)', async () => {
  const seed = await startSeed(false);
  try {
    await getFrom(seed.port, 'plain');
    assert.equal(seed.opened[0], 'plaintext', `connections opened: ${seed.opened.join(', ')}`);
    assert.ok(seed.served() > 0);
  } finally {
    seed.close();
  }
});

test('a peer that requires protocol encryption: the plaintext dial is refused, the redial uses MSE, all arrives', async () => {
  const seed = await startSeed(true);
  try {
    await getFrom(seed.port, 'mse');
    assert.equal(seed.opened[0], 'plaintext', `connections opened: ${seed.opened.join(', ')}`);
    assert.ok(seed.opened.includes('mse'), `connections opened: ${seed.opened.join(', ')}`);
    assert.ok(seed.served() > 0, 'the data came over the encrypted-handshake connection');
  } finally {
    seed.close();
  }
});

test("a downloader says interested before the seed's bitfield arrives (a seed that tells late chokes the rest)", async () => {
  const seed = await startSeed(false, 800);
  try {
    await getFrom(seed.port, 'early-interest');
    assert.equal(seed.interestedFirst[0], true, 'interested only after the bitfield');
  } finally {
    seed.close();
  }
});
