// BEP 52 merkle trees: SHA-256 over 16 KiB leaves of one file, padded with zero leaves to a power of two.
//
// The rules, as libtorrent 2.0 applies them (and our interop tests check):
// - leaf i = SHA-256 of bytes [i*16 KiB, (i+1)*16 KiB) of the file; the last leaf hashes only the bytes left.
// - the leaf count is padded to the next power of two with leaves of 32 zero bytes; an inner node is
//   SHA-256(left || right). A one-leaf file's root is its leaf hash. Empty files have no root.
// - the piece layer is the layer whose nodes each cover one piece (pieceLength / 16 KiB leaves); it lists only
//   the file's real pieces (no padding nodes); `piece layers` carries it for files larger than one piece.
// - a pad node at the piece layer is the root of a subtree of zero leaves, not 32 zero bytes.
import crypto from 'node:crypto';

/** BEP 52 leaf size. */
export const BLOCK_SIZE = 16384;
/** SHA-256 output length. */
export const HASH_SIZE = 32;

// crypto.hash (one-shot) is ~20% faster than createHash for 16 KiB inputs; Node 20.12+ has it.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

export function sha256(data: Uint8Array): Buffer {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

export function sha1(data: Uint8Array): Buffer {
  return oneShot ? oneShot('sha1', data, 'buffer') : crypto.createHash('sha1').update(data).digest();
}

/** Smallest power of two >= n (n >= 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const padCache: Buffer[] = [Buffer.alloc(HASH_SIZE)];
/** The root of a subtree of 2^level zero leaves (level 0: 32 zero bytes). */
export function padHash(level: number): Buffer {
  while (padCache.length <= level) {
    const below = padCache[padCache.length - 1];
    padCache.push(sha256(Buffer.concat([below, below])));
  }
  return padCache[level];
}

/** log2 of a power of two. */
function log2(n: number): number {
  return Math.round(Math.log2(n));
}

/** SHA-256 of each 16 KiB block of `data` (the last one may be short), concatenated. */
export function leafHashes(data: Uint8Array): Buffer {
  const count = Math.ceil(data.length / BLOCK_SIZE);
  const out = Buffer.allocUnsafe(count * HASH_SIZE);
  for (let i = 0; i < count; i++) {
    sha256(data.subarray(i * BLOCK_SIZE, Math.min(data.length, (i + 1) * BLOCK_SIZE))).copy(out, i * HASH_SIZE);
  }
  return out;
}

/**
 * Reduces the `count` 32-byte nodes at the start of `scratch` to their root, in place (no allocation but the
 * hashes): the tree is `width` nodes wide (a power of two >= count; scratch has room for `width` nodes), missing
 * nodes are pad nodes of `padLevel` (the level of this layer above the leaves). Left || right is contiguous in
 * scratch, so each inner node is one hash of 64 bytes written over its left child. Returns scratch's first node.
 */
export function reduceInPlace(scratch: Buffer, count: number, width: number, padLevel = 0): Buffer {
  let level = padLevel;
  while (width > 1) {
    if (count % 2 === 1) {
      padHash(level).copy(scratch, count * HASH_SIZE);
      count++;
    }
    const half = count / 2;
    for (let i = 0; i < half; i++) sha256(scratch.subarray(i * 64, i * 64 + 64)).copy(scratch, i * HASH_SIZE);
    count = half;
    width /= 2;
    level++;
  }
  return scratch.subarray(0, HASH_SIZE);
}

/**
 * The root of a tree whose bottom layer is `nodes` (concatenated 32-byte hashes), padded to `width` nodes
 * (a power of two >= the node count) with pad nodes of `padLevel` (the level of the bottom layer above the leaves).
 */
export function merkleRoot(nodes: Uint8Array, width: number, padLevel = 0): Buffer {
  const count = nodes.length / HASH_SIZE;
  if (!Number.isInteger(count) || count < 1) throw new RangeError('merkleRoot: need at least one 32-byte node');
  if (width < count || width !== nextPow2(width)) throw new RangeError(`merkleRoot: bad width ${width}`);
  const scratch = Buffer.allocUnsafe(width * HASH_SIZE);
  scratch.set(nodes);
  return Buffer.from(reduceInPlace(scratch, count, width, padLevel));
}

/** Blocks per piece; piece lengths are powers of two >= 16 KiB (BEP 52). */
export function blocksPerPiece(pieceLength: number): number {
  if (!Number.isInteger(pieceLength) || pieceLength < BLOCK_SIZE || nextPow2(pieceLength) !== pieceLength) {
    throw new RangeError(`piece length must be a power of two >= 16 KiB, got ${pieceLength}`);
  }
  return pieceLength / BLOCK_SIZE;
}

/**
 * The piece-layer node for one piece, from that piece's leaf hashes (the last piece of a file may have fewer).
 * `smallFile`: the file is at most one piece long, so its tree is only as wide as its own leaf count.
 */
export function pieceNode(leaves: Uint8Array, pieceLength: number, smallFile: boolean): Buffer {
  const n = leaves.length / HASH_SIZE;
  const width = smallFile ? nextPow2(n) : blocksPerPiece(pieceLength);
  return merkleRoot(leaves, width, 0);
}

/**
 * The file's pieces root from its piece layer (one node per piece). For a file of at most one piece the
 * single node already is the root.
 */
export function rootFromPieceLayer(pieceLayer: Uint8Array, pieceLength: number): Buffer {
  const pieces = pieceLayer.length / HASH_SIZE;
  if (pieces === 1) return Buffer.from(pieceLayer.subarray(0, HASH_SIZE));
  return merkleRoot(pieceLayer, nextPow2(pieces), log2(blocksPerPiece(pieceLength)));
}

export interface FileTree {
  /** 32 bytes; absent for an empty file. */
  root?: Buffer;
  /** One node per piece, concatenated; only meaningful (and only put in `piece layers`) for files > one piece. */
  pieceLayer: Buffer;
}

/**
 * Reference implementation over a whole file held in memory (tests, tiny files). The hashing workers compute
 * the same thing piece by piece without holding the file.
 */
export function fileMerkle(data: Uint8Array, pieceLength: number): FileTree {
  if (data.length === 0) return { pieceLayer: Buffer.alloc(0) };
  const small = data.length <= pieceLength;
  const pieces = Math.ceil(data.length / pieceLength);
  const layer = Buffer.allocUnsafe(pieces * HASH_SIZE);
  for (let p = 0; p < pieces; p++) {
    const leaves = leafHashes(data.subarray(p * pieceLength, Math.min(data.length, (p + 1) * pieceLength)));
    pieceNode(leaves, pieceLength, small).copy(layer, p * HASH_SIZE);
  }
  return { root: rootFromPieceLayer(layer, pieceLength), pieceLayer: layer };
}

// ---- Trees addressed the way BEP 52's hash request / hashes messages address them ----
//
// A file's tree has `leafCount` = nextPow2(blocks) leaves; layer 0 is the leaves, layer `treeHeight(leafCount)` the
// root. A request names a base layer, the index of its first node there, a node count, and how many proof layers
// to add. The answer is the `count` base nodes (pad nodes included), then the "uncle" hashes: the siblings of the
// ancestors at layers base+log2(count) .. base+proofLayers, lowest first, exactly as libtorrent 2.0's
// merkle_tree::get_hashes writes them (its on_hashes expects proofLayers - log2(count) + 1 uncles).

/** Layers above the leaves: log2 of a power-of-two leaf count (libtorrent's merkle_num_layers). */
export function treeHeight(leafCount: number): number {
  return log2(leafCount);
}

/** Leaves (16 KiB blocks, padded to a power of two) of a file of `length` bytes (> 0). */
export function leafCountFor(length: number): number {
  return nextPow2(Math.ceil(length / BLOCK_SIZE));
}

/** How many uncle hashes a hashes message for `count` base nodes and `proofLayers` carries. */
export function uncleCount(count: number, proofLayers: number): number {
  return Math.max(0, proofLayers - log2(nextPow2(count)) + 1);
}

/**
 * The upper part of one file's tree, from its piece layer to its root, built once from `piece layers` (or from
 * hashes a peer proved). Answers hash requests whose base is the piece layer or above; the block layers below
 * it are not kept (they would need the file's data).
 */
export class PieceTree {
  /** layers[k] is tree layer pieceLevel + k, padded to its full width; the last one is [root]. */
  private readonly layers: Buffer[] = [];
  readonly leafCount: number;
  readonly pieceLevel: number;

  constructor(fileLength: number, pieceLength: number, pieceLayer: Uint8Array) {
    this.leafCount = leafCountFor(fileLength);
    this.pieceLevel = log2(blocksPerPiece(pieceLength));
    const pieces = Math.ceil(fileLength / pieceLength);
    if (fileLength <= pieceLength) throw new RangeError('a file of one piece or less has no piece layer');
    if (pieceLayer.length !== pieces * HASH_SIZE) {
      throw new RangeError(`piece layer has ${pieceLayer.length / HASH_SIZE} nodes, the file ${pieces} pieces`);
    }
    let width = this.leafCount >> this.pieceLevel;
    let layer = Buffer.alloc(width * HASH_SIZE);
    layer.set(pieceLayer);
    for (let i = pieces; i < width; i++) padHash(this.pieceLevel).copy(layer, i * HASH_SIZE);
    this.layers.push(layer);
    while (width > 1) {
      width /= 2;
      const up = Buffer.allocUnsafe(width * HASH_SIZE);
      for (let i = 0; i < width; i++) sha256(layer.subarray(i * 64, i * 64 + 64)).copy(up, i * HASH_SIZE);
      this.layers.push(up);
      layer = up;
    }
  }

  get root(): Buffer {
    return this.layers[this.layers.length - 1].subarray(0, HASH_SIZE);
  }

  get height(): number {
    return log2(this.leafCount);
  }

  /** Node `index` of tree layer `level` (level >= pieceLevel). */
  node(level: number, index: number): Buffer {
    const layer = this.layers[level - this.pieceLevel];
    return layer.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  /**
   * The hashes for a request already checked by validHashRequest, or undefined when the base layer lies below
   * the piece layer (block hashes: not kept).
   */
  hashes(base: number, index: number, count: number, proofLayers: number): Buffer | undefined {
    if (base < this.pieceLevel) return undefined;
    const uncles = uncleCount(count, proofLayers);
    const out = Buffer.allocUnsafe((count + uncles) * HASH_SIZE);
    const layer = this.layers[base - this.pieceLevel];
    layer.copy(out, 0, index * HASH_SIZE, (index + count) * HASH_SIZE);
    let at = count * HASH_SIZE;
    let level = base + log2(nextPow2(count));
    let pos = index >> log2(nextPow2(count));
    for (let u = 0; u < uncles; u++, level++, pos >>= 1) {
      this.node(level, pos ^ 1).copy(out, at);
      at += HASH_SIZE;
    }
    return out;
  }
}

export interface HashRequestShape {
  base: number;
  index: number;
  count: number;
  proofLayers: number;
}

/** libtorrent's validate_hash_request for a file of `leafCount` leaves (count capped at 8192, as libtorrent does). */
export function validHashRequest(req: HashRequestShape, leafCount: number): boolean {
  const { base, index, count, proofLayers } = req;
  const ints = [base, index, count, proofLayers].every((n) => Number.isInteger(n) && n >= 0 && n <= 0x7fffffff);
  if (!ints || count === 0 || count > 8192) return false;
  const layers = log2(leafCount);
  if (base >= layers) return false;
  const levelSize = leafCount >> base;
  if (index >= levelSize || index + count > levelSize) return false;
  return proofLayers < layers - base;
}

/**
 * Checks a hashes answer against the file's root: the base nodes must reduce, with the uncles, to `root`.
 * `count` must be a power of two aligned on `index` (what we ask for), and the proof must reach the root.
 */
export function verifyHashes(root: Uint8Array, leafCount: number, req: HashRequestShape, hashes: Uint8Array): boolean {
  const { base, index, count, proofLayers } = req;
  if (!validHashRequest(req, leafCount) || nextPow2(count) !== count || index % count !== 0) return false;
  const uncles = uncleCount(count, proofLayers);
  if (hashes.length !== (count + uncles) * HASH_SIZE) return false;
  if (base + proofLayers + 1 !== log2(leafCount)) return false; // the proof must end at the root
  let node = merkleRoot(hashes.subarray(0, count * HASH_SIZE), count, base);
  let pos = index / count;
  for (let u = 0; u < uncles; u++, pos >>= 1) {
    const uncle = hashes.subarray((count + u) * HASH_SIZE, (count + u + 1) * HASH_SIZE);
    node = sha256(pos & 1 ? Buffer.concat([uncle, node]) : Buffer.concat([node, uncle]));
  }
  return Buffer.from(root).equals(node);
}
