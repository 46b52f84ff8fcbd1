// BEP 52 hash messages: encoding, answers from a piece layer checked against an independent full merkle tree built
// from the file's bytes (with libtorrent's flat-index arithmetic for the uncles, as in merkle_tree::get_hashes),
// proofs checked against the pieces root from merkle.ts, and malformed or out-of-range requests refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  HASH_REQUEST_BUDGET,
  MSG_HASHES,
  MSG_HASH_REJECT,
  MSG_HASH_REQUEST,
  TorrentHashes,
  decodeHashMessage,
  encodeHashMessage,
  layerRequest,
  serveHashes,
} from '../../../src/engine/v2-wire.js';
import {
  BLOCK_SIZE,
  PieceTree,
  fileMerkle,
  leafCountFor,
  leafHashes,
  nextPow2,
  sha256,
  uncleCount,
  validHashRequest,
  verifyHashes,
} from '../../../src/torrent/merkle.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';

/** Every layer of the file's tree, leaves first, as libtorrent stores it (pads: zero leaves). */
function fullTree(data: Uint8Array): Buffer[][] {
  const leaves = leafHashes(data);
  const n = nextPow2(leaves.length / 32);
  let layer: Buffer[] = [];
  for (let i = 0; i < n; i++)
    layer.push(i * 32 < leaves.length ? leaves.subarray(i * 32, i * 32 + 32) : Buffer.alloc(32));
  const layers = [layer];
  while (layer.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) up.push(sha256(Buffer.concat([layer[i], layer[i + 1]])));
    layers.push(up);
    layer = up;
  }
  return layers;
}

/** libtorrent's get_hashes over a flat tree (root = 0, children 2i+1, 2i+2). */
function ltGetHashes(layers: Buffer[][], base: number, index: number, count: number, proofLayers: number): Buffer {
  const height = layers.length - 1;
  const flat: Buffer[] = [];
  for (let l = height; l >= 0; l--) flat.push(...layers[l]);
  const layerStart = (depth: number) => (1 << depth) - 1;
  const start = layerStart(height - base) + index;
  const out = layers[base].slice(index, index + count);
  const btl = Math.log2(nextPow2(count)) - 1;
  let idx = start;
  for (let i = 0; i < proofLayers; i++) {
    idx = (idx - 1) >> 1;
    if (i >= btl) out.push(flat[idx + (idx & 1 ? 1 : -1)]);
  }
  return Buffer.concat(out);
}

const PIECE = 64 * 1024; // 4 blocks per piece: piece layer = tree layer 2

function hybridOf(files: Uint8Array[]): ParsedTorrent {
  const layers = new Map<string, Uint8Array>();
  const tf = files.map((data, i) => {
    const t = fileMerkle(data, PIECE);
    if (data.length > PIECE) layers.set(t.root!.toString('hex'), t.pieceLayer);
    return { path: [`f${i}`], length: data.length, offset: 0, pad: false, piecesRoot: t.root };
  });
  return {
    pieceLength: PIECE,
    files: tf,
    pieceLayers: layers,
    infoHashV2: 'ab'.repeat(32),
  } as unknown as ParsedTorrent;
}

test('hash messages encode and decode (ids 21, 22, 23; header fields big-endian)', () => {
  const root = crypto.randomBytes(32);
  const req = { root, base: 2, index: 512, count: 512, proofLayers: 7 };
  const r = encodeHashMessage({ type: 'request', ...req });
  assert.equal(r.length, 49);
  assert.equal(r[0], MSG_HASH_REQUEST);
  assert.deepEqual(Buffer.from(r.subarray(33, 37)), Buffer.from([0, 0, 0, 2]));
  assert.deepEqual(decodeHashMessage(r), { type: 'request', ...req, root: Uint8Array.from(root) });
  const hashes = crypto.randomBytes(32 * 3);
  const h = encodeHashMessage({ type: 'hashes', ...req, hashes });
  assert.equal(h[0], MSG_HASHES);
  assert.deepEqual(Buffer.from((decodeHashMessage(h) as any).hashes), hashes);
  assert.equal(encodeHashMessage({ type: 'reject', ...req })[0], MSG_HASH_REJECT);
  // Malformed: short, a request with trailing bytes, hashes not a multiple of 32, another id.
  assert.equal(decodeHashMessage(r.subarray(0, 48)), undefined);
  assert.equal(decodeHashMessage(Buffer.concat([r, Buffer.from([0])])), undefined);
  assert.equal(decodeHashMessage(Buffer.concat([h, Buffer.from([0])])), undefined);
  assert.equal(decodeHashMessage(Buffer.from([7, 0, 0])), undefined);
});

test('PieceTree answers exactly what libtorrent would, for every base, range and proof depth', () => {
  for (const size of [PIECE + 1, 5 * PIECE - 7, 9 * PIECE, 37 * PIECE + 12345]) {
    const data = crypto.randomBytes(size);
    const { root, pieceLayer } = fileMerkle(data, PIECE);
    const layers = fullTree(data);
    const tree = new PieceTree(size, PIECE, pieceLayer);
    assert.deepEqual(tree.root, root);
    assert.deepEqual(layers[layers.length - 1][0], root);
    const leafCount = leafCountFor(size);
    const height = Math.log2(leafCount);
    for (let base = 2; base < height; base++) {
      const width = leafCount >> base;
      for (let count = 1; count <= width; count *= 2) {
        for (let index = 0; index + count <= width; index += count) {
          for (let proof = 0; proof < height - base; proof++) {
            const req = { base, index, count, proofLayers: proof };
            assert.ok(validHashRequest(req, leafCount));
            const got = tree.hashes(base, index, count, proof)!;
            if (count > 1) assert.deepEqual(got, ltGetHashes(layers, base, index, count, proof), JSON.stringify(req));
            assert.equal(got.length, (count + uncleCount(count, proof)) * 32);
            // A proof to the root verifies against the pieces root; a flipped bit does not.
            if (base + proof + 1 === height) {
              assert.ok(verifyHashes(root!, leafCount, req, got), JSON.stringify(req));
              const bad = Buffer.from(got);
              bad[crypto.randomInt(bad.length)] ^= 1;
              assert.equal(verifyHashes(root!, leafCount, req, bad), false);
            }
          }
        }
      }
    }
  }
});

test('out-of-range and malformed requests are refused (libtorrent validate_hash_request)', () => {
  const leafCount = 16;
  const ok = { base: 2, index: 0, count: 4, proofLayers: 1 };
  assert.ok(validHashRequest(ok, leafCount));
  for (const bad of [
    { ...ok, count: 0 },
    { ...ok, count: 8193 },
    { ...ok, base: 4 }, // the root layer
    { ...ok, index: 4 }, // past the layer
    { ...ok, index: 1, count: 4 }, // runs past the layer
    { ...ok, proofLayers: 2 }, // above the root
    { ...ok, index: -1 },
    { ...ok, base: 2.5 },
    { ...ok, index: 0xffffffff },
  ]) {
    assert.equal(validHashRequest(bad, leafCount), false, JSON.stringify(bad));
  }
});

test('TorrentHashes: answers from piece layers, refuses unknown roots and block layers, adopts only proven layers', () => {
  const files = [crypto.randomBytes(9 * PIECE + 5), crypto.randomBytes(PIECE / 2), crypto.randomBytes(3 * PIECE)];
  const full = hybridOf(files);
  const served = new TorrentHashes(full);
  const big = full.files[0];
  const req = layerRequest(big.piecesRoot!, big.length, PIECE);
  const answer = served.answer(req)!;
  assert.ok(verifyHashes(big.piecesRoot!, leafCountFor(big.length), req, answer));
  assert.equal(served.answer({ ...req, root: crypto.randomBytes(32) }), undefined);
  assert.equal(served.answer({ ...req, base: 0 }), undefined); // block hashes: we keep no leaf layer
  assert.equal(served.answer({ ...req, count: 1 << 20 }), undefined);
  const small = full.files[1];
  assert.equal(served.answer({ ...req, root: small.piecesRoot!, base: 0, count: 1, proofLayers: 0 }), undefined);

  // A torrent from BEP 9 metadata has no layers: it asks, checks the answer against the root, keeps it.
  const bare = { ...full, pieceLayers: undefined } as ParsedTorrent;
  const asking = new TorrentHashes(bare);
  assert.deepEqual(
    asking.missing().map(([r]) => Buffer.from(r).toString('hex')),
    [full.files[0], full.files[2]].map((f) => Buffer.from(f.piecesRoot!).toString('hex')),
  );
  const tampered = Buffer.from(answer);
  tampered[5] ^= 0xff;
  assert.equal(asking.adoptLayer({ ...req, hashes: tampered }), false);
  assert.equal(asking.adoptLayer({ ...req, hashes: answer }), true);
  assert.deepEqual(
    Buffer.from(bare.pieceLayers!.get(Buffer.from(big.piecesRoot!).toString('hex'))!),
    Buffer.from(full.pieceLayers!.get(Buffer.from(big.piecesRoot!).toString('hex'))!),
  );
  assert.equal(asking.missing().length, 1);
  assert.deepEqual(asking.answer(req), answer); // and now serves it on
});

test('serveHashes never throws on garbage and stops answering past its budget', () => {
  const files = [crypto.randomBytes(5 * PIECE)];
  const t = new TorrentHashes(hybridOf(files));
  const sent: Uint8Array[] = [];
  const listeners: ((b: Uint8Array) => void)[] = [];
  const wire = {
    on: (_e: string, fn: (b: Uint8Array) => void) => listeners.push(fn),
    _message: (id: number, _n: number[], data: Uint8Array) => sent.push(Buffer.concat([Buffer.from([id]), data])),
  };
  serveHashes(wire as any, () => t);
  const feed = (b: Uint8Array) => listeners.forEach((fn) => fn(b));
  for (let i = 0; i < 200; i++) feed(crypto.randomBytes(crypto.randomInt(1, 80)).fill(21, 0, 1));
  feed(Buffer.from([21]));
  const req = layerRequest(
    t.missing().length ? Buffer.alloc(32) : hybridOf(files).files[0].piecesRoot!,
    5 * PIECE,
    PIECE,
  );
  sent.length = 0;
  for (let i = 0; i < HASH_REQUEST_BUDGET + 10; i++) feed(encodeHashMessage({ type: 'request', ...req }));
  const kinds = sent.map((m) => m[0]);
  assert.equal(kinds.filter((k) => k === MSG_HASHES).length, HASH_REQUEST_BUDGET);
  assert.equal(kinds.filter((k) => k === MSG_HASH_REJECT).length, 10);
  assert.equal(BLOCK_SIZE, 16384);
});

test('metadata is checked against the hash the transfer was joined by (btih, btmh, or a bare truncated v2)', async () => {
  const { checkMetadataHashes } = await import('../../../src/engine/v2-handshake.js');
  const info = Buffer.from('d4:name1:xe');
  const v1 = crypto.createHash('sha1').update(info).digest('hex');
  const v2 = crypto.createHash('sha256').update(info).digest('hex');
  assert.equal(checkMetadataHashes(info, v1, undefined), undefined);
  assert.equal(checkMetadataHashes(info, v1, v2), undefined); // btih + btmh (btmh checked on the parsed torrent)
  assert.equal(checkMetadataHashes(info, v2.slice(0, 40), v2), undefined); // btmh-only
  assert.equal(checkMetadataHashes(info, v2.slice(0, 40), undefined), v2); // bare truncated v2: learnt
  assert.throws(() => checkMetadataHashes(info, v2.slice(0, 40), 'ab'.repeat(32)), /btih/);
  assert.throws(() => checkMetadataHashes(info, 'ab'.repeat(20), 'ab'.repeat(32)), /btmh/); // btmh-only, wrong
  const other = 'cd'.repeat(32);
  assert.throws(() => checkMetadataHashes(info, other.slice(0, 40), other), /does not match the magnet's btmh/);
  assert.throws(() => checkMetadataHashes(info, 'ab'.repeat(20), undefined), /does not match the magnet's btih/);
});
