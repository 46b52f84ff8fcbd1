// Safe .torrent parsing (BEP 3, 12, 19, 27, 47, 52): v1, v2 and hybrid.
//
// A .torrent is hostile input until proven otherwise. Decoding goes through the strict bencode reader (shared/bencode-strict.ts)
// rather than the `bencode` package's decoder, because for untrusted input that decoder is unfit: it re-keys
// dictionaries into plain objects (a `__proto__` entry vanishes, duplicate keys silently overwrite, non-UTF-8 keys
// such as BEP 52 `piece layers` hashes turn into hex strings, a leading BOM is stripped), recurses without a depth
// limit (a stack overflow on deep nesting) and accepts non-canonical integers and truncated input. The strict reader
// keeps every dictionary key as its raw bytes, refuses duplicates, bounds depth and size, and records the exact byte
// span of `info` so the infohashes are computed over the bytes as they appear in the file, never over a re-encoding.
// (`bencode` is still what builds torrents: encoding is deterministic and safe.)
//
// Every rule refused gives a one-line TorrentError that names the fault. Every path goes through sanitizePath, so a
// torrent with one hostile path is refused whole.
//
// Paths: TorrentFile.path is relative to the torrent's root folder. For a multi-file torrent the root folder is
// `<name>/` and `path` does not include the name; for a single-file torrent `path` is `[name]`.
import { createHash } from 'node:crypto';
import { rootFromPieceLayer } from './merkle.js';
import { sanitizeName, sanitizePath, MAX_PATH_BYTES } from './paths.js';
import { TorrentError, type ParsedTorrent, type TorrentFile, type TorrentVersion } from './types.js';
import {
  BDict,
  decodeStrict as decodeStrictShared,
  readKey,
  readValue,
  strictReader,
  type BValue,
} from '../shared/bencode-strict.js';

export const MAX_TORRENT_BYTES = 64 * 1024 * 1024;
export const MAX_DEPTH = 200;
export const MAX_FILES = 1_000_000;
export const MIN_V2_PIECE_LENGTH = 16 * 1024;
export const MAX_PIECE_LENGTH = 1024 * 1024 * 1024;

export interface ParseOptions {
  /** Go Silmaril network torrents: a path element may hold a slash-joined path and `name` may be empty. */
  tolerant?: boolean;
  /** Platform whose path rules apply (tests). */
  platform?: NodeJS.Platform;
  /** Metadata fetched over BEP 9 is the info dictionary alone: `piece layers` (outside info) may be absent. */
  infoOnly?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Strict bencode reader: the one in src/shared/bencode-strict.ts, raising TorrentError with "torrent" in messages.

export { BDict, type BValue };

function fault(message: string): never {
  throw new TorrentError(message);
}

const latin1 = new TextDecoder('latin1');

const TORRENT_LIMITS = { maxDepth: MAX_DEPTH, what: 'torrent', fail: fault };

/** Decodes a whole bencoded buffer strictly (no trailing bytes). Exposed for the engine's metadata exchange. */
export function decodeStrict(data: Uint8Array): BValue {
  return decodeStrictShared(data, TORRENT_LIMITS);
}

/** Decodes the top-level dictionary and returns the raw byte span of its `info` value. */
function decodeTop(data: Uint8Array): { top: BDict; infoStart: number; infoEnd: number } {
  if (data.length === 0) fault('not a torrent: the file is empty');
  if (data[0] !== 0x64) fault('not a torrent: it does not start with a bencoded dictionary');
  const r = strictReader(data, TORRENT_LIMITS, 1);
  const end = data.length;
  const map = new Map<string, BValue>();
  let infoStart = -1;
  let infoEnd = -1;
  for (;;) {
    if (r.pos >= end) fault('truncated torrent: unterminated dictionary');
    if (data[r.pos] === 0x65) break;
    const keyPos = r.pos;
    const key = readKey(r, end);
    if (map.has(key)) fault(`malformed bencode: duplicate dictionary key ${JSON.stringify(key)} at byte ${keyPos}`);
    const valueStart = r.pos;
    map.set(key, readValue(r, end, 1));
    if (key === 'info') {
      infoStart = valueStart;
      infoEnd = r.pos;
    }
  }
  r.pos++;
  if (r.pos !== end) fault(`malformed torrent: ${end - r.pos} trailing bytes after the torrent`);
  if (infoStart < 0) fault('not a torrent: no info dictionary');
  return { top: new BDict(map), infoStart, infoEnd };
}

// ---------------------------------------------------------------------------------------------------------------
// Typed field access

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder('utf-8', { ignoreBOM: true });

function isDict(v: BValue | undefined): v is BDict {
  return v instanceof BDict;
}
function isBytes(v: BValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}
function kind(v: BValue | undefined): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return 'an integer';
  if (isBytes(v)) return 'a string';
  if (Array.isArray(v)) return 'a list';
  return 'a dictionary';
}

function wantInt(d: BDict, key: string, where: string, optional: true): number | undefined;
function wantInt(d: BDict, key: string, where: string, optional?: false): number;
function wantInt(d: BDict, key: string, where: string, optional = false): number | undefined {
  const v = d.get(key);
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number') fault(`${where}: "${key}" must be an integer, is ${kind(v)}`);
  return v;
}
function wantBytes(d: BDict, key: string, where: string, optional: true): Uint8Array | undefined;
function wantBytes(d: BDict, key: string, where: string, optional?: false): Uint8Array;
function wantBytes(d: BDict, key: string, where: string, optional = false): Uint8Array | undefined {
  const v = d.get(key);
  if (v === undefined && optional) return undefined;
  if (!isBytes(v)) fault(`${where}: "${key}" must be a string, is ${kind(v)}`);
  return v;
}
function wantList(d: BDict, key: string, where: string): BValue[] {
  const v = d.get(key);
  if (!Array.isArray(v)) fault(`${where}: "${key}" must be a list, is ${kind(v)}`);
  return v;
}
function wantDict(d: BDict, key: string, where: string): BDict {
  const v = d.get(key);
  if (!isDict(v)) fault(`${where}: "${key}" must be a dictionary, is ${kind(v)}`);
  return v;
}
function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    fault(`${what} is not valid UTF-8`);
  }
}
function lossyText(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : utf8Lossy.decode(bytes);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isSafeInteger(n) && 2 ** Math.round(Math.log2(n)) === n;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

// ---------------------------------------------------------------------------------------------------------------
// v1 and v2 file lists

interface V2File {
  path: string[];
  length: number;
  piecesRoot?: Uint8Array;
  attr?: string;
}

function checkLength(n: number, where: string): number {
  if (n < 0) fault(`${where}: negative length ${n}`);
  return n;
}

/** Refuses duplicate paths and a path that is both a file and a folder (`a` and `a/b`). */
function checkCollisions(paths: string[][]): void {
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const p of paths) {
    const key = p.join('/');
    if (files.has(key)) fault(`duplicate file path "${key}"`);
    if (dirs.has(key)) fault(`path "${key}" is both a file and a folder`);
    files.add(key);
    for (let i = 1; i < p.length; i++) {
      const prefix = p.slice(0, i).join('/');
      if (files.has(prefix)) fault(`path "${prefix}" is both a file and a folder`);
      dirs.add(prefix);
    }
  }
}

function parseV1Files(info: BDict, name: string, opts: ParseOptions): { files: V2File[]; single: boolean } {
  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  if (hasLength && hasFiles) fault('info has both "length" and "files"');
  if (hasLength) {
    const length = checkLength(wantInt(info, 'length', 'info'), 'info');
    const attr = info.has('attr') ? text(wantBytes(info, 'attr', 'info'), 'info attr') : undefined;
    return { files: [{ path: [name], length, attr }], single: true };
  }
  const list = wantList(info, 'files', 'info');
  if (list.length === 0) fault('info: "files" is empty');
  if (list.length > MAX_FILES) fault(`torrent has more than ${MAX_FILES} files`);
  const files: V2File[] = [];
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    const where = `files[${i}]`;
    if (!isDict(f)) fault(`${where} must be a dictionary, is ${kind(f)}`);
    const length = checkLength(wantInt(f, 'length', where), where);
    // BEP 3 paths are bytes; `path.utf-8` (a common extension) wins when present.
    const raw = f.has('path.utf-8') ? wantList(f, 'path.utf-8', where) : wantList(f, 'path', where);
    const comps = raw.map((c, k) => {
      if (!isBytes(c)) fault(`${where}: path element ${k} must be a string, is ${kind(c)}`);
      return text(c, `${where} path`);
    });
    const attr = f.has('attr') ? text(wantBytes(f, 'attr', where), `${where} attr`) : undefined;
    let path: string[];
    try {
      path = sanitizePath(comps, opts);
    } catch (err) {
      fault(`${where}: ${(err as Error).message}`);
    }
    files.push({ path, length, attr });
  }
  return { files, single: false };
}

function parseFileTree(tree: BDict, opts: ParseOptions): V2File[] {
  const out: V2File[] = [];
  const walk = (node: BDict, prefix: string[]): void => {
    if (node.map.size === 0) fault(`file tree: empty folder "${prefix.join('/')}"`);
    for (const [rawKey, child] of node.map) {
      const where = `file tree "${[...prefix, '…'].join('/')}"`;
      if (rawKey === '') fault(`${where}: a file entry sits beside other names`);
      const comp = text(Buffer.from(rawKey, 'latin1'), `file tree name under "${prefix.join('/')}"`);
      const path = [...prefix, comp];
      const label = `file tree "${path.join('/')}"`;
      if (!isDict(child)) fault(`${label} must be a dictionary, is ${kind(child)}`);
      try {
        sanitizePath(path, { platform: opts.platform });
      } catch (err) {
        fault(`${label}: ${(err as Error).message}`);
      }
      const leaf = child.get('');
      if (leaf !== undefined) {
        if (child.map.size !== 1) fault(`${label} is both a file and a folder`);
        if (!isDict(leaf)) fault(`${label}: file entry must be a dictionary, is ${kind(leaf)}`);
        const length = checkLength(wantInt(leaf, 'length', label), label);
        const root = wantBytes(leaf, 'pieces root', label, true);
        if (length > 0) {
          if (!root) fault(`${label}: "pieces root" is missing`);
          if (root.length !== 32) fault(`${label}: "pieces root" is ${root.length} bytes, not 32`);
        }
        const attr = leaf.has('attr') ? text(wantBytes(leaf, 'attr', label), `${label} attr`) : undefined;
        if (out.length >= MAX_FILES) fault(`torrent has more than ${MAX_FILES} files`);
        out.push({ path, length, piecesRoot: length > 0 ? root : undefined, attr });
      } else {
        walk(child, path);
      }
    }
  };
  walk(tree, []);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The parser

/** Parses and validates a .torrent file (v1, v2 or hybrid). Throws a one-line TorrentError on any fault. */
export function parseTorrent(bytes: Uint8Array, opts: ParseOptions = {}): ParsedTorrent {
  if (!(bytes instanceof Uint8Array)) fault('not a torrent: expected bytes');
  if (bytes.length > MAX_TORRENT_BYTES) fault(`torrent file larger than ${MAX_TORRENT_BYTES / 1024 / 1024} MiB`);
  const { top, infoStart, infoEnd } = decodeTop(bytes);
  const info = top.get('info');
  if (!isDict(info)) fault(`"info" must be a dictionary, is ${kind(info)}`);
  const infoBytes = bytes.subarray(infoStart, infoEnd);

  // name
  const nameRaw = info.has('name.utf-8') ? wantBytes(info, 'name.utf-8', 'info') : wantBytes(info, 'name', 'info');
  const nameText = text(nameRaw, 'torrent name');
  let name: string;
  if (opts.tolerant && nameText === '') name = '';
  else name = sanitizeName(nameText, opts);

  // piece length
  const pieceLength = wantInt(info, 'piece length', 'info');
  if (pieceLength <= 0) fault(`piece length must be positive, is ${pieceLength}`);
  if (pieceLength > MAX_PIECE_LENGTH) fault(`piece length ${pieceLength} is larger than ${MAX_PIECE_LENGTH}`);

  // which versions
  const metaVersion = wantInt(info, 'meta version', 'info', true);
  const hasV2 = metaVersion !== undefined || info.has('file tree');
  const hasV1 = info.has('pieces') || info.has('files') || info.has('length');
  if (hasV2) {
    if (metaVersion !== 2) fault(`unsupported meta version ${metaVersion ?? '(missing)'}: only 2 is known`);
    if (!info.has('file tree')) fault('v2 torrent without "file tree"');
    if (!isPowerOfTwo(pieceLength) || pieceLength < MIN_V2_PIECE_LENGTH)
      fault(`v2 piece length must be a power of two of at least 16 KiB, is ${pieceLength}`);
  }
  if (!hasV1 && !hasV2) fault('info has neither "pieces" (v1) nor "file tree" (v2)');
  const version: TorrentVersion = hasV1 && hasV2 ? 'hybrid' : hasV2 ? 'v2' : 'v1';

  let files: TorrentFile[] = [];
  let singleFile = false;
  let pieces: Uint8Array | undefined;
  let pieceCount = 0;
  let pieceLayers: Map<string, Uint8Array> | undefined;

  // v1 side
  let v1: V2File[] | undefined;
  if (hasV1) {
    pieces = wantBytes(info, 'pieces', 'info');
    if (pieces.length % 20 !== 0) fault(`"pieces" length ${pieces.length} is not a multiple of 20`);
    const parsed = parseV1Files(info, name === '' ? '_' : name, opts);
    if (parsed.single && name === '') fault('unsafe name: a single-file torrent needs a name');
    v1 = parsed.files;
    singleFile = parsed.single;
    let offset = 0;
    for (const f of v1) {
      const pad = f.attr?.includes('p') ?? false;
      files.push({ path: f.path, length: f.length, offset, pad, ...(f.attr !== undefined ? { attr: f.attr } : {}) });
      offset += f.length;
      if (!Number.isSafeInteger(offset)) fault('total size too large');
    }
    pieceCount = pieces.length / 20;
    const expected = ceilDiv(offset, pieceLength);
    if (offset === 0) fault('torrent holds no data (total size is 0)');
    if (pieceCount !== expected)
      fault(`"pieces" holds ${pieceCount} hashes but ${offset} bytes at piece length ${pieceLength} need ${expected}`);
    checkCollisions(v1.filter((f) => !f.attr?.includes('p')).map((f) => f.path));
    if (!singleFile) checkNested(name, files);
  }

  // v2 side
  if (hasV2) {
    const tree = wantDict(info, 'file tree', 'info');
    const v2files = parseFileTree(tree, opts);
    if (v2files.length === 0) fault('file tree holds no files');
    // A v2 single-file torrent's tree is { <name>: { "": ... } }.
    const v2single = v2files.length === 1 && v2files[0].path.length === 1 && v2files[0].path[0] === name;
    let total = 0;
    for (const f of v2files) {
      total += f.length;
      if (!Number.isSafeInteger(total)) fault('total size too large');
    }
    if (total === 0) fault('torrent holds no data (total size is 0)');
    checkCollisions(v2files.map((f) => f.path));
    pieceLayers = parsePieceLayers(top, v2files, pieceLength, opts.infoOnly);
    if (v1) {
      checkHybrid(v1, v2files, pieceLength, singleFile, v2single);
      // Attach pieces roots to the real v1 files (same order, checked above).
      let k = 0;
      for (const f of files)
        if (!f.pad) {
          const root = v2files[k++].piecesRoot;
          if (root) f.piecesRoot = root;
        }
    } else {
      singleFile = v2single;
      files = [];
      let offset = 0;
      for (const f of v2files) {
        const entry: TorrentFile = { path: singleFile ? [name] : f.path, length: f.length, offset, pad: false };
        if (f.piecesRoot) entry.piecesRoot = f.piecesRoot;
        if (f.attr !== undefined) entry.attr = f.attr;
        files.push(entry);
        const n = ceilDiv(f.length, pieceLength);
        pieceCount += n;
        offset += n * pieceLength;
        if (!Number.isSafeInteger(offset)) fault('total size too large');
      }
      if (!singleFile) checkNested(name, files);
    }
  }

  const length = files.reduce((s, f) => (f.pad ? s : s + f.length), 0);
  const privateFlag = wantInt(info, 'private', 'info', true);

  const result: ParsedTorrent = {
    version,
    name,
    pieceLength,
    pieceCount,
    length,
    singleFile,
    files,
    announce: parseAnnounce(top),
    urlList: parseUrlList(top),
    // BEP 27 says 1; like libtorrent, any non-zero value is private (a stray 2 must not leak a torrent to the DHT).
    private: privateFlag !== undefined && privateFlag !== 0,
    infoBytes,
    torrentBytes: bytes,
  };
  if (hasV1) result.infoHashV1 = createHash('sha1').update(infoBytes).digest('hex');
  if (hasV2) result.infoHashV2 = createHash('sha256').update(infoBytes).digest('hex');
  if (pieces) result.pieces = pieces;
  if (pieceLayers) result.pieceLayers = pieceLayers;
  const comment = lossyText(wantBytes(top, 'comment', 'torrent', true));
  if (comment !== undefined) result.comment = comment;
  const createdBy = lossyText(wantBytes(top, 'created by', 'torrent', true));
  if (createdBy !== undefined) result.createdBy = createdBy;
  const creationDate = wantInt(top, 'creation date', 'torrent', true);
  if (creationDate !== undefined) result.creationDate = creationDate;
  const source = lossyText(wantBytes(info, 'source', 'info', true));
  if (source !== undefined) result.source = source;
  return result;
}

/** The joined path `<name>/<path>` must also fit the platform limits. */
function checkNested(name: string, files: TorrentFile[]): void {
  const nameBytes = Buffer.byteLength(name, 'utf8') + 1;
  for (const f of files) {
    let bytes = nameBytes;
    for (const c of f.path) bytes += Buffer.byteLength(c, 'utf8') + 1;
    if (bytes > MAX_PATH_BYTES) fault(`unsafe path: "${f.path.join('/')}" is longer than ${MAX_PATH_BYTES} bytes`);
  }
}

function parsePieceLayers(top: BDict, files: V2File[], pieceLength: number, infoOnly = false): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const raw = top.get('piece layers');
  if (raw !== undefined && !isDict(raw)) fault(`"piece layers" must be a dictionary, is ${kind(raw)}`);
  for (const f of files) {
    if (f.length <= pieceLength || !f.piecesRoot) continue;
    const key = latin1.decode(f.piecesRoot);
    const layer = raw?.get(key);
    const label = `piece layers for "${f.path.join('/')}"`;
    if (layer === undefined && infoOnly) continue;
    if (layer === undefined) fault(`${label} are missing`);
    if (!isBytes(layer)) fault(`${label} must be a string, is ${kind(layer)}`);
    const want = 32 * ceilDiv(f.length, pieceLength);
    if (layer.length !== want) fault(`${label} are ${layer.length} bytes, ${f.length} bytes need ${want}`);
    // A layer that does not hash to its root would make every download of the file fail: refuse it here.
    if (Buffer.compare(rootFromPieceLayer(layer, pieceLength), f.piecesRoot) !== 0)
      fault(`${label} do not hash to its pieces root`);
    out.set(hex(f.piecesRoot), layer);
  }
  return out;
}

/** A hybrid's v1 `files` must be the v2 file tree in the same order, each file padded to a piece boundary. */
function checkHybrid(v1: V2File[], v2: V2File[], pieceLength: number, v1single: boolean, v2single: boolean): void {
  // v1 decides: a folder holding one file named like the folder looks like a single file in v2 alone.
  if (v1single && !v2single) fault('hybrid torrent: v1 and v2 disagree on single-file vs folder');
  let k = 0;
  let offset = 0;
  for (let i = 0; i < v1.length; i++) {
    const f = v1[i];
    const isPad = f.attr?.includes('p') ?? false;
    if (isPad) fault(`hybrid torrent: unexpected pad file at files[${i}]`);
    const other = v2[k];
    if (!other) fault(`hybrid torrent: v1 file "${f.path.join('/')}" is not in the v2 file tree`);
    if (!v1single && f.path.join('/') !== other.path.join('/'))
      fault(`hybrid torrent: v1 file "${f.path.join('/')}" where the v2 file tree has "${other.path.join('/')}"`);
    if (f.length !== other.length)
      fault(`hybrid torrent: "${f.path.join('/')}" is ${f.length} bytes in v1 but ${other.length} in v2`);
    k++;
    offset += f.length;
    const rem = offset % pieceLength;
    if (rem !== 0) {
      const next = v1[i + 1];
      const nextPad = next?.attr?.includes('p') ?? false;
      if (nextPad) {
        if (next.length !== pieceLength - rem)
          fault(`hybrid torrent: pad file at files[${i + 1}] is ${next.length} bytes, ${pieceLength - rem} expected`);
        offset += next.length;
        i++;
      } else if (next !== undefined) {
        fault(`hybrid torrent: "${f.path.join('/')}" is not padded to a piece boundary`);
      }
    }
  }
  if (k !== v2.length) fault(`hybrid torrent: the v2 file tree has ${v2.length} files, v1 has ${k}`);
}

/** The torrent's trackers as BEP 12 tiers: `announce-list` when present, else `announce` as one tier. */
function parseAnnounce(top: BDict): string[][] {
  const tiers: string[][] = [];
  if (top.has('announce-list')) {
    const list = wantList(top, 'announce-list', 'torrent');
    for (const tier of list) {
      if (!Array.isArray(tier)) fault(`"announce-list" tier must be a list, is ${kind(tier)}`);
      const urls: string[] = [];
      for (const u of tier) {
        if (!isBytes(u)) fault(`"announce-list" entry must be a string, is ${kind(u)}`);
        const s = text(u, 'tracker URL').trim();
        if (s) urls.push(s);
      }
      if (urls.length) tiers.push(urls);
    }
  }
  if (tiers.length === 0 && top.has('announce')) {
    const s = text(wantBytes(top, 'announce', 'torrent'), 'tracker URL').trim();
    if (s) tiers.push([s]);
  }
  return tiers;
}

/** BEP 19 `url-list`: one string or a list of strings. */
function parseUrlList(top: BDict): string[] {
  const v = top.get('url-list');
  if (v === undefined) return [];
  const items = isBytes(v) ? [v] : Array.isArray(v) ? v : fault(`"url-list" must be a string or list, is ${kind(v)}`);
  const out: string[] = [];
  for (const u of items) {
    if (!isBytes(u)) fault(`"url-list" entry must be a string, is ${kind(u)}`);
    const s = text(u, 'web seed URL').trim();
    if (s) out.push(s);
  }
  return out;
}
