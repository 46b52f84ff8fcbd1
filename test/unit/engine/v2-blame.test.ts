// Per-block blame from BEP 52 leaf hashes: a piece that failed with blocks from several peers is settled by the
// piece's leaf hashes, fetched from a v2 peer (here answered by TorrentHashes.blockAnswer over the real bytes) and
// proven against the piece layer: exactly the peer that sent the bad block is struck, the honest one never, and a
// forged or missing answer falls back to the v1 mechanism (PeerGuard keeps the blocks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { PeerGuard, STRIKES_TO_BAN, type GuardWire } from '../../../src/engine/peer-guard.js';
import { BlockBlame, badBlocks } from '../../../src/engine/v2-blame.js';
import { TorrentHashes, decodeHashMessage, type HashRequest } from '../../../src/engine/v2-wire.js';
import { fileMerkle } from '../../../src/torrent/merkle.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';

const PIECE = 64 * 1024; // 4 blocks

function torrentOf(data: Buffer): ParsedTorrent {
  const t = fileMerkle(data, PIECE);
  return {
    pieceLength: PIECE,
    pieceCount: Math.ceil(data.length / PIECE),
    files: [{ path: ['f'], length: data.length, offset: 0, pad: false, piecesRoot: t.root }],
    pieceLayers: new Map([[t.root!.toString('hex'), t.pieceLayer]]),
    infoHashV2: 'cd'.repeat(32),
  } as unknown as ParsedTorrent;
}

function fakeWire(name: string): GuardWire & { sent: Uint8Array[]; _message: any; name: string } {
  const w: any = { name, remoteAddress: '127.0.0.1', remotePort: name.charCodeAt(0), peerId: name, sent: [] };
  w.destroy = () => (w.destroyed = true);
  w._message = (id: number, _n: number[], data: Uint8Array) => w.sent.push(Buffer.concat([Buffer.from([id]), data]));
  return w;
}

const data = crypto.randomBytes(6 * PIECE + 1000);
const parsed = torrentOf(data);
const trees = new TorrentHashes(parsed);
const read = async (o: number, l: number) => data.subarray(o, o + l);

function setup() {
  const bans: string[] = [];
  const guard = new PeerGuard((w) => bans.push((w as any).name));
  const honest = fakeWire('honest');
  const liar = fakeWire('liar');
  const v2peer = fakeWire('v2peer');
  const blame = new BlockBlame(
    () => parsed,
    () => trees,
    () => [v2peer],
    guard,
  );
  blame.install();
  return { guard, bans, honest, liar, v2peer, blame };
}

/** Piece `index` as received: blocks 0 and 2 from the honest peer, 1 and 3 from the liar (block 3 bad). */
function received(index: number, honest: GuardWire, liar: GuardWire) {
  return [0, 1, 2, 3].map((b) => {
    const at = index * PIECE + b * 16384;
    const block = Buffer.from(data.subarray(at, at + 16384));
    if (b === 3) block[100] ^= 0xff;
    return { offset: b * 16384, data: block, wire: b % 2 ? liar : honest };
  });
}

test('a multi-sender failure is settled by proven leaf hashes: only the liar is struck, then banned', async () => {
  const { guard, bans, honest, liar, v2peer, blame } = setup();
  for (const index of [1, 4]) {
    guard.pieceFailed(index, received(index, honest, liar));
    const req = decodeHashMessage(v2peer.sent.pop()!)! as HashRequest & { type: string };
    assert.equal(req.type, 'request');
    assert.equal(req.base, 0);
    assert.equal(req.count, 4);
    const hashes = (await trees.blockAnswer(req, read))!;
    assert.ok(blame.onAnswer({ ...req, hashes }));
  }
  assert.deepEqual(bans, ['liar']);
  assert.equal(STRIKES_TO_BAN, 2);
  assert.equal(guard.isBanned('honest'), false);
  assert.equal(guard.isBanned('liar'), true);
});

test('a forged answer (not reducing to the piece layer) is not believed: the v1 mechanism keeps the blocks', async () => {
  const { guard, bans, honest, liar, v2peer, blame } = setup();
  guard.pieceFailed(2, received(2, honest, liar));
  const req = decodeHashMessage(v2peer.sent.pop()!)! as HashRequest;
  // The liar's block hashed as if it were right, the honest blocks' leaves swapped: the blame would fall on honest.
  const forged = Buffer.alloc(4 * 32);
  for (let b = 0; b < 4; b++)
    crypto
      .createHash('sha256')
      .update(crypto.randomBytes(8))
      .digest()
      .copy(forged, b * 32);
  assert.ok(blame.onAnswer({ ...req, hashes: forged }));
  assert.deepEqual(bans, []);
  assert.equal(guard.hashFailures, 1);
  // The good copy arrives later: the v1 comparison blames the liar's block, not the honest ones.
  guard.piecePassed(2, data.subarray(2 * PIECE, 3 * PIECE));
  guard.pieceFailed(3, received(3, honest, liar));
  const req2 = decodeHashMessage(v2peer.sent.pop()!)! as HashRequest;
  assert.ok(blame.onAnswer({ ...req2 })); // a hash reject
  guard.piecePassed(3, data.subarray(3 * PIECE, 4 * PIECE));
  assert.deepEqual(bans, ['liar']);
});

test('badBlocks hashes only file bytes (a block running into pad bytes is checked on its file part)', () => {
  const last = Math.floor(data.length / PIECE); // the short last piece: 1000 bytes of file
  const leaves = Buffer.alloc(32);
  crypto
    .createHash('sha256')
    .update(data.subarray(last * PIECE))
    .digest()
    .copy(leaves);
  const block = Buffer.concat([data.subarray(last * PIECE), Buffer.alloc(16384 - 1000)]);
  const w = fakeWire('x');
  assert.deepEqual(
    badBlocks(parsed, last, [{ offset: 0, data: block, wire: w }], Buffer.concat([leaves, Buffer.alloc(96)])),
    [],
  );
  block[5] ^= 1;
  assert.equal(
    badBlocks(parsed, last, [{ offset: 0, data: block, wire: w }], Buffer.concat([leaves, Buffer.alloc(96)])).length,
    1,
  );
});

test('several v2 peers are asked: a forged answer first does not stop the proven one from settling it', async () => {
  const bans: string[] = [];
  const guard = new PeerGuard((w) => bans.push((w as any).name));
  const honest = fakeWire('honest');
  const liar = fakeWire('liar');
  const blame = new BlockBlame(
    () => parsed,
    () => trees,
    () => [liar, honest],
    guard,
  );
  blame.install();
  for (const index of [0, 5]) {
    guard.pieceFailed(index, received(index, honest, liar));
    assert.equal(liar.sent.length, 1);
    assert.equal(honest.sent.length, 1);
    const req = decodeHashMessage(honest.sent.pop()!)! as HashRequest;
    liar.sent.pop();
    assert.ok(blame.onAnswer({ ...req, hashes: crypto.randomBytes(4 * 32) }));
    assert.deepEqual(bans, [], 'not settled by the forged answer');
    assert.ok(blame.onAnswer({ ...req, hashes: (await trees.blockAnswer(req, read))! }));
  }
  assert.deepEqual(bans, ['liar']);
});
