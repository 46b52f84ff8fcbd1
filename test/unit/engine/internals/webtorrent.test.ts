// The fence around WebTorrent's internals (src/engine/internals/webtorrent.ts, used by scheduler.ts, request.ts,
// transfer.ts, v2-handshake.ts, announce-numbers.ts, utp/webtorrent-utp.ts, peer-retry.ts): the exact versions it was
// written against, every member it replaces, calls or reads, and the upstream behaviour worked around. Any of these
// failing after an upgrade means the modules above must be re-read against the new WebTorrent first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Wire from 'bittorrent-protocol';
import Torrent from 'webtorrent/lib/torrent.js';
import Piece from 'torrent-piece';
import WebTorrent from 'webtorrent';
import Peer from 'webtorrent/lib/peer.js';
import {
  PATCHED_CLIENT_MEMBERS,
  PATCHED_DISCOVERY_MEMBERS,
  PATCHED_PEER_FIELDS,
  PATCHED_MEMBERS,
  PATCHED_PIECE_FIELDS,
  PATCHED_TORRENT_FIELDS,
  PATCHED_TORRENT_MEMBERS,
  PATCHED_TRACKER_MEMBERS,
  PATCHED_UT_METADATA_FIELDS,
  PINNED,
  clampAnnounceIntervals,
  dialPlaintext,
  markPieceFlushed,
  metadataComplete,
  metadataInfoHash,
  pieceBlockCount,
  pieceFullyReserved,
  pieceHasBlock,
  pieceStarted,
} from '../../../../src/engine/internals.js';
import { assertPinned } from './pinned.js';

const root = new URL('../../../../', import.meta.url);

test('webtorrent is pinned to the exact version the scheduler was written against', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  assert.equal(pkg.dependencies.webtorrent, '3.0.21');
  const installed = JSON.parse(readFileSync(new URL('node_modules/webtorrent/package.json', root), 'utf8'));
  assert.equal(installed.version, '3.0.21');
});

test('every Torrent member the scheduler replaces or calls still exists', () => {
  for (const name of PATCHED_TORRENT_MEMBERS) {
    assert.equal(typeof (Torrent.prototype as any)[name], 'function', `Torrent#${name}`);
  }
  for (const name of ['_markVerified', '_updateInterest', '_hotswap', '_checkDone']) {
    assert.equal(typeof (Torrent.prototype as any)[name], 'function', `Torrent#${name}`);
  }
});

test('the upstream behaviour worked around is still there', () => {
  const src = (Torrent.prototype as any)._onWireWithMetadata.toString();
  // Unchokes every interested peer at once: the scheduler leaves this one listener out.
  assert.match(src, /wire\.once\('interested', \(\) => \{\s*wire\.unchoke\(\)/);
  // Marks a peer a seed before its bitfield and never back: the scheduler overrides wire.isSeeder.
  assert.match(src, /wire\.isSeeder = true/);
  // Sends have-all / bitfield through these wire methods: super-seeding swaps them for the call.
  assert.match(src, /wire\.haveAll\(\)/);
  assert.match(src, /wire\.bitfield\(this\.bitfield\)/);
  // Builds a RarityMap with the metadata (the scheduler destroys it and leaves a stub), used only by upstream's picking.
  assert.match((Torrent.prototype as any)._onMetadata.toString(), /this\._rarityMap = new RarityMap\(this\)/);
  // Announces each verified piece as 'verified' (the scheduler's hook for its own bookkeeping).
  assert.match((Torrent.prototype as any)._markVerified.toString(), /emit\('verified', index\)/);
});

test('the Wire members the scheduler uses still exist', () => {
  for (const name of ['request', 'cancel', 'have', 'haveNone', 'bitfield', 'choke', 'unchoke', 'interested']) {
    assert.equal(typeof (Wire.prototype as any)[name], 'function', `Wire#${name}`);
  }
  const w = new Wire();
  assert.ok(Array.isArray(w.requests), 'Wire#requests');
  assert.equal(typeof w.peerPieces.get, 'function', 'Wire#peerPieces');
  assert.equal(typeof w.downloadSpeed, 'function', 'Wire#downloadSpeed');
  assert.equal(w.uploaded, 0, 'Wire#uploaded');
  w.destroy();
});

test('the fence is pinned: package.json and node_modules hold exactly the versions it was written against', () => {
  assertPinned(PINNED);
});

test('every member the fence lists is checked below (no listed member goes unchecked)', () => {
  const checked = new Set<string>([
    ...PATCHED_TORRENT_MEMBERS,
    ...PATCHED_TORRENT_FIELDS,
    ...PATCHED_PIECE_FIELDS,
    ...PATCHED_CLIENT_MEMBERS,
    ...PATCHED_DISCOVERY_MEMBERS,
    ...PATCHED_TRACKER_MEMBERS,
    ...PATCHED_UT_METADATA_FIELDS,
  ]);
  for (const m of PATCHED_MEMBERS.webtorrent) assert.ok(checked.has(m), m);
  for (const m of PATCHED_MEMBERS.webtorrent) assert.match(m, /^_/, `${m} is a private member`);
});

test('the Torrent fields the fence reads are still set by Torrent', () => {
  const src = readFileSync(new URL('node_modules/webtorrent/lib/torrent.js', root), 'utf8');
  for (const name of PATCHED_TORRENT_FIELDS) {
    assert.match(src, new RegExp(`this\\.${name} = `), `Torrent#${name} is assigned`);
  }
  // _peers is a Map keyed by address (torrentPeers, hasPeer); _reservations an array per piece (reservationsOf).
  assert.match(src, /this\._peers = new Map\(\)/);
  assert.match(src, /this\._reservations\[index\]/);
});

test('the Piece fields the fence reads and writes behave as it expects', () => {
  const piece = new (Piece as any)(3 * 16384 + 5);
  for (const name of PATCHED_PIECE_FIELDS) assert.ok(name in piece, `Piece#${name}`);
  assert.equal(pieceBlockCount(piece), 4);
  assert.equal(pieceStarted(piece), false);
  assert.equal(pieceFullyReserved(piece), false);
  for (let i = 0; i < 4; i++) assert.equal(piece.reserve(), i);
  assert.equal(pieceStarted(piece), true);
  assert.equal(pieceFullyReserved(piece), true);
  assert.equal(pieceHasBlock(piece, 1), false);
  piece.set(1, new Uint8Array(16384), null);
  assert.equal(pieceHasBlock(piece, 1), true);
  piece.cancel(2);
  assert.equal(pieceFullyReserved(piece), false, 'a block given back');
  markPieceFlushed(piece);
  assert.equal(pieceStarted(piece), false);
  assert.equal(piece._flushed, true);
});

test('the WebTorrent client members the fence uses still exist', () => {
  const proto = (WebTorrent as any).prototype;
  assert.equal(typeof proto._getByHash, 'function', 'WebTorrent#_getByHash');
  assert.equal(typeof Object.getOwnPropertyDescriptor(proto, '_utpServer')?.get, 'function', 'WebTorrent#_utpServer');
  const src = readFileSync(new URL('node_modules/webtorrent/index.js', root), 'utf8');
  assert.match(src, /this\._connPool = new ConnPool\(this\)/, 'WebTorrent#_connPool');
  const pool = readFileSync(new URL('node_modules/webtorrent/lib/conn-pool.js', root), 'utf8');
  assert.match(pool, /this\.tcpServer = net\.createServer\(\)/, 'ConnPool#tcpServer');
});

test('an outgoing Peer dials with its `secure` field: 0 opens with a plaintext handshake (plain-first.ts)', () => {
  const src = readFileSync(new URL('node_modules/webtorrent/lib/peer.js', root), 'utf8');
  // onConnect: the Wire gets the level, and only a secure peer starts the encryption handshake.
  assert.match(src, /new Wire\(this\.type, this\.secure\)/, 'Peer#onConnect: new Wire(type, secure)');
  assert.match(src, /if \(this\.secure\) \{\s*wire\.startEncryption\(/, 'Peer#onConnect: startEncryption when secure');
  const torrent = { client: { secure: 1 }, wires: [] as unknown[], removePeer() {} } as any;
  const peer = Peer.createTCPOutgoingPeer('127.0.0.1:6881', torrent, { up: null, down: null }, 'test', 1);
  for (const f of PATCHED_PEER_FIELDS) assert.ok(f in peer, `Peer#${f}`);
  let refused = 0;
  dialPlaintext(peer, () => refused++);
  assert.equal(peer.secure, 0);
  // Closed after the connection came up and before the peer's handshake: refused; a failed connect is not.
  peer.wire = { peerId: undefined, destroy() {} };
  peer.destroy();
  assert.equal(refused, 1);
  const other = Peer.createTCPOutgoingPeer('127.0.0.1:6882', torrent, { up: null, down: null }, 'test', 1);
  dialPlaintext(other, () => refused++);
  other.destroy(new Error('ECONNREFUSED'));
  assert.equal(refused, 1);
});

test('the discovery, tracker-client and ut_metadata members the fence uses still exist', async () => {
  const load = (name: string): Promise<any> => import(name);
  const Discovery = (await load('torrent-discovery')).default;
  for (const m of PATCHED_DISCOVERY_MEMBERS) assert.equal(typeof Discovery.prototype[m], 'function', `Discovery#${m}`);
  const TrackerClient = (await load('bittorrent-tracker')).default;
  assert.match(
    String(TrackerClient.prototype._defaultAnnounceOpts),
    /this\._getAnnounceOpts/,
    'Client reads _getAnnounceOpts',
  );
  // Client#_trackers: one tracker per announce URL, each with the setInterval the fence clamps.
  const client = new TrackerClient({
    infoHash: 'ab'.repeat(20),
    peerId: 'cd'.repeat(20),
    announce: ['http://127.0.0.1:9/announce'],
    port: 6881,
  });
  for (const m of PATCHED_TRACKER_MEMBERS) assert.ok(m in client, `Client#${m}`);
  assert.equal(typeof client._trackers[0]?.setInterval, 'function', 'Client#_trackers[i].setInterval');
  const seen: unknown[] = [];
  const setInterval = client._trackers[0].setInterval;
  client._trackers[0].setInterval = (ms: unknown) => seen.push(ms);
  clampAnnounceIntervals(client, (ms) => ms * 2);
  client._trackers[0].setInterval(5000);
  assert.deepEqual(seen, [10000], 'the clamp sees and changes the interval');
  client._trackers[0].setInterval = setInterval;
  client.destroy();
  const utMetadata = (await load('ut_metadata')).default;
  const wire = new Wire() as any;
  wire.use(utMetadata(undefined));
  // (_infoHash is set when the peer's handshake is seen; the fence and ut_metadata's own check read it.)
  wire.ut_metadata.onHandshake('ab'.repeat(20), 'cd'.repeat(20), {});
  for (const m of PATCHED_UT_METADATA_FIELDS) assert.ok(m in wire.ut_metadata, `ut_metadata#${m}`);
  assert.equal(metadataInfoHash(wire.ut_metadata), 'ab'.repeat(20));
  assert.equal(metadataComplete(wire.ut_metadata), false);
  wire.destroy();
});
