// Builders of small .torrent dictionaries for parser tests. Hashes are placeholders (the parser checks shapes and
// sizes; verify tests use real data). Tests mutate the returned dictionaries to make each fault.
import bencode from 'bencode';
import { rootFromPieceLayer } from '../../../src/torrent/merkle.js';

export const te = new TextEncoder();
export const b = (s: string): Uint8Array => te.encode(s);

export interface FixtureFile {
  path: string[];
  length: number;
}

function ceilDiv(a: number, n: number): number {
  return Math.floor((a + n - 1) / n);
}

function fakeRoot(i: number): Uint8Array {
  const r = new Uint8Array(32);
  r.fill(i + 1);
  r[0] = 0xff; // not valid UTF-8: exercises raw dictionary keys in `piece layers`
  return r;
}

export function v1Dict(files: FixtureFile[], pieceLength = 16384, name = 'model'): any {
  const total = files.reduce((s, f) => s + f.length, 0);
  const info: any = {
    name: b(name),
    'piece length': pieceLength,
    pieces: new Uint8Array(20 * ceilDiv(total, pieceLength)),
    files: files.map((f) => ({ length: f.length, path: f.path.map(b) })),
  };
  return { announce: b('http://127.0.0.1:1/announce'), info };
}

export function v1SingleDict(length: number, pieceLength = 16384, name = 'model.bin'): any {
  return {
    info: {
      name: b(name),
      'piece length': pieceLength,
      pieces: new Uint8Array(20 * ceilDiv(length, pieceLength)),
      length,
    },
  };
}

function tree(files: FixtureFile[]): { tree: any; layers: Map<Uint8Array, Uint8Array>; roots: Uint8Array[] } {
  const root: any = {};
  const roots: Uint8Array[] = [];
  files.forEach((f, i) => {
    let node = root;
    for (const c of f.path.slice(0, -1)) node = node[c] ??= {};
    const leaf: any = { length: f.length };
    if (f.length > 0) leaf['pieces root'] = roots[i] = fakeRoot(i);
    node[f.path[f.path.length - 1]] = { '': leaf };
  });
  return { tree: root, layers: new Map(), roots };
}

/** Encodes a dict whose `piece layers` keys are raw bytes (bencode wants string keys: build it by hand). */
export function encodeTorrent(dict: any, layers?: [Uint8Array, Uint8Array][]): Uint8Array {
  if (!layers) return bencode.encode(dict);
  const { ['piece layers']: _drop, ...rest } = dict;
  const body = bencode.encode(rest);
  // Splice `piece layers` in sorted position: keys after "info" ("piece layers" > "info"), so put it last.
  layers.sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])));
  const parts: Uint8Array[] = [body.subarray(0, body.length - 1), b('12:piece layersd')];
  for (const [k, v] of layers) parts.push(b(`${k.length}:`), k, b(`${v.length}:`), v);
  parts.push(b('ee'));
  return Buffer.concat(parts);
}

export interface Built {
  dict: any;
  layers: [Uint8Array, Uint8Array][];
  bytes(): Uint8Array;
}

/** v2-only (`hybrid` false) or hybrid torrent of `files` given in file-tree (sorted) order. */
export function v2Built(
  files: FixtureFile[],
  opts: { pieceLength?: number; name?: string; hybrid?: boolean } = {},
): Built {
  const pieceLength = opts.pieceLength ?? 16384;
  const name = opts.name ?? 'model';
  const { tree: t, roots } = tree(files);
  const info: any = { name: b(name), 'piece length': pieceLength, 'meta version': 2, 'file tree': t };
  const layers: [Uint8Array, Uint8Array][] = [];
  files.forEach((f, i) => {
    if (f.length <= pieceLength) return;
    // A layer and the root it hashes to (the parser checks that), distinct per file.
    const layer = new Uint8Array(32 * ceilDiv(f.length, pieceLength)).fill(i + 1);
    const root = rootFromPieceLayer(layer, pieceLength);
    const leaf = files[i].path.reduce((node: any, c) => node[c], t)[''];
    leaf['pieces root'] = roots[i] = root;
    layers.push([root, layer]);
  });
  if (opts.hybrid) {
    const v1files: any[] = [];
    let offset = 0;
    files.forEach((f, i) => {
      v1files.push({ length: f.length, path: f.path.map(b) });
      offset += f.length;
      const rem = offset % pieceLength;
      if (rem && i < files.length) {
        v1files.push({ attr: b('p'), length: pieceLength - rem, path: [b('.pad'), b(String(pieceLength - rem))] });
        offset += pieceLength - rem;
      }
    });
    info.files = v1files;
    info.pieces = new Uint8Array(20 * ceilDiv(offset, pieceLength));
  }
  const dict: any = { info };
  return { dict, layers, bytes: () => encodeTorrent(dict, layers) };
}
