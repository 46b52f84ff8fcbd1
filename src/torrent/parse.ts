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
  readBytes,
  readNewKey,
  readValue,
  strictReader,
  type BValue,
  type StrictReader as Reader,
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
    const key = readNewKey(r, end, map);
    const valueStart = r.pos;
    map.set(key, key === 'info' && data[r.pos] === 0x64 ? readInfo(r, end) : readValue(r, end, 1));
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

/** A reader positioned in `data` (the lazy parts below re-enter the torrent's bytes at a recorded span). */
function readerAt(data: Uint8Array, pos: number): Reader {
  return strictReader(data, TORRENT_LIMITS, pos);
}

/**
 * A list kept as its byte span: the info dictionary's `files` (up to a million entries) is checked here but decoded
 * one entry at a time when it is read (eachEntry), so the file list never exists twice, as decoded dictionaries and
 * as TorrentFiles. This keeps `info` on a 1,000,000-file torrent to a small multiple of the file's size.
 */
class LazyList {
  constructor(
    readonly data: Uint8Array,
    readonly start: number,
    readonly end: number,
    readonly length: number,
    readonly depth: number,
  ) {}
  /** Decodes the entries one by one, strictly (each is garbage once the caller is done with it). */
  *entries(): Generator<BValue> {
    const r = readerAt(this.data, this.start + 1);
    for (let i = 0; i < this.length; i++) yield readValue(r, this.end, this.depth + 1);
    // skipValue only found the span; the strict reader must agree on where it ends.
    if (r.pos !== this.end - 1) fault(`malformed bencode: list at byte ${this.start} does not end where it should`);
  }
}

/**
 * Moves past one value without decoding it (no allocation, no recursion), checking only what finding its end
 * needs; the strict reader checks the rest when the value is decoded (LazyList.entries).
 */
function skipValue(r: Reader, end: number, depth: number): void {
  const d = r.data;
  let open = 0;
  do {
    if (r.pos >= end) fault('truncated torrent: unexpected end of data');
    const c = d[r.pos];
    if (c === 0x6c || c === 0x64) {
      if (depth + open >= MAX_DEPTH) fault(`torrent nested deeper than ${MAX_DEPTH} levels`);
      open++;
      r.pos++;
    } else if (c === 0x65) {
      if (open === 0) fault(`malformed bencode: unexpected end marker at byte ${r.pos}`);
      open--;
      r.pos++;
    } else if (c === 0x69) {
      const e = d.indexOf(0x65, r.pos + 1);
      if (e < 0 || e >= end) fault('malformed bencode: unterminated integer');
      r.pos = e + 1;
    } else {
      readBytes(r, end);
    }
  } while (open > 0);
}

/** A dictionary kept as its byte span (the v2 `file tree`), walked from its bytes by parseFileTree. */
class LazySpan {
  constructor(
    readonly data: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}
}

/** The info dictionary, as readValue would decode it at depth 1, except that its `files` list stays a LazyList. */
function readInfo(r: Reader, end: number): BDict {
  const data = r.data;
  r.pos++;
  const map = new Map<string, BValue>();
  for (;;) {
    if (r.pos >= end) fault('truncated torrent: unterminated dictionary');
    if (data[r.pos] === 0x65) break;
    const key = readNewKey(r, end, map);
    if (key === 'files' && data[r.pos] === 0x6c) {
      // Same checks as readValue (depth 2 list, entries at depth 3), nothing kept but the span and the count.
      const start = r.pos;
      r.pos++;
      let n = 0;
      for (;;) {
        if (r.pos >= end) fault('truncated torrent: unterminated list');
        if (data[r.pos] === 0x65) break;
        skipValue(r, end, 3);
        n++;
      }
      r.pos++;
      map.set(key, new LazyList(data, start, r.pos, n, 2) as unknown as BValue);
    } else if (key === 'file tree' && data[r.pos] === 0x64) {
      const start = r.pos;
      skipValue(r, end, 2);
      map.set(key, new LazySpan(data, start, r.pos) as unknown as BValue);
    } else {
      map.set(key, readValue(r, end, 2));
    }
  }
  r.pos++;
  return new BDict(map);
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

interface DirNode {
  files: Set<string>;
  dirs: Map<string, DirNode>;
}

/**
 * Refuses duplicate paths and a path that is both a file and a folder (`a` and `a/b`). Walks a tree of folders
 * keyed by the components themselves: no joined path string per file (a million files stay cheap); the joined
 * path is built only for the message.
 */
function checkCollisions(items: readonly { path: string[]; pad?: boolean }[]): void {
  const root: DirNode = { files: new Set(), dirs: new Map() };
  for (const { path: p, pad } of items) {
    if (pad) continue;
    let node = root;
    for (let i = 0; i < p.length - 1; i++) {
      if (node.files.has(p[i])) fault(`path "${p.slice(0, i + 1).join('/')}" is both a file and a folder`);
      let next = node.dirs.get(p[i]);
      if (!next) node.dirs.set(p[i], (next = { files: new Set(), dirs: new Map() }));
      node = next;
    }
    const last = p[p.length - 1];
    if (node.files.has(last)) fault(`duplicate file path "${p.join('/')}"`);
    if (node.dirs.has(last)) fault(`path "${p.join('/')}" is both a file and a folder`);
    node.files.add(last);
  }
}

/** The v1 file list as TorrentFiles (offset and pad set by the caller): one object per file, nothing in between. */
function parseV1Files(info: BDict, name: string, opts: ParseOptions): { files: TorrentFile[]; single: boolean } {
  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  if (hasLength && hasFiles) fault('info has both "length" and "files"');
  if (hasLength) {
    const length = checkLength(wantInt(info, 'length', 'info'), 'info');
    const attr = info.has('attr') ? text(wantBytes(info, 'attr', 'info'), 'info attr') : undefined;
    return { files: [fileEntry([name], length, attr)], single: true };
  }
  const raw = info.get('files');
  const list: LazyList | BValue[] = raw instanceof LazyList ? raw : wantList(info, 'files', 'info');
  if (list.length === 0) fault('info: "files" is empty');
  if (list.length > MAX_FILES) fault(`torrent has more than ${MAX_FILES} files`);
  const files: TorrentFile[] = [];
  // Folder names repeat across files: one string per distinct folder name, not one per file.
  const folders = new Map<string, string>();
  let i = -1;
  for (const f of list instanceof LazyList ? list.entries() : list) {
    i++;
    const where = `files[${i}]`;
    if (!isDict(f)) fault(`${where} must be a dictionary, is ${kind(f)}`);
    const length = checkLength(wantInt(f, 'length', where), where);
    // BEP 3 paths are bytes; `path.utf-8` (a common extension) wins when present.
    const raw = f.has('path.utf-8') ? wantList(f, 'path.utf-8', where) : wantList(f, 'path', where);
    const comps = raw.map((c, k) => {
      if (!isBytes(c)) fault(`${where}: path element ${k} must be a string, is ${kind(c)}`);
      const s = text(c, `${where} path`);
      if (k === raw.length - 1) return s;
      const known = folders.get(s);
      if (known !== undefined) return known;
      folders.set(s, s);
      return s;
    });
    const attr = f.has('attr') ? text(wantBytes(f, 'attr', where), `${where} attr`) : undefined;
    let path: string[];
    try {
      path = sanitizePath(comps, opts);
    } catch (err) {
      fault(`${where}: ${(err as Error).message}`);
    }
    files.push(fileEntry(path, length, attr));
  }
  return { files, single: false };
}

function fileEntry(path: string[], length: number, attr: string | undefined): TorrentFile {
  return attr !== undefined ? { path, length, offset: 0, pad: false, attr } : { path, length, offset: 0, pad: false };
}

/**
 * Walks the v2 `file tree` straight from its bytes (a LazySpan): folders are never decoded as dictionaries, only
 * each file's small leaf dictionary is, so a tree of a million files costs its files, not a tree of Maps. The same
 * strict rules as the reader (string keys, no duplicates, depth) plus the tree's own.
 */
function parseFileTree(tree: LazySpan, opts: ParseOptions): TorrentFile[] {
  const out: TorrentFile[] = [];
  const data = tree.data;
  const end = tree.end;
  const r = readerAt(data, tree.start);
  const walk = (prefix: string[], depth: number): void => {
    if (depth >= MAX_DEPTH) fault(`torrent nested deeper than ${MAX_DEPTH} levels`);
    r.pos++; // 'd'
    const seen = new Set<string>();
    let leafAt = -1;
    let leaf: BValue | undefined;
    for (;;) {
      if (r.pos >= end) fault('truncated torrent: unterminated dictionary');
      if (data[r.pos] === 0x65) break;
      const keyPos = r.pos;
      const rawKey = readNewKey(r, end, seen);
      seen.add(rawKey);
      const label = (): string => `file tree "${prefix.join('/')}"`;
      if (rawKey === '') {
        if (prefix.length === 0) fault(`file tree "…": a file entry sits beside other names`);
        if (seen.size > 1) fault(`${label()} is both a file and a folder`);
        leafAt = keyPos;
        leaf = readValue(r, end, depth + 1);
        continue;
      }
      if (leafAt >= 0) fault(`${label()} is both a file and a folder`);
      const comp = text(Buffer.from(rawKey, 'latin1'), `file tree name under "${prefix.join('/')}"`);
      const path = [...prefix, comp];
      const childLabel = (): string => `file tree "${path.join('/')}"`;
      if (data[r.pos] !== 0x64) fault(`${childLabel()} must be a dictionary, is ${kind(readValue(r, end, depth + 1))}`);
      try {
        sanitizePath(path, { platform: opts.platform });
      } catch (err) {
        fault(`${childLabel()}: ${(err as Error).message}`);
      }
      walk(path, depth + 1);
    }
    r.pos++; // 'e'
    if (seen.size === 0) fault(`file tree: empty folder "${prefix.join('/')}"`);
    if (leafAt < 0) return;
    const label = `file tree "${prefix.join('/')}"`;
    if (!isDict(leaf)) fault(`${label}: file entry must be a dictionary, is ${kind(leaf)}`);
    const length = checkLength(wantInt(leaf, 'length', label), label);
    const root = wantBytes(leaf, 'pieces root', label, true);
    if (length > 0) {
      if (!root) fault(`${label}: "pieces root" is missing`);
      if (root.length !== 32) fault(`${label}: "pieces root" is ${root.length} bytes, not 32`);
    }
    const attr = leaf.has('attr') ? text(wantBytes(leaf, 'attr', label), `${label} attr`) : undefined;
    if (out.length >= MAX_FILES) fault(`torrent has more than ${MAX_FILES} files`);
    // Already in its final shape (offset set by the caller): no second object per file.
    const file: TorrentFile = { path: prefix, length, offset: 0, pad: false };
    if (length > 0) file.piecesRoot = root;
    if (attr !== undefined) file.attr = attr;
    out.push(file);
  };
  walk([], 2);
  if (r.pos !== end) fault(`malformed bencode: file tree at byte ${tree.start} does not end where it should`);
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
  const missingLayers: string[] = [];
  const warnings: string[] = [];

  // v1 side
  let v1: TorrentFile[] | undefined;
  if (hasV1) {
    pieces = wantBytes(info, 'pieces', 'info');
    if (pieces.length % 20 !== 0) fault(`"pieces" length ${pieces.length} is not a multiple of 20`);
    const parsed = parseV1Files(info, name === '' ? '_' : name, opts);
    if (parsed.single && name === '') fault('unsafe name: a single-file torrent needs a name');
    v1 = files = parsed.files;
    singleFile = parsed.single;
    let offset = 0;
    for (const f of files) {
      f.pad = f.attr?.includes('p') ?? false;
      f.offset = offset;
      offset += f.length;
      if (!Number.isSafeInteger(offset)) fault('total size too large');
    }
    pieceCount = pieces.length / 20;
    const expected = ceilDiv(offset, pieceLength);
    if (offset === 0) fault('torrent holds no data (total size is 0)');
    if (pieceCount !== expected)
      fault(`"pieces" holds ${pieceCount} hashes but ${offset} bytes at piece length ${pieceLength} need ${expected}`);
    checkCollisions(files);
    if (!singleFile) checkNested(name, files);
  }

  // v2 side
  if (hasV2) {
    const tree = info.get('file tree');
    // Not a dictionary (a dictionary is always kept as a LazySpan by readInfo): wantDict says what it is.
    if (!(tree instanceof LazySpan)) {
      wantDict(info, 'file tree', 'info');
      fault('"file tree" must be a dictionary');
    }
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
    checkCollisions(v2files);
    pieceLayers = parsePieceLayers(top, v2files, pieceLength, !!opts.infoOnly || hasV1, missingLayers);
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
      files = v2files;
      let offset = 0;
      for (const entry of files) {
        if (singleFile) entry.path = [name];
        entry.offset = offset;
        const f = entry;
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
    announce: parseAnnounce(top, warnings),
    urlList: parseUrlList(top, warnings),
    // BEP 27 says 1; like libtorrent, any non-zero value is private (a stray 2 must not leak a torrent to the DHT).
    private: privateFlag !== undefined && privateFlag !== 0,
    infoBytes,
    torrentBytes: bytes,
    warnings,
  };
  if (hasV1) result.infoHashV1 = createHash('sha1').update(infoBytes).digest('hex');
  if (hasV2) result.infoHashV2 = createHash('sha256').update(infoBytes).digest('hex');
  if (pieces) result.pieces = pieces;
  if (pieceLayers) result.pieceLayers = pieceLayers;
  if (missingLayers.length && !opts.infoOnly) {
    result.missingPieceLayers = missingLayers.length;
    warnings.push(
      `piece layers are missing for ${missingLayers.length} file${missingLayers.length === 1 ? '' : 's'} (e.g. "${missingLayers[0]}"): pieces are checked by their v1 hashes, whole files by their v2 roots`,
    );
  }
  // Keys outside info change nothing that identifies the torrent: a malformed optional one is ignored with a
  // warning (as libtorrent does) instead of refusing the whole torrent.
  const comment = optional(top, 'comment', 'bytes', warnings);
  if (comment !== undefined) result.comment = lossyText(comment);
  const createdBy = optional(top, 'created by', 'bytes', warnings);
  if (createdBy !== undefined) result.createdBy = lossyText(createdBy);
  const creationDate = optional(top, 'creation date', 'int', warnings);
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

/**
 * BEP 52 `piece layers` (outside info). Missing layers are tolerated when the v1 hashes cover every byte (a hybrid:
 * qBittorrent exports hybrids added by magnet without them) or when only the info dictionary is at hand (BEP 9);
 * the files concerned are listed in `missing`. A pure v2 torrent without them cannot check a piece: refused.
 */
function parsePieceLayers(
  top: BDict,
  files: V2File[],
  pieceLength: number,
  tolerateMissing: boolean,
  missing: string[],
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const raw = top.get('piece layers');
  if (raw !== undefined && !isDict(raw)) fault(`"piece layers" must be a dictionary, is ${kind(raw)}`);
  for (const f of files) {
    if (f.length <= pieceLength || !f.piecesRoot) continue;
    const key = latin1.decode(f.piecesRoot);
    const layer = raw?.get(key);
    const label = `piece layers for "${f.path.join('/')}"`;
    if (layer === undefined && tolerateMissing) {
      missing.push(f.path.join('/'));
      continue;
    }
    if (layer === undefined)
      fault(
        `${label} are missing: a v2-only torrent cannot be checked without them (export it again from a client that has the whole model)`,
      );
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

/** An optional key outside info: its value when it has the expected type, else undefined and a warning. */
function optional(top: BDict, key: string, want: 'bytes', warnings: string[]): Uint8Array | undefined;
function optional(top: BDict, key: string, want: 'int', warnings: string[]): number | undefined;
function optional(top: BDict, key: string, want: 'bytes' | 'int', warnings: string[]): Uint8Array | number | undefined {
  const v = top.get(key);
  if (v === undefined) return undefined;
  if (want === 'bytes' ? isBytes(v) : typeof v === 'number') return v as Uint8Array | number;
  warnings.push(`ignored "${key}": it must be ${want === 'bytes' ? 'a string' : 'an integer'}, is ${kind(v)}`);
  return undefined;
}

/** A tracker or web seed URL: valid UTF-8 and not blank, else undefined (with a warning for bad bytes). */
function urlText(v: BValue, key: string, warnings: string[]): string | undefined {
  if (!isBytes(v)) {
    warnings.push(`ignored an entry of "${key}": it must be a string, is ${kind(v)}`);
    return undefined;
  }
  let s: string;
  try {
    s = utf8.decode(v);
  } catch {
    warnings.push(`ignored an entry of "${key}": not valid UTF-8`);
    return undefined;
  }
  return s.trim() || undefined;
}

/** The torrent's trackers as BEP 12 tiers: `announce-list` when present, else `announce` as one tier. Malformed
 *  entries are skipped with a warning. */
function parseAnnounce(top: BDict, warnings: string[]): string[][] {
  const tiers: string[][] = [];
  const list = top.get('announce-list');
  if (list !== undefined && !Array.isArray(list)) {
    warnings.push(`ignored "announce-list": it must be a list, is ${kind(list)}`);
  } else if (list) {
    let badTiers = 0;
    for (const tier of list) {
      if (!Array.isArray(tier)) {
        badTiers++;
        continue;
      }
      const urls: string[] = [];
      for (const u of tier) {
        const s = urlText(u, 'announce-list', warnings);
        if (s) urls.push(s);
      }
      if (urls.length) tiers.push(urls);
    }
    if (badTiers)
      warnings.push(`ignored ${badTiers} "announce-list" tier${badTiers === 1 ? '' : 's'} that are not lists`);
  }
  if (tiers.length === 0 && top.has('announce')) {
    const s = urlText(top.get('announce')!, 'announce', warnings);
    if (s) tiers.push([s]);
  }
  return tiers;
}

/** BEP 19 `url-list`: one string or a list of strings; anything else is skipped with a warning. */
function parseUrlList(top: BDict, warnings: string[]): string[] {
  const v = top.get('url-list');
  if (v === undefined) return [];
  if (!isBytes(v) && !Array.isArray(v)) {
    warnings.push(`ignored "url-list": it must be a string or a list, is ${kind(v)}`);
    return [];
  }
  const out: string[] = [];
  for (const u of isBytes(v) ? [v] : v) {
    const s = urlText(u, 'url-list', warnings);
    if (s) out.push(s);
  }
  return out;
}
