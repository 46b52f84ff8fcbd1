// BEP 52 on a real socket: an engine seeding a hybrid answers a handshake carrying the truncated v2 infohash with
// those same 20 bytes (libtorrent checks them), serves piece-layer hashes with their proof (checked against the
// file's pieces root), and answers malformed or out-of-range hash requests with a hash reject, staying connected.
// Also: every WebTorrent / bittorrent-protocol member that v2-handshake.ts and v2-wire.ts patch or call still exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Wire from 'bittorrent-protocol';
import WebTorrent from 'webtorrent';
import { Engine } from '../../../src/engine/engine.js';
import { decodeHashMessage, encodeHashMessage, layerRequest, type HashMessage } from '../../../src/engine/v2-wire.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { leafCountFor, verifyHashes } from '../../../src/torrent/merkle.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';
import { makeFolder } from '../../integration/engine-helpers.js';

const PIECE = 32 * 1024;
/** WebTorrent's internals (no types, not exported by name): loaded by a computed specifier. */
const load = (specifier: string): Promise<any> => import(specifier);
let tmp: string;
let engine: Engine;
let parsed: ParsedTorrent;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-v2-hs-'));
  const model = path.join(tmp, 'm');
  await makeFolder(model, { 'a.bin': 300_001, 'b.bin': 70_000, 'c.txt': 'hello' });
  const torrent = (await createTorrent(model, { pieceLength: PIECE })).torrentBytes;
  parsed = parseTorrent(torrent);
  engine = new Engine({ home: path.join(tmp, 'home'), dht: false, lsd: false, pex: false });
  await engine.start();
  const t = await engine.seed(model, { torrent, trusted: true });
  await t.whenReady();
});

after(async () => {
  await engine?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A raw peer: sends `hello` as its handshake, then reads length-prefixed messages. */
class RawPeer {
  sock: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    this.sock.on('error', () => {});
  }
  private async need(n: number, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`connection closed (had ${this.buf.length} of ${n} bytes)`);
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  async take(n: number): Promise<Buffer> {
    await this.need(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  handshake(infoHash: Buffer): void {
    const reserved = Buffer.alloc(8);
    reserved[5] |= 0x10;
    reserved[7] |= 0x04 | 0x10;
    this.sock.write(
      Buffer.concat([
        Buffer.from([19]),
        Buffer.from('BitTorrent protocol'),
        reserved,
        infoHash,
        crypto.randomBytes(20),
      ]),
    );
  }
  send(payload: Uint8Array): void {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(payload.length);
    this.sock.write(Buffer.concat([len, payload]));
  }
  /** The next message whose id is in `ids` (others skipped). */
  async next(ids: number[]): Promise<Buffer> {
    for (;;) {
      const len = (await this.take(4)).readUInt32BE(0);
      if (len === 0) continue;
      const msg = Buffer.from(await this.take(len));
      if (ids.includes(msg[0])) return msg;
    }
  }
}

async function v2Peer(): Promise<RawPeer> {
  const peer = new RawPeer(engine.port);
  peer.handshake(Buffer.from(parsed.infoHashV2!.slice(0, 40), 'hex'));
  const reply = await peer.take(68);
  assert.equal(reply.subarray(28, 48).toString('hex'), parsed.infoHashV2!.slice(0, 40), 'reply carries our 20 bytes');
  return peer;
}

test('a truncated-v2 handshake is accepted and answered with the same 20 bytes', async () => {
  const peer = await v2Peer();
  const bitfield = await peer.next([5, 14]); // bitfield or have-all: we are a seed to it
  assert.ok(bitfield.length >= 1);
  peer.sock.destroy();
});

test('a handshake with an unknown infohash is refused', async () => {
  const peer = new RawPeer(engine.port);
  peer.handshake(crypto.randomBytes(20));
  await assert.rejects(peer.take(68), /closed/);
});

test('hash request for a piece layer: hashes with uncles that prove it against the pieces root', async () => {
  const peer = await v2Peer();
  for (const f of parsed.files.filter((x) => !x.pad && x.length > PIECE)) {
    const req = layerRequest(f.piecesRoot!, f.length, PIECE);
    peer.send(encodeHashMessage({ type: 'request', ...req }));
    const msg = decodeHashMessage(await peer.next([22, 23])) as HashMessage & { hashes: Uint8Array };
    assert.equal(msg.type, 'hashes');
    assert.ok(verifyHashes(f.piecesRoot!, leafCountFor(f.length), req, msg.hashes));
    const layer = parsed.pieceLayers!.get(Buffer.from(f.piecesRoot!).toString('hex'))!;
    assert.deepEqual(Buffer.from(msg.hashes.subarray(0, layer.length)), Buffer.from(layer));
    // A sub-range with a partial proof, as libtorrent asks for 512-piece chunks: uncles from the chunk's root up.
    const part = { root: f.piecesRoot!, base: req.base, index: 2, count: 2, proofLayers: req.proofLayers };
    peer.send(encodeHashMessage({ type: 'request', ...part }));
    const sub = decodeHashMessage(await peer.next([22, 23])) as HashMessage & { hashes: Uint8Array };
    assert.equal(sub.type, 'hashes');
    assert.ok(verifyHashes(f.piecesRoot!, leafCountFor(f.length), part, sub.hashes));
  }
  peer.sock.destroy();
});

test('block hashes (base 0) for one piece, read from disk, with uncles up to the root', async () => {
  const peer = await v2Peer();
  const f = parsed.files.find((x) => !x.pad && x.length > 4 * PIECE)!;
  const leafCount = leafCountFor(f.length);
  const height = Math.log2(leafCount);
  const req = { root: f.piecesRoot!, base: 0, index: 6, count: 2, proofLayers: height - 1 };
  peer.send(encodeHashMessage({ type: 'request', ...req }));
  const msg = decodeHashMessage(await peer.next([22, 23])) as HashMessage & { hashes: Uint8Array };
  assert.equal(msg.type, 'hashes');
  assert.ok(verifyHashes(f.piecesRoot!, leafCount, req, msg.hashes));
  peer.sock.destroy();
});

test('malformed and out-of-range hash requests get a hash reject, and the peer stays connected', async () => {
  const peer = await v2Peer();
  const f = parsed.files.find((x) => !x.pad && x.length > PIECE)!;
  const good = layerRequest(f.piecesRoot!, f.length, PIECE);
  const bad = [
    { ...good, root: crypto.randomBytes(32) }, // unknown file
    { ...good, count: 0 },
    { ...good, count: 100_000 },
    { ...good, index: 0xffffffff },
    { ...good, base: 40 },
    { ...good, proofLayers: 64 },
    { ...good, base: 0, count: 4, index: 0 }, // block hashes for more than one piece
  ];
  for (const req of bad) {
    peer.send(encodeHashMessage({ type: 'request', ...req }));
    const msg = decodeHashMessage(await peer.next([22, 23]))!;
    assert.equal(msg.type, 'reject', JSON.stringify({ ...req, root: undefined }));
    assert.equal(msg.index, req.index >>> 0);
  }
  peer.send(Buffer.from([21, 1, 2, 3])); // truncated: ignored
  peer.send(encodeHashMessage({ type: 'request', ...good }));
  assert.equal(decodeHashMessage(await peer.next([22, 23]))!.type, 'hashes');
  assert.equal(peer.closed, false);
  peer.sock.destroy();
});

test('engine to engine by a btmh-only magnet: keyed by the truncated v2 hash, layers fetched, restored as such', async () => {
  const home = path.join(tmp, 'home-get');
  const out = path.join(tmp, 'out');
  const magnet = `magnet:?xt=urn:btmh:1220${parsed.infoHashV2}`;
  let getter = new Engine({ home, dht: false, lsd: false, pex: false });
  try {
    await getter.start();
    const t = await getter.download(magnet, { outDir: out, peers: [`127.0.0.1:${engine.port}`] });
    assert.equal(t.id, parsed.infoHashV2!.slice(0, 40));
    assert.equal((await t.whenDone()).verified, true);
    assert.equal(t.parsed!.infoHashV1, parsed.infoHashV1);
    for (const [root, layer] of parsed.pieceLayers!) {
      for (let i = 0; i < 200 && !t.parsed!.pieceLayers?.has(root); i++) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(Buffer.from(t.parsed!.pieceLayers!.get(root)!), Buffer.from(layer));
    }
    await getter.stop();
    getter = new Engine({ home, dht: false, lsd: false, pex: false });
    await getter.start();
    const restored = await getter.restore();
    assert.deepEqual(
      restored.map((r) => r.id),
      [parsed.infoHashV2!.slice(0, 40)],
    );
    assert.equal(restored[0].v2Keyed, true);
    // Its .torrent was kept (not set aside as a mismatch of its id): complete, nothing fetched again.
    const kept = await readdir(path.join(home, 'transfers'));
    assert.deepEqual(
      kept.filter((f) => f.includes('damaged')),
      [],
    );
    assert.equal(restored[0].parsed?.infoHashV2, parsed.infoHashV2);
    await restored[0].whenReady();
    assert.equal(restored[0].stats().progress, 1);
  } finally {
    await getter.stop();
  }
});

test(
  'a btmh-only magnet finds a v1-keyed seed on a private DHT: the seed announces its truncated v2 hash too',
  { timeout: 60_000 },
  async () => {
    const seedHome = path.join(tmp, 'dht-seed');
    const a = new Engine({ home: seedHome, dhtBootstrap: [], lsd: false, pex: false });
    const b = new Engine({ home: path.join(tmp, 'dht-get'), dhtBootstrap: [], lsd: false, pex: false });
    try {
      await a.start();
      await b.start();
      a.addDhtNode('127.0.0.1', b.dhtPort!);
      b.addDhtNode('127.0.0.1', a.dhtPort!);
      const seed = await a.seed(path.join(tmp, 'm'), { torrent: parsed.torrentBytes, trusted: true });
      await seed.whenReady();
      assert.equal(seed.id, parsed.infoHashV1);
      const t = await b.download(`magnet:?xt=urn:btmh:1220${parsed.infoHashV2}`, { outDir: path.join(tmp, 'dht-out') });
      assert.equal((await t.whenDone()).verified, true);
    } finally {
      await b.stop();
      await a.stop();
    }
  },
);

test(
  "a bare 40-hex hash that is a hybrid's truncated v2 hash (what qBittorrent shows) downloads",
  { timeout: 60_000 },
  async () => {
    const getter = new Engine({ home: path.join(tmp, 'home-bare'), dht: false, lsd: false, pex: false });
    try {
      await getter.start();
      const bare = parsed.infoHashV2!.slice(0, 40);
      const t = await getter.download(bare, {
        outDir: path.join(tmp, 'bare-out'),
        peers: [`127.0.0.1:${engine.port}`],
      });
      assert.equal((await t.whenDone()).verified, true);
      assert.equal(t.id, bare);
      assert.equal(t.v2Keyed, true);
      assert.equal(t.infoHashV2, parsed.infoHashV2);
    } finally {
      await getter.stop();
    }
  },
);

test('the members v2-handshake.ts and v2-wire.ts rely on still exist (pinned versions)', async () => {
  const client: any = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, torrentPort: 0 });
  try {
    assert.equal(typeof client.get, 'function');
    assert.equal(typeof client._getByHash, 'function');
    const torrent: any = client.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`, { deselect: true });
    for (const m of ['_addIncomingPeer', '_processParsedTorrent', '_onMetadata', 'addPeer']) {
      assert.equal(typeof torrent[m], 'function', `Torrent#${m}`);
    }
    assert.equal(torrent.client, client, 'Torrent#client');
    assert.ok('torrentPort' in client, 'WebTorrent#torrentPort (the port announced for the alias)');
  } finally {
    client.destroy();
  }
  const Peer: any = (await load('webtorrent/lib/peer.js')).default;
  for (const m of ['onHandshake', 'handshake']) assert.equal(typeof Peer.prototype[m], 'function', `Peer#${m}`);
  const utMetadata: any = (await load('ut_metadata')).default;
  const ext: any = new (utMetadata())(new Wire());
  assert.equal(typeof ext.setMetadata, 'function', 'ut_metadata#setMetadata');
  ext.onHandshake('ab'.repeat(20), 'cd'.repeat(20), {});
  assert.equal(ext._infoHash, 'ab'.repeat(20), 'ut_metadata#_infoHash: the hash its SHA-1 check uses');
  const encrypted: any = new Wire('tcpIncoming', 1);
  assert.equal(typeof encrypted._encryptor?.extractInfoHashFromXor, 'function', 'MSE#extractInfoHashFromXor');
  assert.equal(typeof encrypted.setInfoHash, 'function', 'Wire#setInfoHash');
  encrypted.destroy();
  const wire: any = new Wire();
  assert.equal(typeof wire._message, 'function', 'Wire#_message');
  assert.ok(wire.peerPieces && 'peerExtendedHandshake' in wire, 'Wire#peerPieces, #peerExtendedHandshake');
  assert.equal(typeof wire.handshake, 'function', 'Wire#handshake');
  assert.equal(typeof wire._onMessage, 'function', 'Wire#_onMessage (unknown ids emit unknownmessage)');
  let unknown: Uint8Array | undefined;
  wire.on('unknownmessage', (b: Uint8Array) => (unknown = b));
  wire._onMessage(Uint8Array.from([22, 1, 2]));
  assert.deepEqual(Array.from(unknown ?? []), [22, 1, 2]);
});

test(
  'a btih download takes its metadata from a peer that greeted it with the truncated v2 hash',
  { timeout: 60_000 },
  async () => {
    const utMetadata: any = (await load('ut_metadata')).default;
    const getter = new Engine({ home: path.join(tmp, 'home-meta'), dht: false, lsd: false, pex: false });
    try {
      await getter.start();
      const magnet = `magnet:?xt=urn:btih:${parsed.infoHashV1}&xt=urn:btmh:1220${parsed.infoHashV2}`;
      const t = await getter.download(magnet, { outDir: path.join(tmp, 'meta-out') });
      assert.equal(t.id, parsed.infoHashV1);
      // A v2 peer dials us with the alias and offers the metadata (BEP 9), nothing else.
      const sock = net.connect(getter.port, '127.0.0.1');
      const wire: any = new Wire();
      sock.pipe(wire).pipe(sock);
      sock.on('error', () => {});
      wire.on('error', () => {});
      wire.use(utMetadata(Buffer.from(parsed.infoBytes)));
      wire.handshake(parsed.infoHashV2!.slice(0, 40), crypto.randomBytes(20), { dht: false });
      const reply = await new Promise<string>((resolve) => wire.once('handshake', (ih: string) => resolve(ih)));
      assert.equal(reply, parsed.infoHashV2!.slice(0, 40));
      for (let i = 0; i < 400 && !t.parsed; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(t.parsed?.infoHashV1, parsed.infoHashV1, 'metadata taken from the v2 peer');
      sock.destroy();
    } finally {
      await getter.stop();
    }
  },
);
