// BEP 52 merkle trees: vectors built by hand from node:crypto, one rule per case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BLOCK_SIZE, fileMerkle, merkleRoot, padHash, rootFromPieceLayer } from '../../../src/torrent/merkle.js';

const H = (...parts: Uint8Array[]) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const Z = Buffer.alloc(32);
const KiB = 1024;

function data(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}
const leaf = (d: Buffer, i: number) => H(d.subarray(i * BLOCK_SIZE, Math.min(d.length, (i + 1) * BLOCK_SIZE)));

test('an empty file has no root', () => {
  assert.equal(fileMerkle(Buffer.alloc(0), 16 * KiB).root, undefined);
});

test('a file of one block or less: the root is the SHA-256 of its bytes', () => {
  for (const n of [1, 100, BLOCK_SIZE - 1, BLOCK_SIZE]) {
    const d = data(n);
    assert.deepEqual(fileMerkle(d, 16 * KiB).root, H(d), `length ${n}`);
    assert.deepEqual(fileMerkle(d, 1024 * KiB).root, H(d), `length ${n}, 1 MiB pieces`);
  }
});

test('16 KiB + 1: two leaves, the second hashes one byte unpadded', () => {
  const d = data(BLOCK_SIZE + 1);
  const expected = H(H(d.subarray(0, BLOCK_SIZE)), H(d.subarray(BLOCK_SIZE)));
  assert.deepEqual(fileMerkle(d, 16 * KiB).root, expected);
  assert.deepEqual(fileMerkle(d, 64 * KiB).root, expected);
});

test('three leaves are padded to four with a zero leaf', () => {
  const d = data(3 * BLOCK_SIZE - 5);
  const [l0, l1, l2] = [0, 1, 2].map((i) => leaf(d, i));
  const t = fileMerkle(d, 16 * KiB);
  assert.deepEqual(t.root, H(H(l0, l1), H(l2, Z)));
  assert.deepEqual(t.pieceLayer, Buffer.concat([l0, l1, l2]), '16 KiB pieces: the piece layer is the leaves');
});

test('a file smaller than a piece is only as wide as its own leaves', () => {
  // 2 leaves with 64 KiB pieces (4 leaves per piece): root = H(l0 || l1), not padded to 4 leaves.
  const d = data(2 * BLOCK_SIZE);
  assert.deepEqual(fileMerkle(d, 64 * KiB).root, H(leaf(d, 0), leaf(d, 1)));
  const t = fileMerkle(data(3 * BLOCK_SIZE), 64 * KiB);
  const d3 = data(3 * BLOCK_SIZE);
  assert.deepEqual(t.root, H(H(leaf(d3, 0), leaf(d3, 1)), H(leaf(d3, 2), Z)));
});

test('multi-piece file: last piece padded with zero leaves, piece layer padded with zero subtrees', () => {
  // 32 KiB pieces (2 leaves each), 5 leaves: pieces P0 P1 P2(l4, zero), tree of 4 pieces.
  const d = data(5 * BLOCK_SIZE - 100, 3);
  const l = [0, 1, 2, 3, 4].map((i) => leaf(d, i));
  const p = [H(l[0], l[1]), H(l[2], l[3]), H(l[4], Z)];
  const t = fileMerkle(d, 32 * KiB);
  assert.deepEqual(t.pieceLayer, Buffer.concat(p));
  assert.deepEqual(t.root, H(H(p[0], p[1]), H(p[2], H(Z, Z))));
  assert.deepEqual(rootFromPieceLayer(t.pieceLayer, 32 * KiB), t.root);
});

test('a file of exactly one piece: the piece layer is the root', () => {
  const d = data(64 * KiB);
  const t = fileMerkle(d, 64 * KiB);
  assert.deepEqual(t.root, H(H(leaf(d, 0), leaf(d, 1)), H(leaf(d, 2), leaf(d, 3))));
  assert.deepEqual(t.pieceLayer, t.root);
});

test('pad hashes are roots of zero subtrees', () => {
  assert.deepEqual(padHash(0), Z);
  assert.deepEqual(padHash(1), H(Z, Z));
  assert.deepEqual(padHash(2), H(H(Z, Z), H(Z, Z)));
  assert.deepEqual(merkleRoot(Buffer.concat([Z, Z, Z]), 4), padHash(2));
});
