// BEP 52 hash messages on a bittorrent-protocol Wire: hash request (21), hashes (22), hash reject (23).
//
//   hash request / hash reject: <pieces root:32><base:u32><index:u32><length:u32><proof layers:u32>
//   hashes:                     the same header, then `length` base-layer hashes and the uncle hashes
//
// We answer from the piece layers we hold (`piece layers` of our .torrent, or hashes a peer proved), the way
// libtorrent's bt_peer_connection::on_hash_request does: a request it would not validate, for a file we do not know,
// or below the piece layer (block hashes: we keep no leaf layer) gets a hash reject, never an exception. What a peer
// can make us do is bounded: a tree is built once per file (O(pieces) hashes) and cached, an answer copies at most
// 8192 + 32 hashes, and a peer gets at most HASH_REQUEST_BUDGET answers per minute (then rejects).
//
// bittorrent-protocol 5.0.9 emits message ids it does not know as 'unknownmessage' (the whole payload, id first),
// so receiving needs no patch; sending uses Wire#_message (private; guarded by test/unit/engine/v2-handshake.test.ts).
import { sendRawMessage } from './internals.js';
import {
  BLOCK_SIZE,
  HASH_SIZE,
  PieceTree,
  leafCountFor,
  merkleRoot,
  sha256,
  uncleCount,
  validHashRequest,
  verifyHashes,
} from '../torrent/merkle.js';
import type { ParsedTorrent, TorrentFile } from '../torrent/types.js';

export const MSG_HASH_REQUEST = 21;
export const MSG_HASHES = 22;
export const MSG_HASH_REJECT = 23;
const HEADER = 1 + HASH_SIZE + 16;

/** Answers one peer may get per minute; more are rejected (a peer needs ~1 per 512 pieces per file). */
export const HASH_REQUEST_BUDGET = 512;
/** Block-hash answers (each reads and hashes one piece from disk) one peer may get per minute, one at a time. */
export const BLOCK_HASH_BUDGET = 64;

/** Reads `length` bytes at `offset` of the torrent's piece stream. */
export type ReadData = (offset: number, length: number) => Promise<Uint8Array>;

export interface HashRequest {
  root: Uint8Array;
  base: number;
  index: number;
  count: number;
  proofLayers: number;
}

export type HashMessage =
  | ({ type: 'request' } & HashRequest)
  | ({ type: 'reject' } & HashRequest)
  | ({ type: 'hashes'; hashes: Uint8Array } & HashRequest);

/** The payload of a hash message (id byte first, no length prefix), as Wire#_message sends it after the id. */
export function encodeHashMessage(m: HashMessage): Uint8Array {
  const extra = m.type === 'hashes' ? m.hashes.length : 0;
  const out = Buffer.alloc(HEADER + extra);
  out[0] = m.type === 'request' ? MSG_HASH_REQUEST : m.type === 'hashes' ? MSG_HASHES : MSG_HASH_REJECT;
  out.set(m.root.subarray(0, HASH_SIZE), 1);
  out.writeUInt32BE(m.base, 33);
  out.writeUInt32BE(m.index, 37);
  out.writeUInt32BE(m.count, 41);
  out.writeUInt32BE(m.proofLayers, 45);
  if (m.type === 'hashes') out.set(m.hashes, HEADER);
  return out;
}

/** Decodes a hash message payload (id byte first); undefined when it is not one or is malformed. */
export function decodeHashMessage(buf: Uint8Array): HashMessage | undefined {
  const id = buf[0];
  if (id !== MSG_HASH_REQUEST && id !== MSG_HASHES && id !== MSG_HASH_REJECT) return undefined;
  if (buf.length < HEADER) return undefined;
  if (id !== MSG_HASHES && buf.length !== HEADER) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const req: HashRequest = {
    root: Uint8Array.from(b.subarray(1, 33)),
    base: b.readUInt32BE(33),
    index: b.readUInt32BE(37),
    count: b.readUInt32BE(41),
    proofLayers: b.readUInt32BE(45),
  };
  if (id === MSG_HASH_REQUEST) return { type: 'request', ...req };
  if (id === MSG_HASH_REJECT) return { type: 'reject', ...req };
  const hashes = Uint8Array.from(b.subarray(HEADER));
  if (hashes.length % HASH_SIZE !== 0) return undefined;
  return { type: 'hashes', ...req, hashes };
}

/** The piece trees of one torrent's files, keyed by hex pieces root, built on first use. */
export class TorrentHashes {
  private readonly trees = new Map<string, PieceTree | null>();
  private readonly files = new Map<string, number>();

  constructor(private readonly parsed: ParsedTorrent) {
    for (const f of parsed.files) if (f.piecesRoot && !f.pad) this.files.set(hex(f.piecesRoot), f.length);
  }

  /** The file's length, when `root` is one of this torrent's pieces roots. */
  fileLength(root: Uint8Array): number | undefined {
    return this.files.get(hex(root));
  }

  /** True when we hold (or proved) the piece layer of every file larger than one piece. */
  get complete(): boolean {
    for (const [root, length] of this.files) {
      if (length > this.parsed.pieceLength && !this.parsed.pieceLayers?.has(root)) return false;
    }
    return true;
  }

  /** Files larger than one piece whose layer we lack: [root, length]. */
  missing(): [Uint8Array, number][] {
    const out: [Uint8Array, number][] = [];
    for (const [root, length] of this.files) {
      if (length > this.parsed.pieceLength && !this.parsed.pieceLayers?.has(root)) {
        out.push([Buffer.from(root, 'hex'), length]);
      }
    }
    return out;
  }

  /** @internal */
  tree(root: Uint8Array): PieceTree | undefined {
    const key = hex(root);
    const cached = this.trees.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const length = this.files.get(key);
    const layer = this.parsed.pieceLayers?.get(key);
    let tree: PieceTree | null = null;
    if (length !== undefined && layer && length > this.parsed.pieceLength) {
      try {
        tree = new PieceTree(length, this.parsed.pieceLength, layer);
      } catch {
        tree = null;
      }
    }
    if (tree || layer) this.trees.set(key, tree); // an unknown layer may still arrive: do not cache its absence
    return tree ?? undefined;
  }

  /** The v2 file holding piece `index` of the piece stream, with the piece's index inside that file. */
  pieceFile(index: number): { file: TorrentFile; local: number } | undefined {
    const at = index * this.parsed.pieceLength;
    const file = this.parsed.files.find((f) => !f.pad && f.piecesRoot && f.offset <= at && at < f.offset + f.length);
    return file && { file, local: (at - file.offset) / this.parsed.pieceLength };
  }

  /** How much of piece `index` is v2 file data (its leaves are hashed as it arrives: request.ts), and whether that
   *  file is at most one piece long (its tree is then only as wide as its leaves). */
  pieceShape(index: number): { v2Bytes: number; smallFile: boolean } | undefined {
    const where = this.pieceFile(index);
    if (!where) return undefined;
    const { file, local } = where;
    const pl = this.parsed.pieceLength;
    return { v2Bytes: Math.min(pl, file.length - local * pl), smallFile: file.length <= pl };
  }

  /** The piece-layer node piece `index` must hash to, when known (a magnet's layers may come later). */
  expectedNode(index: number): Buffer | undefined {
    const where = this.pieceFile(index);
    return where && this.pieceNode(where.file, where.local);
  }

  /** The piece-layer node of a file's piece (the root itself for a file of one piece or less). */
  private pieceNode(file: TorrentFile, local: number): Buffer | undefined {
    if (file.length <= this.parsed.pieceLength) return local === 0 ? Buffer.from(file.piecesRoot!) : undefined;
    const layer = this.parsed.pieceLayers?.get(hex(file.piecesRoot!));
    if (!layer || (local + 1) * HASH_SIZE > layer.length) return undefined;
    return Buffer.from(layer.subarray(local * HASH_SIZE, (local + 1) * HASH_SIZE));
  }

  /** The leaves (16 KiB block hashes) of one piece: their base-0 request, answerable without uncles. */
  blockRequest(index: number): HashRequest | undefined {
    const where = this.pieceFile(index);
    if (!where) return undefined;
    const count = Math.min(this.parsed.pieceLength / BLOCK_SIZE, leafCountFor(where.file.length));
    if (count < 2) return undefined; // one block per piece: the piece check already names the block
    if (!this.pieceNode(where.file, where.local)) return undefined; // no layer: an answer could not be proven
    return {
      root: where.file.piecesRoot!,
      base: 0,
      index: where.local * count,
      count,
      proofLayers: Math.log2(count) - 1,
    };
  }

  /** A hashes answer to blockRequest(): the piece's leaves if they reduce to its piece-layer node, else undefined. */
  provenLeaves(m: HashRequest & { hashes: Uint8Array }): Buffer | undefined {
    const length = this.fileLength(m.root);
    if (length === undefined || m.base !== 0 || m.count < 2 || m.index % m.count !== 0) return undefined;
    if (uncleCount(m.count, m.proofLayers) !== 0 || m.hashes.length !== m.count * HASH_SIZE) return undefined;
    if (!validHashRequest(m, leafCountFor(length))) return undefined;
    const file = this.parsed.files.find((f) => f.piecesRoot && hex(f.piecesRoot) === hex(m.root))!;
    const node = this.pieceNode(file, (m.index * BLOCK_SIZE) / this.parsed.pieceLength);
    if (!node || !merkleRoot(m.hashes, m.count, 0).equals(node)) return undefined;
    return Buffer.from(m.hashes);
  }

  /**
   * Block hashes (base 0) for exactly one piece, from the data on disk, checked against the piece layer before
   * they are sent (data that changed under a seed is never vouched for). Uncles come from the piece tree.
   */
  async blockAnswer(req: HashRequest, read: ReadData): Promise<Uint8Array | undefined> {
    const length = this.fileLength(req.root);
    if (length === undefined || length === 0 || req.base !== 0) return undefined;
    const leafCount = leafCountFor(length);
    const perPiece = Math.min(this.parsed.pieceLength / BLOCK_SIZE, leafCount);
    if (!validHashRequest(req, leafCount) || req.count !== perPiece || req.index % perPiece !== 0) return undefined;
    const file = this.parsed.files.find((f) => f.piecesRoot && hex(f.piecesRoot) === hex(req.root))!;
    const local = (req.index * BLOCK_SIZE) / this.parsed.pieceLength;
    const node = this.pieceNode(file, local);
    const uncles = uncleCount(req.count, req.proofLayers);
    const tree = uncles ? this.tree(req.root) : undefined;
    if (!node || (uncles && !tree)) return undefined;
    const start = req.index * BLOCK_SIZE;
    const data = await read(file.offset + start, Math.min(req.count * BLOCK_SIZE, length - start));
    const out = Buffer.alloc((req.count + uncles) * HASH_SIZE); // pad leaves: 32 zero bytes
    for (let b = 0; b * BLOCK_SIZE < data.length; b++) {
      sha256(data.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)).copy(out, b * HASH_SIZE);
    }
    if (!merkleRoot(out.subarray(0, req.count * HASH_SIZE), req.count, 0).equals(node)) return undefined;
    let level = Math.log2(req.count);
    let pos = req.index / req.count;
    for (let u = 0; u < uncles; u++, level++, pos >>= 1) {
      tree!.node(level, pos ^ 1).copy(out, (req.count + u) * HASH_SIZE);
    }
    return out;
  }

  /** The answer to a request, or undefined for a hash reject. Never throws on peer input. */
  answer(req: HashRequest): Uint8Array | undefined {
    const length = this.fileLength(req.root);
    if (length === undefined || length === 0) return undefined;
    if (!validHashRequest(req, leafCountFor(length))) return undefined;
    return this.tree(req.root)?.hashes(req.base, req.index, req.count, req.proofLayers);
  }

  /**
   * A hashes answer to our request for a whole piece layer: checked against the file's root, then kept as the
   * file's piece layer (in `parsed.pieceLayers`, so it is served on and used to check blocks). True when adopted.
   */
  adoptLayer(msg: HashRequest & { hashes: Uint8Array }): boolean {
    const length = this.fileLength(msg.root);
    if (length === undefined || length <= this.parsed.pieceLength) return false;
    const leafCount = leafCountFor(length);
    if (!verifyHashes(msg.root, leafCount, msg, msg.hashes)) return false;
    const pieces = Math.ceil(length / this.parsed.pieceLength);
    const pieceLevel = Math.log2(this.parsed.pieceLength / 16384);
    if (msg.base !== pieceLevel || msg.index !== 0 || msg.count < pieces) return false;
    const layer = Uint8Array.from(msg.hashes.subarray(0, pieces * HASH_SIZE));
    this.parsed.pieceLayers ??= new Map();
    this.parsed.pieceLayers.set(hex(msg.root), layer);
    this.trees.delete(hex(msg.root));
    return true;
  }
}

/** The request that fetches a whole piece layer with its proof up to the root (count: pieces padded to 2^k). */
export function layerRequest(root: Uint8Array, length: number, pieceLength: number): HashRequest {
  const leafCount = leafCountFor(length);
  const pieceLevel = Math.log2(pieceLength / 16384);
  const width = leafCount >> pieceLevel;
  const height = Math.log2(leafCount);
  return { root, base: pieceLevel, index: 0, count: width, proofLayers: height - pieceLevel - 1 };
}

/** The parts of a bittorrent-protocol Wire used here. */
interface HashWire {
  on(event: 'unknownmessage', fn: (buf: Uint8Array) => void): void;
  destroyed?: boolean;
}

function send(wire: HashWire, m: HashMessage): void {
  if (wire.destroyed) return;
  const payload = encodeHashMessage(m);
  sendRawMessage(wire, payload[0], payload.subarray(1));
}

/**
 * Serves hash requests on `wire` from `hashes()` (undefined until the torrent's metadata is known), and hands
 * hashes answers to `onHashes`. Malformed messages are ignored; over-budget and unanswerable requests rejected.
 */
export function serveHashes(
  wire: HashWire,
  hashes: () => TorrentHashes | undefined,
  onHashes?: (m: HashRequest & { hashes: Uint8Array }) => void,
  onReject?: (m: HashRequest) => void,
  read?: () => ReadData | undefined,
): void {
  let windowStart = Date.now();
  let answered = 0;
  let blockAnswers = 0;
  let blockBusy = false;
  wire.on('unknownmessage', (buf: Uint8Array) => {
    let msg: HashMessage | undefined;
    try {
      msg = decodeHashMessage(buf);
    } catch {
      msg = undefined;
    }
    if (!msg) return;
    if (msg.type === 'hashes') return onHashes?.(msg);
    if (msg.type === 'reject') return onReject?.(msg);
    const now = Date.now();
    if (now - windowStart > 60_000) {
      windowStart = now;
      answered = 0;
      blockAnswers = 0;
    }
    const { type: _type, ...req } = msg;
    const trees = hashes();
    const reader = read?.();
    if (req.base === 0 && trees && reader && req.count > 1) {
      // Block hashes: read and hash one piece, one request at a time per peer.
      if (blockBusy || blockAnswers >= BLOCK_HASH_BUDGET) return send(wire, { ...req, type: 'reject' });
      blockBusy = true;
      blockAnswers++;
      trees
        .blockAnswer(req, reader)
        .catch(() => undefined)
        .then((out) => {
          blockBusy = false;
          send(wire, out ? { ...req, type: 'hashes', hashes: out } : { ...req, type: 'reject' });
        });
      return;
    }
    const answer = answered < HASH_REQUEST_BUDGET ? trees?.answer(req) : undefined;
    if (answer) {
      answered++;
      send(wire, { ...req, type: 'hashes', hashes: answer });
    } else send(wire, { ...req, type: 'reject' });
  });
}

/** Asks `wire` for a piece layer. */
export function requestHashes(wire: HashWire, req: HashRequest): void {
  send(wire, { ...req, type: 'request' });
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}
