// Hybrid BitTorrent v1+v2 torrent creation (BEP 3, BEP 47 pad files, BEP 52), identical to libtorrent 2.0's
// `create_torrent(fs, piece_size)` for the same files and piece length (test/interop/libtorrent-create.test.ts).
//
// Layout (what libtorrent 2.0.8 does, checked bit for bit by the interop test):
// - info: `file tree`, `files` (folders only), `length` (single file only), `meta version` 2, `name`,
//   `piece length`, `pieces`, plus `private` and `source` when asked.
// - `files` lists the files in file-tree order (bytewise by path component); after every non-empty file whose
//   length is not a multiple of the piece length, the last file included, comes a pad file
//   `{attr: "p", length: n, path: [".pad", "<n>"]}`; except that a folder holding a single file gets no pad file
//   at all (libtorrent adds tail padding only to torrents of two files or more; empty files count).
//   Executable files carry `attr: "x"` in both lists.
// - A single-file torrent has no pad file: its v1 last piece is hashed unpadded.
// - `piece layers` (outside info) maps the pieces root of every file longer than one piece to its piece layer.
// The info dictionary is encoded once; infohashes are SHA-1 and SHA-256 of exactly those bytes.
//
// `v1Only` makes a classic BEP 3 torrent instead (as libtorrent's `create_torrent(fs, piece_size, v1_only)`):
// `files` or `length`, `name`, `piece length`, `pieces` over the files' concatenated bytes (pieces span files, no pad
// files), no `file tree`, `meta version` or `piece layers`. Transmission 3.00 and aria2 1.36 (Debian stable) cannot
// read hybrids (an empty-string key in `file tree`; aria2 also gets the v1 hash wrong); they read this.
import crypto from 'node:crypto';
import path from 'node:path';
import bencode from 'bencode';
import { getHashPool, SPAN_BYTES, type HashPool } from './hash-pool.js';
import { buildMagnet } from './magnet.js';
import { choosePieceLength, isValidPieceLength } from './piece-length.js';
import { TorrentError } from './types.js';
import { walk, type SkippedFile } from './walk.js';

export interface CreateOptions {
  /** Power of two, 16 KiB..16 MiB; default: choosePieceLength(total size). */
  pieceLength?: number;
  /** Torrent name; default: the base name of the folder or file. */
  name?: string;
  /** Announce URLs: the first becomes `announce`; all of them, one tier each, `announce-list`. */
  trackers?: string[];
  /** BEP 19 web seeds (`url-list`). */
  webSeeds?: string[];
  private?: boolean;
  /** `source` in the info dictionary (changes the infohashes: used to make distinct swarms). */
  source?: string;
  comment?: string;
  createdBy?: string;
  /** Unix seconds; omitted when not given (reproducible output). */
  creationDate?: number;
  /** Include `.git`, `.hg`, `.svn` and `.silmaril` folders (see walk.ts). */
  includeVcs?: boolean;
  /** Links may point anywhere inside this folder (walk.ts; a Hugging Face repository folder). */
  linkRoot?: string;
  signal?: AbortSignal;
  /** Hashing progress in bytes, over all files. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Hashing pool (default: the shared one). */
  pool?: HashPool;
  /** A v1-only torrent (no v2 keys, no pad files) for clients that cannot read hybrids. */
  v1Only?: boolean;
}

export interface CreatedFile {
  path: string[];
  length: number;
}

export interface CreatedTorrent {
  name: string;
  /** The whole .torrent file. */
  torrentBytes: Uint8Array;
  /** The bencoded info dictionary (a slice of torrentBytes). */
  infoBytes: Uint8Array;
  /** Hex SHA-1 of infoBytes. */
  infoHashV1: string;
  /** Hex SHA-256 of infoBytes; absent for a v1-only torrent. */
  infoHashV2?: string;
  magnet: string;
  pieceLength: number;
  pieceCount: number;
  /** Total bytes of the real files. */
  length: number;
  singleFile: boolean;
  /** Real files, in torrent order (pad files not listed). */
  files: CreatedFile[];
  /** Files left out (links out of the folder, special files). */
  skipped: SkippedFile[];
}

// ---- bencoding with raw byte-ordered keys ----
// bencode 4 sorts object keys as JS strings (UTF-16 order) and Map keys by String(key), which breaks BEP 3's
// raw-byte key order for some non-ASCII names (U+E000..U+FFFF against astral characters) and for binary
// `piece layers` keys. So dictionaries are assembled here with keys sorted by bytes; every value inside is
// still encoded by bencode.

/** A dictionary entry whose value is already bencoded. */
type Entry = [key: Uint8Array, encodedValue: Uint8Array];

function dict(entries: Entry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Uint8Array[] = [Buffer.from('d')];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && Buffer.compare(sorted[i - 1][0], sorted[i][0]) === 0) {
      throw new TorrentError(`duplicate name in torrent: ${Buffer.from(sorted[i][0]).toString()}`);
    }
    parts.push(bencode.encode(sorted[i][0]), sorted[i][1]);
  }
  parts.push(Buffer.from('e'));
  return Buffer.concat(parts);
}

const key = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const enc = (v: unknown): Uint8Array => bencode.encode(v);

interface TreeNode {
  children: Map<string, TreeNode>;
  leaf?: Uint8Array;
}

function encodeTree(node: TreeNode): Buffer {
  return dict([...node.children].map(([name, child]) => [key(name), child.leaf ?? encodeTree(child)] as Entry));
}

// ---- creation ----

export async function createTorrent(rootPath: string, options: CreateOptions = {}): Promise<CreatedTorrent> {
  const { signal } = options;
  const pool = options.pool ?? getHashPool();
  pool.warm(); // worker start-up overlaps the walk
  const walked = await walk(rootPath, { includeVcs: options.includeVcs, signal, linkRoot: options.linkRoot });
  const files = walked.files;
  const length = files.reduce((n, f) => n + f.length, 0);
  if (files.length === 0) {
    // E.g. a Hugging Face cache snapshot: every file is a link into ../../blobs, outside the folder.
    const outside = walked.skipped.filter((k) => /outside/.test(k.reason)).length;
    const why = outside ? ` (${outside} symbolic link${outside > 1 ? 's point' : ' points'} outside the folder)` : '';
    throw new TorrentError(`nothing to share in ${rootPath}: no files${why}`);
  }
  if (length === 0) throw new TorrentError(`nothing to share in ${rootPath}: every file is empty`);

  const pieceLength = options.pieceLength ?? choosePieceLength(length);
  if (!isValidPieceLength(pieceLength)) {
    throw new TorrentError(`piece length must be a power of two from 16 KiB to 16 MiB, got ${pieceLength}`);
  }
  const displayName = options.name ?? (walked.singleFile ? files[0].path[0] : path.basename(path.resolve(rootPath)));
  if (!displayName || /[/\\\0]/.test(displayName) || displayName === '.' || displayName === '..') {
    throw new TorrentError(`bad torrent name "${displayName}"`);
  }

  if (options.v1Only) return createV1Only(walked, displayName, pieceLength, length, pool, options);

  // Hash every non-empty file (one read of each byte, in the worker pool).
  const nonEmpty = files.filter((f) => f.length > 0);
  const hashes = await pool.hashFiles(
    nonEmpty.map((f) => ({ path: f.absPath, length: f.length })),
    pieceLength,
    { signal, onProgress: options.onProgress },
  );
  signal?.throwIfAborted();
  const hashOf = new Map(nonEmpty.map((f, i) => [f, hashes[i]]));

  // v2 file tree, v1 files with pad files, v1 pieces, piece layers.
  const tree: TreeNode = { children: new Map() };
  // v1 entries and file-tree leaves have ASCII keys only, where bencode's own key order is right: plain objects.
  const v1Files: object[] = [];
  const pieces: Uint8Array[] = [];
  const layers: Entry[] = [];
  const seenRoots = new Set<string>();
  for (const f of files) {
    const h = hashOf.get(f);
    const treePath = walked.singleFile ? [displayName] : f.path;
    let node = tree;
    for (const part of treePath) {
      let child = node.children.get(part);
      if (!child) node.children.set(part, (child = { children: new Map() }));
      node = child;
    }
    // bencode skips undefined values: no attr unless executable, no pieces root for an empty file.
    node.leaf = enc({ '': { attr: f.executable ? 'x' : undefined, length: f.length, 'pieces root': h?.piecesRoot } });

    if (h) {
      pieces.push(h.pieces);
      if (f.length > pieceLength) {
        const rootHex = Buffer.from(h.piecesRoot!).toString('hex');
        if (!seenRoots.has(rootHex)) {
          seenRoots.add(rootHex);
          layers.push([h.piecesRoot!, enc(h.pieceLayer)]);
        }
      }
    }
    if (!walked.singleFile) {
      v1Files.push({ attr: f.executable ? 'x' : undefined, length: f.length, path: f.path });
      const tail = f.length % pieceLength;
      // libtorrent 2.0.8 pads every file but a folder's only file (its tail padding needs two files or more).
      if (tail !== 0 && files.length > 1) {
        const pad = pieceLength - tail;
        v1Files.push({ attr: 'p', length: pad, path: ['.pad', String(pad)] });
      }
    }
  }
  let piecesBytes = Buffer.concat(pieces);
  if (files.length === 1) {
    // No pad file after a lone file (single-file torrent, or a folder of one file): its short last piece is
    // hashed as is.
    const last = hashes[0]?.lastPieceUnpadded;
    if (last) {
      piecesBytes = Buffer.from(piecesBytes);
      Buffer.from(last).copy(piecesBytes, piecesBytes.length - 20);
    }
  }

  const infoBytes = dict([
    [key('file tree'), encodeTree(tree)],
    [key('meta version'), enc(2)],
    ...v1Info(walked, displayName, pieceLength, piecesBytes, v1Files, options),
  ]);

  // Always present, empty when no file exceeds one piece: libtorrent writes it so, and some readers want the key.
  return finish(infoBytes, [[key('piece layers'), dict(layers)]], walked, displayName, pieceLength, piecesBytes, {
    ...options,
    v1Only: false,
  });
}

type Walked = Awaited<ReturnType<typeof walk>>;

/** The v1 keys of info, a hybrid's and a v1-only torrent's alike: name, pieces, and the one file's `length` or the
 *  `files` list (`v1Files`, pad files included in a hybrid); `private` and `source` when asked for. */
function v1Info(
  walked: Walked,
  displayName: string,
  pieceLength: number,
  piecesBytes: Uint8Array,
  v1Files: object[],
  options: CreateOptions,
): Entry[] {
  const files = walked.files;
  const info: Entry[] = [
    [key('name'), enc(displayName)],
    [key('piece length'), enc(pieceLength)],
    [key('pieces'), enc(piecesBytes)],
  ];
  if (walked.singleFile) {
    info.push([key('length'), enc(files[0].length)]);
    // libtorrent repeats a single file's attributes at the top of info (BEP 47 allows `attr` there).
    if (files[0].executable) info.push([key('attr'), enc('x')]);
  } else info.push([key('files'), enc(v1Files)]);
  if (options.private) info.push([key('private'), enc(1)]);
  if (options.source) info.push([key('source'), enc(options.source)]);
  return info;
}

/** The .torrent around `infoBytes`: trackers, web seeds and the other keys outside info; hashes and magnet. */
function finish(
  infoBytes: Buffer,
  extraTop: Entry[],
  walked: Walked,
  displayName: string,
  pieceLength: number,
  piecesBytes: Uint8Array,
  options: CreateOptions,
): CreatedTorrent {
  const trackers = options.trackers ?? [];
  const webSeeds = options.webSeeds ?? [];
  const top: Entry[] = [[key('info'), infoBytes], ...extraTop];
  if (trackers.length) top.push([key('announce'), enc(trackers[0])]);
  if (trackers.length > 1) top.push([key('announce-list'), enc(trackers.map((t) => [t]))]);
  if (webSeeds.length) top.push([key('url-list'), enc(webSeeds)]);
  if (options.comment) top.push([key('comment'), enc(options.comment)]);
  if (options.createdBy) top.push([key('created by'), enc(options.createdBy)]);
  if (options.creationDate !== undefined) top.push([key('creation date'), enc(Math.floor(options.creationDate))]);
  const torrentBytes = dict(top);
  // The info dictionary sits in torrentBytes verbatim; hand out that slice.
  let infoStart = -1;
  do infoStart = torrentBytes.indexOf('4:infod', infoStart + 1);
  while (!torrentBytes.subarray(infoStart + 6, infoStart + 6 + infoBytes.length).equals(infoBytes));
  const infoSlice = torrentBytes.subarray(infoStart + 6, infoStart + 6 + infoBytes.length);

  const infoHashV1 = crypto.createHash('sha1').update(infoBytes).digest('hex');
  const infoHashV2 = options.v1Only ? undefined : crypto.createHash('sha256').update(infoBytes).digest('hex');
  const files = walked.files;
  return {
    name: displayName,
    torrentBytes,
    infoBytes: infoSlice,
    infoHashV1,
    infoHashV2,
    magnet: buildMagnet({ infoHashV1, infoHashV2, name: displayName, trackers, webSeeds }),
    pieceLength,
    pieceCount: piecesBytes.length / 20,
    length: files.reduce((n, f) => n + f.length, 0),
    singleFile: walked.singleFile,
    files: files.map((f) => ({ path: walked.singleFile ? [displayName] : f.path, length: f.length })),
    skipped: walked.skipped,
  };
}

/** A v1-only torrent: pieces over the files' concatenated bytes, hashed in the worker pool as spans. */
async function createV1Only(
  walked: Walked,
  displayName: string,
  pieceLength: number,
  length: number,
  pool: HashPool,
  options: CreateOptions,
): Promise<CreatedTorrent> {
  const files = walked.files;
  const pieceCount = Math.ceil(length / pieceLength);
  const perTask = Math.max(1, Math.floor(SPAN_BYTES / pieceLength));
  const tasks: { pieceLength: number; segments: { path: string; position: number; length: number }[] }[] = [];
  let k = 0;
  let fileStart = 0; // stream offset of files[k]
  for (let first = 0; first < pieceCount; first += perTask) {
    const start = first * pieceLength;
    const end = Math.min(length, (first + perTask) * pieceLength);
    const segments: (typeof tasks)[number]['segments'] = [];
    while (k < files.length && fileStart + files[k].length <= start) fileStart += files[k++].length;
    for (let i = k, off = fileStart; i < files.length && off < end; off += files[i++].length) {
      const from = Math.max(start, off);
      const to = Math.min(end, off + files[i].length);
      if (to > from) segments.push({ path: files[i].absPath, position: from - off, length: to - from });
    }
    tasks.push({ pieceLength, segments });
  }
  const sums = await pool.hashSpans(tasks, { signal: options.signal, onProgress: options.onProgress });
  options.signal?.throwIfAborted();
  const piecesBytes = Buffer.concat(sums);

  const v1Files = files.map((f) => ({ attr: f.executable ? 'x' : undefined, length: f.length, path: f.path }));
  const info = v1Info(walked, displayName, pieceLength, piecesBytes, v1Files, options);
  return finish(dict(info), [], walked, displayName, pieceLength, piecesBytes, options);
}
