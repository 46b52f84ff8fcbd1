// Builds real v1 (unaligned), v2-only and hybrid torrents of in-memory files with the BEP 52 helpers of merkle.ts,
// writes the files to disk, and parses the torrents back. Independent of create.ts on purpose: v1-only layouts are
// exercised too, and creation and verification do not share a bug.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { leafHashes, pieceNode, rootFromPieceLayer, HASH_SIZE } from '../../../src/torrent/merkle.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';
import { b, encodeTorrent } from './parse-fixtures.js';

export interface DataFile {
  path: string[];
  data: Buffer;
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sha1 = (d: Uint8Array) => createHash('sha1').update(d).digest();

function v2Of(data: Buffer, pl: number): { root?: Buffer; layer: Buffer } {
  if (data.length === 0) return { layer: Buffer.alloc(0) };
  const leaves = leafHashes(data);
  const perPiece = pl / 16384;
  const n = Math.ceil(data.length / pl);
  const small = data.length <= pl;
  const nodes: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(pieceNode(leaves.subarray(i * perPiece * HASH_SIZE, (i + 1) * perPiece * HASH_SIZE), pl, small));
  }
  const layer = Buffer.concat(nodes);
  return { root: n === 1 ? nodes[0] : rootFromPieceLayer(layer, pl), layer };
}

export function buildTorrent(
  files: DataFile[],
  kind: 'v1' | 'v2' | 'hybrid',
  pl: number,
  name = 'content',
  single = false,
): { bytes: Uint8Array; torrent: ParsedTorrent } {
  const info: any = { name: b(name), 'piece length': pl };
  const layers: [Uint8Array, Uint8Array][] = [];
  if (kind !== 'v1') {
    info['meta version'] = 2;
    const tree: any = {};
    for (const f of single ? [{ ...files[0], path: [name] }] : files) {
      let node = tree;
      for (const c of f.path.slice(0, -1)) node = node[c] ??= {};
      const { root, layer } = v2Of(f.data, pl);
      const leaf: any = { length: f.data.length };
      if (root) leaf['pieces root'] = root;
      node[f.path[f.path.length - 1]] = { '': leaf };
      if (f.data.length > pl) layers.push([root!, layer]);
    }
    info['file tree'] = tree;
  }
  if (kind !== 'v2') {
    const stream: Buffer[] = [];
    const list: any[] = [];
    files.forEach((f) => {
      stream.push(f.data);
      list.push({ length: f.data.length, path: f.path.map(b) });
      const rem = f.data.length % pl;
      if (kind === 'hybrid' && rem) {
        stream.push(Buffer.alloc(pl - rem));
        list.push({ attr: b('p'), length: pl - rem, path: [b('.pad'), b(String(pl - rem))] });
      }
    });
    const all = Buffer.concat(stream);
    const pieces: Buffer[] = [];
    for (let off = 0; off < all.length; off += pl) pieces.push(sha1(all.subarray(off, off + pl)));
    info.pieces = Buffer.concat(pieces);
    if (single) info.length = files[0].data.length;
    else info.files = list;
    if (single && kind === 'hybrid') {
      // single-file hybrid: no pad entry; the last piece is hashed as it is
      const d = files[0].data;
      const ps: Buffer[] = [];
      for (let off = 0; off < d.length; off += pl) ps.push(sha1(d.subarray(off, off + pl)));
      info.pieces = Buffer.concat(ps);
    }
  }
  const bytesOut = encodeTorrent({ info }, kind === 'v1' ? undefined : layers);
  return { bytes: bytesOut, torrent: parseTorrent(bytesOut) };
}

export async function writeFiles(root: string, files: DataFile[]): Promise<void> {
  for (const f of files) {
    const p = join(root, ...f.path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, f.data);
  }
}
