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
import { HASH_SIZE, PieceTree, leafCountFor, validHashRequest, verifyHashes } from '../torrent/merkle.js';
import type { ParsedTorrent } from '../torrent/types.js';

export const MSG_HASH_REQUEST = 21;
export const MSG_HASHES = 22;
export const MSG_HASH_REJECT = 23;
const HEADER = 1 + HASH_SIZE + 16;

/** Answers one peer may get per minute; more are rejected (a peer needs ~1 per 512 pieces per file). */
export const HASH_REQUEST_BUDGET = 512;

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

  private tree(root: Uint8Array): PieceTree | undefined {
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
  _message(id: number, numbers: number[], data: Uint8Array | null): void;
  destroyed?: boolean;
}

function send(wire: HashWire, m: HashMessage): void {
  if (wire.destroyed) return;
  const payload = encodeHashMessage(m);
  wire._message(payload[0], [], payload.subarray(1));
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
): void {
  let windowStart = Date.now();
  let answered = 0;
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
    }
    const { type: _type, ...req } = msg;
    const answer = answered < HASH_REQUEST_BUDGET ? hashes()?.answer(req) : undefined;
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
